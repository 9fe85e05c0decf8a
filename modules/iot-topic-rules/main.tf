data "aws_caller_identity" "current" {
  count = var.account_id == null ? 1 : 0
}

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = var.account_id != null ? var.account_id : one(data.aws_caller_identity.current[*].account_id)
  # `id` is the region name in hashicorp/aws 5 and 6 (`name` is deprecated in 6).
  region     = data.aws_region.current.id
  partition  = data.aws_partition.current.partition
  arn_prefix = "arn:${local.partition}"

  # Rule names: `<prefix>_<key>`, 1..128 of [a-zA-Z0-9_] (docs/rules-engine.md#names-and-sql).
  rule_names = { for k, r in var.rules : k => var.name_prefix == "" ? k : "${var.name_prefix}_${k}" }
  # Built, not read from the rule resource: the role's trust policy needs it before the rule
  # exists (the rule refers to the role).
  rule_arns = { for k, name in local.rule_names : k => "${local.arn_prefix}:iot:${local.region}:${local.account_id}:rule/${name}" }

  error_log_group_name = coalesce(var.error_log_group.name, var.name_prefix == "" ? "/iotws/rule-errors" : "/iotws/${var.name_prefix}/rule-errors")

  # Every rule-action kind, once. Everything per kind below, in iam.tf and in the validations
  # of variables.tf is derived from this map with `for` expressions; only the kinds' object
  # types (variables.tf) and their `dynamic` blocks (below) are spelled one by one, because
  # Terraform cannot compute a type or a block name.
  # - role: IoT runs the action with the rule's role (every kind but lambda, which uses a
  #   resource-based permission: lambda-permissions.tf);
  # - fields: the attributes that name the target (checked for substitution templates);
  # - iam: where a substitution template may choose the target, the ARN service and
  #   resource type its `iam_resources` must name; null where templates are refused.
  action_kinds = {
    lambda          = { role = false, fields = ["function_arn"], iam = null }
    republish       = { role = true, fields = ["topic"], iam = { service = "iot", type = "topic/" } }
    sqs             = { role = true, fields = ["queue_url", "queue_arn"], iam = null }
    sns             = { role = true, fields = ["target_arn"], iam = null }
    dynamodbv2      = { role = true, fields = ["table_name"], iam = { service = "dynamodb", type = "table/" } }
    kinesis         = { role = true, fields = ["stream_name"], iam = null }
    firehose        = { role = true, fields = ["delivery_stream_name"], iam = null }
    s3              = { role = true, fields = ["bucket_name", "key"], iam = { service = "s3", type = "" } }
    cloudwatch_logs = { role = true, fields = ["log_group_name"], iam = null }
  }

  # The module-wide error action has the same shape as a rule's `error_action`.
  default_error_action = var.error_log_group.enabled ? merge(
    { for kind, _ in local.action_kinds : kind => null },
    { cloudwatch_logs = { log_group_name = local.error_log_group_name, batch_mode = null } },
  ) : null

  error_actions = { for k, r in var.rules : k => r.error_action != null ? r.error_action : local.default_error_action }

  # Per rule: every action of a kind, as a list (empty when the rule has none).
  actions = { for k, r in var.rules : k => { for kind, _ in local.action_kinds : kind => coalesce(r[kind], []) } }

  # Republish topics: the user writes the real topic. A reserved topic (`$aws/...`) is written
  # with `$$` in the action (docs/rules-engine.md#republish); a topic already written with `$$` is kept.
  # A leading `${` is a substitution template, not a reserved topic.
  republish_action_topic = { for t in distinct(flatten([
    for k, r in var.rules : concat(
      [for a in local.actions[k].republish : a.topic],
      try(local.error_actions[k].republish != null ? [local.error_actions[k].republish.topic] : [], []),
    )
    ])) : t => (
    # `$` followed by anything but `$` or `{`: a reserved topic written the plain way.
    can(regex("^\\$[^$\\{]", t)) ? format("$%s", t) : t
  ) }

  # IAM resources of literal republish topics. Templated topics (`${topic(3)}`) never get a
  # computed resource: they grant exactly their `iam_resources` (see variables.tf).
  republish_iam_resource = { for t, action_topic in local.republish_action_topic : t => format(
    "%s:iot:%s:%s:topic/%s", local.arn_prefix, local.region, local.account_id,
    startswith(action_topic, "$$") ? substr(action_topic, 1, -1) : action_topic,
  ) }
}

resource "aws_cloudwatch_log_group" "errors" {
  # checkov:skip=CKV_AWS_158: KMS is optional (error_log_group.kms_key_arn); without it CloudWatch Logs encrypts at rest with its own keys.
  count = var.error_log_group.enabled && var.error_log_group.create ? 1 : 0

  name              = local.error_log_group_name
  retention_in_days = var.error_log_group.retention_in_days
  kms_key_id        = var.error_log_group.kms_key_arn
  tags              = var.tags
}

