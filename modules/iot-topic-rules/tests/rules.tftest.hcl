# Unit tests (plan only, no AWS): rule names, SQL version default, Lambda permissions and
# least-privilege role documents. Run from the module folder: terraform init && terraform test

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_region" {
    defaults = { id = "us-east-1", name = "us-east-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
}

# The Lambda permissions refer to the rule's ARN, which AWS computes: set it at plan time.
override_resource {
  target          = aws_iot_topic_rule.this
  override_during = plan
  values = {
    arn = "arn:aws:iot:us-east-1:123456789012:rule/demo_dev_chat_message"
  }
}

variables {
  name_prefix = "demo_dev"
  rules = {
    chat_message = {
      sql    = "SELECT text, topic(4) AS room, clientid() AS client_id, timestamp() AS ts FROM 'demo/dev/rooms/+/messages/in'"
      lambda = [{ function_arn = "arn:aws:lambda:us-east-1:123456789012:function:demo-dev-chat" }]
    }
  }
}

run "rule_name_sql_version_and_lambda_permission" {
  command = plan

  assert {
    condition     = aws_iot_topic_rule.this["chat_message"].name == "demo_dev_chat_message"
    error_message = "rule name must be <name_prefix>_<key>"
  }
  assert {
    condition     = aws_iot_topic_rule.this["chat_message"].sql_version == "2016-03-23"
    error_message = "sql_version must default to 2016-03-23 (unset means 2015-10-08)"
  }
  assert {
    condition     = aws_iot_topic_rule.this["chat_message"].enabled
    error_message = "rules are enabled by default"
  }
  assert {
    condition     = aws_lambda_permission.this["chat_message/0"].principal == "iot.amazonaws.com"
    error_message = "permission principal must be iot.amazonaws.com"
  }
  assert {
    condition     = aws_lambda_permission.this["chat_message/0"].source_arn == "arn:aws:iot:us-east-1:123456789012:rule/demo_dev_chat_message"
    error_message = "permission source_arn must be the rule's ARN"
  }
  assert {
    condition     = aws_lambda_permission.this["chat_message/0"].source_account == "123456789012"
    error_message = "permission source_account must be the account"
  }
  assert {
    condition     = aws_lambda_permission.this["chat_message/0"].function_name == "arn:aws:lambda:us-east-1:123456789012:function:demo-dev-chat"
    error_message = "permission must be on the target function"
  }
  assert {
    condition     = aws_lambda_permission.this["chat_message/0"].statement_id == "iot-rule-0-demo_dev_chat_message"
    error_message = "statement id must name the rule"
  }
  # Default error action: the module's log group, written through the rule's own role.
  assert {
    condition     = aws_cloudwatch_log_group.errors[0].name == "/iotws/demo_dev/rule-errors"
    error_message = "default error log group name"
  }
  assert {
    condition     = aws_cloudwatch_log_group.errors[0].retention_in_days == 365
    error_message = "default error log retention"
  }
  assert {
    condition     = one(one(aws_iot_topic_rule.this["chat_message"].error_action).cloudwatch_logs).log_group_name == "/iotws/demo_dev/rule-errors"
    error_message = "rules without their own error action must use the module's log group"
  }
  assert {
    condition = jsondecode(aws_iam_role_policy.this["chat_message"].policy).Statement == [{
      Sid      = "CloudwatchLogs"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
      Resource = ["arn:aws:logs:us-east-1:123456789012:log-group:/iotws/demo_dev/rule-errors:*"]
    }]
    error_message = "a Lambda-only rule's role may only write its error log group"
  }
  assert {
    condition = jsondecode(aws_iam_role.this["chat_message"].assume_role_policy).Statement[0] == {
      Effect    = "Allow"
      Principal = { Service = "iot.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals = { "aws:SourceAccount" = "123456789012" }
        ArnEquals    = { "aws:SourceArn" = "arn:aws:iot:us-east-1:123456789012:rule/demo_dev_chat_message" }
      }
    }
    error_message = "the role must trust only IoT, for this rule in this account"
  }
  assert {
    condition     = output.rules["chat_message"].name == "demo_dev_chat_message"
    error_message = "output rules must carry the name"
  }
}

run "account_id_variable_skips_sts" {
  command = plan

  variables {
    account_id = "210987654321"
  }

  assert {
    condition     = length(data.aws_caller_identity.current) == 0
    error_message = "with account_id set, no STS call"
  }
  assert {
    condition     = aws_lambda_permission.this["chat_message/0"].source_account == "210987654321"
    error_message = "source_account must come from account_id"
  }
}

run "no_default_error_action_means_no_role" {
  command = plan

  variables {
    error_log_group = { enabled = false }
  }

  assert {
    condition     = length(aws_iam_role.this) == 0 && length(aws_cloudwatch_log_group.errors) == 0
    error_message = "a rule with only Lambda actions and no error action needs no role and no log group"
  }
  assert {
    condition     = length(aws_iot_topic_rule.this["chat_message"].error_action) == 0
    error_message = "no error action when disabled"
  }
  assert {
    condition     = output.rules["chat_message"].role_arn == null
    error_message = "role_arn output is null without a role"
  }
}

run "existing_error_log_group" {
  command = plan

  variables {
    error_log_group = { create = false, name = "/shared/iot-errors" }
  }

  assert {
    condition     = length(aws_cloudwatch_log_group.errors) == 0
    error_message = "create = false must not create a log group"
  }
  assert {
    condition     = one(one(aws_iot_topic_rule.this["chat_message"].error_action).cloudwatch_logs).log_group_name == "/shared/iot-errors"
    error_message = "error action must use the named group"
  }
}

