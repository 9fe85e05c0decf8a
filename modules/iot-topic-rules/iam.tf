# One IAM role per rule that has an action needing one (every kind but lambda), allowed
# exactly the actions and resources that rule's actions (and its error action) use.
# Policies are built with jsonencode, not aws_iam_policy_document, so they are plain
# values: deterministic under mock providers and readable in `terraform plan`.

locals {
  # Every target of a kind that a rule writes to with its role: its actions plus its error
  # action (the module-wide one included).
  targets = { for k, a in local.actions : k => {
    for kind, def in local.action_kinds : kind => concat(
      a[kind],
      [for e in [try(local.error_actions[k][kind], null)] : e if e != null],
    ) if def.role
  } }

  # Decided from the configuration's shape only, so for_each keys are known at plan time.
  needs_role = { for k, t in local.targets : k => anytrue([for kind, list in t : length(list) > 0]) }

  # A target holding a substitution template (`$${...}`) names a resource that the message
  # chooses; such actions grant exactly their `iam_resources`, nothing computed (the
  # validations in variables.tf refuse templates without them).

  role_statements = { for k, t in local.targets : k => [for s in [
    {
      Sid      = "Republish"
      Effect   = "Allow"
      Action   = ["iot:Publish"]
      Resource = distinct(flatten([for a in t.republish : can(regex("[$][{]", a.topic)) ? a.iam_resources : [local.republish_iam_resource[a.topic]]]))
    },
    {
      Sid    = "SqsSendMessage"
      Effect = "Allow"
      Action = ["sqs:SendMessage"]
      Resource = distinct([for a in t.sqs : a.queue_arn != null ? a.queue_arn : format(
        "%s:sqs:%s:%s:%s", local.arn_prefix,
        regex("^https://sqs\\.([a-z0-9-]+)\\.", a.queue_url)[0],
        regex("/([0-9]{12})/([^/]+)$", a.queue_url)[0],
        regex("/([0-9]{12})/([^/]+)$", a.queue_url)[1],
      )])
    },
    {
      Sid      = "SnsPublish"
      Effect   = "Allow"
      Action   = ["sns:Publish"]
      Resource = distinct([for a in t.sns : a.target_arn])
    },
    {
      Sid      = "DynamodbPutItem"
      Effect   = "Allow"
      Action   = ["dynamodb:PutItem"]
      Resource = distinct(flatten([for a in t.dynamodbv2 : can(regex("[$][{]", a.table_name)) ? a.iam_resources : ["${local.arn_prefix}:dynamodb:${local.region}:${local.account_id}:table/${a.table_name}"]]))
    },
    {
      Sid      = "KinesisPutRecord"
      Effect   = "Allow"
      Action   = ["kinesis:PutRecord"]
      Resource = distinct([for a in t.kinesis : "${local.arn_prefix}:kinesis:${local.region}:${local.account_id}:stream/${a.stream_name}"])
    },
    {
      Sid      = "FirehosePutRecord"
      Effect   = "Allow"
      Action   = anytrue([for a in t.firehose : a.batch_mode == true]) ? ["firehose:PutRecord", "firehose:PutRecordBatch"] : ["firehose:PutRecord"]
      Resource = distinct([for a in t.firehose : "${local.arn_prefix}:firehose:${local.region}:${local.account_id}:deliverystream/${a.delivery_stream_name}"])
    },
    {
      Sid      = "S3PutObject"
      Effect   = "Allow"
      Action   = anytrue([for a in t.s3 : a.canned_acl != null]) ? ["s3:PutObject", "s3:PutObjectAcl"] : ["s3:PutObject"]
      Resource = distinct(flatten([for a in t.s3 : can(regex("[$][{]", "${a.bucket_name}/${a.key}")) ? a.iam_resources : ["${local.arn_prefix}:s3:::${a.bucket_name}/${a.key}"]]))
    },
    {
      Sid      = "CloudwatchLogs"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
      Resource = distinct([for a in t.cloudwatch_logs : "${local.arn_prefix}:logs:${local.region}:${local.account_id}:log-group:${a.log_group_name}:*"])
    },
  ] : s if length(s.Resource) > 0] }
}

resource "aws_iam_role" "this" {
  for_each = { for k, needed in local.needs_role : k => local.rule_names[k] if needed }

  # Role names are at most 64 characters and rule names up to 128: a unique suffix is added.
  name_prefix = substr("${each.value}-", 0, 38)
  description = "IoT topic rule ${each.value}: only the actions and resources of its actions"
  tags        = var.tags

  # Confused-deputy guard: only IoT, only for this rule in this account.
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "iot.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnEquals    = { "aws:SourceArn" = local.rule_arns[each.key] }
      }
    }]
  })
}

resource "aws_iam_role_policy" "this" {
  for_each = aws_iam_role.this

  name = "iot-rule-actions"
  role = each.value.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = local.role_statements[each.key]
  })
}