resource "aws_iot_topic_rule" "this" {
  for_each = var.rules

  name        = local.rule_names[each.key]
  description = each.value.description
  enabled     = each.value.enabled
  sql         = each.value.sql
  sql_version = each.value.sql_version
  tags        = var.tags

  dynamic "lambda" {
    for_each = local.actions[each.key].lambda
    content {
      function_arn = lambda.value.function_arn
    }
  }

  dynamic "republish" {
    for_each = local.actions[each.key].republish
    content {
      topic    = local.republish_action_topic[republish.value.topic]
      qos      = republish.value.qos
      role_arn = aws_iam_role.this[each.key].arn
    }
  }

  dynamic "sqs" {
    for_each = local.actions[each.key].sqs
    content {
      queue_url  = sqs.value.queue_url
      use_base64 = sqs.value.use_base64
      role_arn   = aws_iam_role.this[each.key].arn
    }
  }

  dynamic "sns" {
    for_each = local.actions[each.key].sns
    content {
      target_arn     = sns.value.target_arn
      message_format = sns.value.message_format
      role_arn       = aws_iam_role.this[each.key].arn
    }
  }

  dynamic "dynamodbv2" {
    for_each = local.actions[each.key].dynamodbv2
    content {
      put_item {
        table_name = dynamodbv2.value.table_name
      }
      role_arn = aws_iam_role.this[each.key].arn
    }
  }

  dynamic "kinesis" {
    for_each = local.actions[each.key].kinesis
    content {
      stream_name   = kinesis.value.stream_name
      partition_key = kinesis.value.partition_key
      role_arn      = aws_iam_role.this[each.key].arn
    }
  }

  dynamic "firehose" {
    for_each = local.actions[each.key].firehose
    content {
      delivery_stream_name = firehose.value.delivery_stream_name
      separator            = firehose.value.separator
      batch_mode           = firehose.value.batch_mode
      role_arn             = aws_iam_role.this[each.key].arn
    }
  }

  dynamic "s3" {
    for_each = local.actions[each.key].s3
    content {
      bucket_name = s3.value.bucket_name
      key         = s3.value.key
      canned_acl  = s3.value.canned_acl
      role_arn    = aws_iam_role.this[each.key].arn
    }
  }

  dynamic "cloudwatch_logs" {
    for_each = local.actions[each.key].cloudwatch_logs
    content {
      log_group_name = cloudwatch_logs.value.log_group_name
      batch_mode     = cloudwatch_logs.value.batch_mode
      role_arn       = aws_iam_role.this[each.key].arn
    }
  }

  dynamic "error_action" {
    for_each = local.error_actions[each.key] == null ? [] : [local.error_actions[each.key]]
    iterator = ea
    content {
      dynamic "lambda" {
        for_each = ea.value.lambda == null ? [] : [ea.value.lambda]
        content {
          function_arn = lambda.value.function_arn
        }
      }
      dynamic "republish" {
        for_each = ea.value.republish == null ? [] : [ea.value.republish]
        content {
          topic    = local.republish_action_topic[republish.value.topic]
          qos      = republish.value.qos
          role_arn = aws_iam_role.this[each.key].arn
        }
      }
      dynamic "sqs" {
        for_each = ea.value.sqs == null ? [] : [ea.value.sqs]
        content {
          queue_url  = sqs.value.queue_url
          use_base64 = sqs.value.use_base64
          role_arn   = aws_iam_role.this[each.key].arn
        }
      }
      dynamic "sns" {
        for_each = ea.value.sns == null ? [] : [ea.value.sns]
        content {
          target_arn     = sns.value.target_arn
          message_format = sns.value.message_format
          role_arn       = aws_iam_role.this[each.key].arn
        }
      }
      dynamic "dynamodbv2" {
        for_each = ea.value.dynamodbv2 == null ? [] : [ea.value.dynamodbv2]
        content {
          put_item {
            table_name = dynamodbv2.value.table_name
          }
          role_arn = aws_iam_role.this[each.key].arn
        }
      }
      dynamic "kinesis" {
        for_each = ea.value.kinesis == null ? [] : [ea.value.kinesis]
        content {
          stream_name   = kinesis.value.stream_name
          partition_key = kinesis.value.partition_key
          role_arn      = aws_iam_role.this[each.key].arn
        }
      }
      dynamic "firehose" {
        for_each = ea.value.firehose == null ? [] : [ea.value.firehose]
        content {
          delivery_stream_name = firehose.value.delivery_stream_name
          separator            = firehose.value.separator
          batch_mode           = firehose.value.batch_mode
          role_arn             = aws_iam_role.this[each.key].arn
        }
      }
      dynamic "s3" {
        for_each = ea.value.s3 == null ? [] : [ea.value.s3]
        content {
          bucket_name = s3.value.bucket_name
          key         = s3.value.key
          canned_acl  = s3.value.canned_acl
          role_arn    = aws_iam_role.this[each.key].arn
        }
      }
      dynamic "cloudwatch_logs" {
        for_each = ea.value.cloudwatch_logs == null ? [] : [ea.value.cloudwatch_logs]
        content {
          log_group_name = cloudwatch_logs.value.log_group_name
          batch_mode     = cloudwatch_logs.value.batch_mode
          role_arn       = aws_iam_role.this[each.key].arn
        }
      }
    }
  }

  lifecycle {
    precondition {
      condition     = length(local.rule_names[each.key]) <= 128
      error_message = "Rule name \"${local.rule_names[each.key]}\" is ${length(local.rule_names[each.key])} characters; IoT allows at most 128. Shorten name_prefix or the rule key."
    }
  }

  # A log group the module creates must exist before a rule can fail into it.
  depends_on = [aws_cloudwatch_log_group.errors]
}