run "every_action_kind_least_privilege" {
  command = plan

  variables {
    name_prefix = "" # no prefix: the rule name is the key
    rules = {
      fanout = {
        sql         = "SELECT * FROM 'demo/dev/in/#'"
        sql_version = "2015-10-08"
        enabled     = false
        republish = [
          { topic = "$aws/things/t1/shadow/update", qos = 1 },
          { topic = "demo/dev/rooms/$${topic(4)}/messages", iam_resources = ["arn:aws:iot:us-east-1:123456789012:topic/demo/dev/rooms/*/messages"] },
        ]
        sqs             = [{ queue_url = "https://sqs.us-east-1.amazonaws.com/123456789012/q1" }]
        sns             = [{ target_arn = "arn:aws:sns:us-east-1:123456789012:t1" }]
        dynamodbv2      = [{ table_name = "tbl" }]
        kinesis         = [{ stream_name = "st" }]
        firehose        = [{ delivery_stream_name = "fh", batch_mode = true }]
        s3              = [{ bucket_name = "bkt", key = "raw/$${topic()}/$${timestamp()}", iam_resources = ["arn:aws:s3:::bkt/raw/*"] }]
        cloudwatch_logs = [{ log_group_name = "/app/messages" }]
        error_action = {
          sqs = { queue_url = "https://example.com/not-standard", queue_arn = "arn:aws:sqs:us-east-1:123456789012:dlq" }
        }
      }
    }
  }

  assert {
    condition     = aws_iot_topic_rule.this["fanout"].name == "fanout" && aws_iot_topic_rule.this["fanout"].sql_version == "2015-10-08" && !aws_iot_topic_rule.this["fanout"].enabled
    error_message = "explicit name/version/enabled must be kept"
  }
  assert {
    condition     = toset([for r in aws_iot_topic_rule.this["fanout"].republish : r.topic]) == toset(["$$aws/things/t1/shadow/update", "demo/dev/rooms/$${topic(4)}/messages"])
    error_message = "a reserved republish topic must be written with $$ in the action (docs/rules-engine.md#republish)"
  }
  assert {
    condition = jsondecode(aws_iam_role_policy.this["fanout"].policy).Statement == [
      {
        Sid      = "Republish"
        Effect   = "Allow"
        Action   = ["iot:Publish"]
        Resource = ["arn:aws:iot:us-east-1:123456789012:topic/$aws/things/t1/shadow/update", "arn:aws:iot:us-east-1:123456789012:topic/demo/dev/rooms/*/messages"]
      },
      {
        Sid      = "SqsSendMessage"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = ["arn:aws:sqs:us-east-1:123456789012:q1", "arn:aws:sqs:us-east-1:123456789012:dlq"]
      },
      {
        Sid      = "SnsPublish"
        Effect   = "Allow"
        Action   = ["sns:Publish"]
        Resource = ["arn:aws:sns:us-east-1:123456789012:t1"]
      },
      {
        Sid      = "DynamodbPutItem"
        Effect   = "Allow"
        Action   = ["dynamodb:PutItem"]
        Resource = ["arn:aws:dynamodb:us-east-1:123456789012:table/tbl"]
      },
      {
        Sid      = "KinesisPutRecord"
        Effect   = "Allow"
        Action   = ["kinesis:PutRecord"]
        Resource = ["arn:aws:kinesis:us-east-1:123456789012:stream/st"]
      },
      {
        Sid      = "FirehosePutRecord"
        Effect   = "Allow"
        Action   = ["firehose:PutRecord", "firehose:PutRecordBatch"]
        Resource = ["arn:aws:firehose:us-east-1:123456789012:deliverystream/fh"]
      },
      {
        Sid      = "S3PutObject"
        Effect   = "Allow"
        Action   = ["s3:PutObject"]
        Resource = ["arn:aws:s3:::bkt/raw/*"]
      },
      {
        Sid      = "CloudwatchLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
        Resource = ["arn:aws:logs:us-east-1:123456789012:log-group:/app/messages:*"]
      },
    ]
    error_message = "the role must allow exactly the actions and resources of the rule's actions and error action"
  }
  assert {
    condition     = one(one(aws_iot_topic_rule.this["fanout"].error_action).sqs).queue_url == "https://example.com/not-standard"
    error_message = "a rule's own error action replaces the module default"
  }
  assert {
    condition     = length(aws_lambda_permission.this) == 0
    error_message = "no Lambda target, no permission"
  }
}

run "lambda_error_action_gets_a_permission" {
  command = plan

  variables {
    error_log_group = { enabled = false }
    rules = {
      chat_message = {
        sql          = "SELECT * FROM 'demo/dev/a'"
        republish    = [{ topic = "demo/dev/b" }]
        error_action = { lambda = { function_arn = "arn:aws:lambda:us-east-1:123456789012:function:errors" } }
      }
    }
  }

  assert {
    condition     = aws_lambda_permission.this["chat_message/error"].function_name == "arn:aws:lambda:us-east-1:123456789012:function:errors"
    error_message = "a Lambda error action needs its own permission"
  }
  assert {
    condition     = aws_lambda_permission.this["chat_message/error"].source_arn == "arn:aws:iot:us-east-1:123456789012:rule/demo_dev_chat_message"
    error_message = "error-action permission bound to the rule ARN"
  }
  assert {
    condition = jsondecode(aws_iam_role_policy.this["chat_message"].policy).Statement == [{
      Sid      = "Republish"
      Effect   = "Allow"
      Action   = ["iot:Publish"]
      Resource = ["arn:aws:iot:us-east-1:123456789012:topic/demo/dev/b"]
    }]
    error_message = "a Lambda error action adds nothing to the role"
  }
}
