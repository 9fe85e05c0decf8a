# The two backend Lambdas (lambda_src/chat_message, lambda_src/presence, zipped as they are
# by `make package EXAMPLE=chat`) and the presence table.

locals {
  table_name = "${local.base}-presence"

  functions = {
    chat_message = {
      name        = "${local.base}-chat-message"
      description = "iotws chat: checks a room message and publishes it to the room"
      # A chat message older than a minute is no longer worth delivering.
      max_event_age = 60
      environment = {
        TOPIC_PREFIX      = local.prefix
        IOT_DATA_ENDPOINT = "https://${module.authorizer.endpoint}"
      }
    }
    presence = {
      name          = "${local.base}-presence"
      description   = "iotws chat: who is online, from IoT lifecycle events"
      max_event_age = 3600
      environment = {
        TOPIC_PREFIX      = local.prefix
        IOT_DATA_ENDPOINT = "https://${module.authorizer.endpoint}"
        TABLE_NAME        = local.table_name
        ONLINE_INDEX      = "online"
        CLIENT_ID_PATTERN = var.presence_client_id_pattern
      }
    }
  }

  # ARNs built from known parts rather than read from the resources, so that every role
  # policy is complete in `terraform plan` (reviewable, and testable without AWS).
  topic_arn = "arn:${local.partition}:iot:${local.aws_region}:${local.account_id}:topic"
  table_arn = "arn:${local.partition}:dynamodb:${local.aws_region}:${local.account_id}:table/${local.table_name}"
  log_arn   = "arn:${local.partition}:logs:${local.aws_region}:${local.account_id}:log-group:/aws/lambda"

  # Each function may write its own log group and do its job, nothing else.
  function_statements = {
    chat_message = [{
      Sid      = "PublishToRooms"
      Effect   = "Allow"
      Action   = ["iot:Publish"]
      Resource = ["${local.topic_arn}/${local.room_output_topic}"]
    }]
    presence = [
      {
        Sid      = "WritePresence"
        Effect   = "Allow"
        Action   = ["dynamodb:UpdateItem"]
        Resource = [local.table_arn]
      },
      {
        Sid      = "ListOnline"
        Effect   = "Allow"
        Action   = ["dynamodb:Query"]
        Resource = ["${local.table_arn}/index/online"]
      },
      {
        # The online list is a retained message (docs/iot-policies.md: RetainPublish needs
        # Publish too).
        Sid      = "PublishPresence"
        Effect   = "Allow"
        Action   = ["iot:Publish", "iot:RetainPublish"]
        Resource = ["${local.topic_arn}/${local.presence_topic}"]
      },
    ]
  }
}

resource "aws_dynamodb_table" "presence" {
  name         = local.table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "client_id"

  attribute {
    name = "client_id"
    type = "S"
  }

  # Only online clients carry online_key: the index lists exactly who is online.
  attribute {
    name = "online_key"
    type = "S"
  }

  global_secondary_index {
    name            = "online"
    hash_key        = "online_key"
    range_key       = "client_id"
    projection_type = "KEYS_ONLY"
  }

  # Offline clients expire a week after their disconnect (lambda_src/presence/app.py).
  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.table_kms_key_arn
  }

  #checkov:skip=CKV_AWS_119:A customer-managed key is optional (table_kms_key_arn); without one the table is encrypted with the AWS-managed aws/dynamodb key, and it only holds client ids and connection times.
}

resource "aws_cloudwatch_log_group" "function" {
  for_each = local.functions

  name              = "/aws/lambda/${each.value.name}"
  retention_in_days = var.log_retention_in_days

  #checkov:skip=CKV_AWS_158:The backend logs hold no message text and no tokens (only ids and outcomes); CloudWatch encrypts them at rest by default. Pass a KMS key here if your policy requires one.
}

resource "aws_iam_role" "function" {
  for_each = local.functions

  name        = each.value.name
  description = "Execution role of ${each.value.name}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions

  name = "backend"
  role = aws_iam_role.function[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([{
      Sid      = "WriteOwnLogs"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = ["${local.log_arn}/${each.value.name}:*"]
    }], local.function_statements[each.key])
  })
}

resource "aws_lambda_function" "backend" {
  for_each = local.functions

  function_name = each.value.name
  description   = each.value.description
  role          = aws_iam_role.function[each.key].arn

  filename         = "${local.build_dir}/${each.key}.zip"
  source_code_hash = filebase64sha256("${local.build_dir}/${each.key}.zip")
  handler          = "app.handler"
  runtime          = var.lambda_runtime
  architectures    = ["arm64"]
  timeout          = 10
  memory_size      = 256

  environment {
    variables = each.value.environment
  }

  logging_config {
    log_format = "Text" # the handlers write one JSON object per line
    log_group  = aws_cloudwatch_log_group.function[each.key].name
  }

  # The presence function must not run before its table exists.
  depends_on = [aws_iam_role_policy.function, aws_cloudwatch_log_group.function, aws_dynamodb_table.presence]

  #checkov:skip=CKV_AWS_117:The functions only call public AWS APIs (IoT data plane, DynamoDB); a VPC would add NAT costs and cold starts with nothing to protect inside it.
  #checkov:skip=CKV_AWS_116:Failed events are not worth keeping: a chat message expires after a minute (max_event_age) and presence heals with the next lifecycle event; Lambda retries twice first.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile the caller owns; the zips are built reproducibly by `make package` and pinned by source_code_hash.
  #checkov:skip=CKV_AWS_50:X-Ray would need xray:PutTraceSegments on "*"; every invocation logs its outcome as one JSON line instead.
  #checkov:skip=CKV_AWS_115:Reserved concurrency takes capacity from the whole account; the example leaves it to the account pool.
  #checkov:skip=CKV_AWS_173:The environment holds no secrets (topic prefix, endpoint, table name); the AWS-managed key encrypts it at rest.
}

# The rules invoke asynchronously (docs/rules-engine.md#lambda-action): bound the retries and the age.
resource "aws_lambda_function_event_invoke_config" "backend" {
  for_each = local.functions

  function_name                = aws_lambda_function.backend[each.key].function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = each.value.max_event_age
}
