# Unit tests (command = plan, mocked provider): wiring, defaults and least privilege.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name            = "test-authorizer"
  lambda_zip_path = "./tests/fixtures/authorizer.zip"
  token_key_name  = "token"
}

run "defaults" {
  command = plan

  assert {
    condition     = aws_lambda_function.this.runtime == "python3.13"
    error_message = "The default runtime must be python3.13."
  }
  assert {
    condition     = aws_lambda_function.this.architectures == tolist(["arm64"])
    error_message = "The default architecture must be arm64."
  }
  assert {
    condition     = aws_lambda_function.this.handler == "app.handler" && aws_lambda_function.this.timeout == 5
    error_message = "Handler app.handler and timeout 5 s (IoT's budget) by default."
  }
  assert {
    condition     = aws_lambda_function.this.function_name == "test-authorizer" && aws_lambda_function.this.reserved_concurrent_executions == -1
    error_message = "The function is named after the authorizer and reserves no concurrency by default."
  }
  assert {
    condition     = aws_lambda_function.this.source_code_hash == filebase64sha256("./tests/fixtures/authorizer.zip")
    error_message = "source_code_hash must be the zip's base64 SHA-256."
  }
  assert {
    condition     = length(aws_lambda_function.this.environment) == 0
    error_message = "No environment block without environment_variables."
  }
  assert {
    condition     = aws_lambda_function.this.logging_config[0].log_group == "/aws/lambda/test-authorizer"
    error_message = "The function must log to its own log group."
  }
  assert {
    condition     = aws_cloudwatch_log_group.this.name == "/aws/lambda/test-authorizer" && aws_cloudwatch_log_group.this.retention_in_days == 365
    error_message = "Log group /aws/lambda/<name> with 365 days' retention by default."
  }
  assert {
    condition     = aws_iot_authorizer.this.signing_disabled == true && aws_iot_authorizer.this.status == "ACTIVE"
    error_message = "The authorizer is ACTIVE with signing disabled by default."
  }
  assert {
    condition     = aws_iot_authorizer.this.token_key_name == "token" && aws_iot_authorizer.this.token_signing_public_keys == null
    error_message = "token_key_name passes through; no signing keys when signing is disabled."
  }
  assert {
    condition     = aws_iot_authorizer.this.authorizer_function_arn == aws_lambda_function.this.arn
    error_message = "The authorizer must invoke this module's function."
  }
  assert {
    condition     = length(aws_iot_domain_configuration.this) == 0
    error_message = "No domain configuration unless default_authorizer is set."
  }
}

run "invoke_permission_is_bound_to_the_authorizer" {
  command = plan

  assert {
    condition     = aws_lambda_permission.iot.principal == "iot.amazonaws.com" && aws_lambda_permission.iot.action == "lambda:InvokeFunction"
    error_message = "Only IoT Core may invoke the function."
  }
  assert {
    condition     = aws_lambda_permission.iot.source_arn == aws_iot_authorizer.this.arn
    error_message = "source_arn must be the authorizer's ARN (docs/custom-authorizer.md#invoke-permission)."
  }
  assert {
    condition     = aws_lambda_permission.iot.source_arn == "arn:aws:iot:us-east-1:123456789012:authorizer/test-authorizer"
    error_message = "source_arn must be the authorizer ARN from the mock."
  }
  assert {
    condition     = aws_lambda_permission.iot.source_account == null
    error_message = "No source_account: AWS documents the authorizer permission with source ARN only (see lambda-permissions.tf)."
  }
  assert {
    condition     = aws_lambda_permission.iot.function_name == aws_lambda_function.this.function_name
    error_message = "The permission must be on this module's function."
  }
}

run "role_policy_is_least_privilege" {
  command = plan

  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Action])) == toset([
      "logs:CreateLogStream", "logs:PutLogEvents",
    ])
    error_message = "Without a secret the role may only write its own logs."
  }
  assert {
    condition     = flatten([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Resource]) == ["arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/test-authorizer:*"]
    error_message = "Logs may only be written to the function's own log group."
  }
  assert {
    condition     = alltrue([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Effect == "Allow" && !contains(flatten([s.Resource]), "*")])
    error_message = "No statement may use Resource \"*\"."
  }
  assert {
    condition     = jsondecode(aws_iam_role.this.assume_role_policy).Statement[0].Principal.Service == "lambda.amazonaws.com"
    error_message = "Only Lambda may assume the role."
  }
}

run "role_policy_with_ssm_secret_and_key" {
  command = plan

  variables {
    secret_ssm_parameter_arn = "arn:aws:ssm:us-east-1:123456789012:parameter/demo/dev/jwt-secret"
    secret_kms_key_arn       = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Action])) == toset([
      "logs:CreateLogStream", "logs:PutLogEvents", "ssm:GetParameter", "kms:Decrypt",
    ])
    error_message = "The role may write logs, read its parameter and decrypt it: nothing else."
  }
  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Resource])) == toset([
      "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/test-authorizer:*",
      "arn:aws:ssm:us-east-1:123456789012:parameter/demo/dev/jwt-secret",
      "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    ])
    error_message = "Each grant must be on exactly the given resource."
  }
  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Condition.StringEquals["kms:ViaService"] if s.Sid == "DecryptOwnSecret"][0] == ["ssm.us-east-1.amazonaws.com"]
    error_message = "kms:Decrypt must be limited to calls through SSM."
  }
}

run "role_policy_with_secretsmanager_secret" {
  command = plan

  variables {
    secret_secretsmanager_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:demo/dev/jwt-AbCdEf"
  }

  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Action])) == toset([
      "logs:CreateLogStream", "logs:PutLogEvents", "secretsmanager:GetSecretValue",
    ])
    error_message = "The role may write logs and read its secret: nothing else."
  }
}

run "options" {
  command = plan

  variables {
    function_name                  = "custom-fn"
    runtime                        = "python3.12"
    architecture                   = "x86_64"
    timeout                        = 3
    memory_size                    = 512
    reserved_concurrent_executions = 20
    environment_variables          = { IOTWS_LOG_LEVEL = "INFO" }
    log_retention_in_days          = 30
    status                         = "INACTIVE"
    enable_caching_for_http        = true
    tags                           = { app = "demo" }
    default_authorizer = {
      domain_configuration_name = "demo-dev"
    }
  }

  assert {
    condition     = aws_lambda_function.this.function_name == "custom-fn" && aws_cloudwatch_log_group.this.name == "/aws/lambda/custom-fn"
    error_message = "function_name names the function and its log group."
  }
  assert {
    condition     = aws_iam_role.this.name == "custom-fn"
    error_message = "The role is named after the function by default."
  }
  assert {
    condition     = aws_lambda_function.this.reserved_concurrent_executions == 20 && aws_lambda_function.this.environment[0].variables["IOTWS_LOG_LEVEL"] == "INFO"
    error_message = "Reserved concurrency and environment variables pass through."
  }
  assert {
    condition     = aws_iot_authorizer.this.status == "INACTIVE" && aws_iot_authorizer.this.enable_caching_for_http == true
    error_message = "status and enable_caching_for_http pass through."
  }
  assert {
    condition     = aws_iot_domain_configuration.this[0].authorizer_config[0].default_authorizer_name == "test-authorizer"
    error_message = "The domain configuration's default authorizer must be this one."
  }
  assert {
    condition     = aws_iot_domain_configuration.this[0].authorizer_config[0].allow_authorizer_override == false && aws_iot_domain_configuration.this[0].service_type == "DATA"
    error_message = "A DATA endpoint that does not let clients override the authorizer by default."
  }
  assert {
    condition     = aws_iot_authorizer.this.tags["app"] == "demo" && aws_lambda_function.this.tags["app"] == "demo"
    error_message = "Tags reach the resources."
  }
}

run "function_name_derived_from_authorizer_name" {
  command = plan

  variables {
    name = "user@example=authorizer,a12345678901234567890123456789012345678901234567890"
  }

  assert {
    condition     = aws_lambda_function.this.function_name == "user-example-authorizer-a123456789012345678901234567890123456789"
    error_message = "Characters Lambda rejects become - and the name is cut to 64 characters."
  }
  assert {
    condition     = aws_iot_authorizer.this.name == "user@example=authorizer,a12345678901234567890123456789012345678901234567890"
    error_message = "The authorizer keeps its own name."
  }
}

run "signing_enabled" {
  command = plan

  variables {
    signing_disabled = false
    token_signing_public_keys = {
      "key-1" = <<-PEM
-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAl5D84jIUVY7wYPYU1PWe
lHTxTYOQ3Rr+pW4i0K4nYDerIizbBz0gvtT9m/9mq4FuYJxetWamnMKIOM+93qGq
G6i2pdjVWr7PPRC5wVwjTEVUqPiH14R241HTeKOR6n/TIsq0JGvJ0cAfXO0bAR50
WFck4BC6KUYTZ8ElOJgHS4diolD94csw/dmZ23L2zgi350LtQfJu0j5w+gqzbXhY
7vG6oxhrBOKcKY7tToIL3QjZNI1mKAbTp3UpUzq5bi8Q/Kq9pOeNhhwwlE75cN5R
R3Pw70aJrkILL6vthYZeDQN+y5WJzkohlIq9zwootJdkjlEixwA3rzobPLMqYLa8
9wIDAQAB
-----END PUBLIC KEY-----
PEM
    }
  }

  assert {
    condition     = aws_iot_authorizer.this.signing_disabled == false && length(aws_iot_authorizer.this.token_signing_public_keys) == 1
    error_message = "With signing on, the public keys reach the authorizer."
  }
  assert {
    condition     = terraform_data.signing_mode.input == "signing-enabled"
    error_message = "The signing mode is tracked so that a change replaces the authorizer."
  }
}

run "outputs" {
  command = plan

  assert {
    condition     = output.wss_url == "wss://example-ats.iot.us-east-1.amazonaws.com/mqtt?x-amz-customauthorizer-name=test-authorizer"
    error_message = "wss_url must point at the ATS endpoint and select the authorizer."
  }
  assert {
    condition     = output.endpoint == "example-ats.iot.us-east-1.amazonaws.com" && output.authorizer_name == "test-authorizer"
    error_message = "endpoint and authorizer_name outputs."
  }
  assert {
    condition     = output.authorizer_arn == "arn:aws:iot:us-east-1:123456789012:authorizer/test-authorizer" && output.log_group_name == "/aws/lambda/test-authorizer"
    error_message = "authorizer_arn and log_group_name outputs."
  }
  assert {
    condition     = output.domain_configuration_name == null
    error_message = "No domain configuration output by default."
  }
}

run "monitoring_on_by_default_iot_logging_off" {
  command = plan

  assert {
    condition     = length(aws_cloudwatch_log_metric_filter.decisions) == 3 && length(aws_cloudwatch_log_metric_filter.denies_by_reason) == 1
    error_message = "Allows, Denies, Errors and DeniesByReason come from the decision log by default."
  }
  assert {
    condition     = aws_cloudwatch_log_metric_filter.decisions["errors"].pattern == "{ $.decision = \"deny\" && ($.reason = \"internal_error\" || $.reason = \"config_error\" || $.reason = \"secret_unavailable\" || $.reason = \"jwks_unavailable\") }"
    error_message = "Errors counts the denies where the authorizer could not decide."
  }
  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.above_zero)) == toset(["lambda-errors", "lambda-throttles", "decision-errors"]) && length(aws_cloudwatch_metric_alarm.deny_rate) == 1
    error_message = "Alarms on Lambda errors and throttles, decision errors and the deny rate."
  }
  assert {
    condition     = length(aws_cloudwatch_dashboard.this) == 1 && length(aws_sns_topic.alarms) == 0
    error_message = "A dashboard; no SNS topic unless asked for."
  }
  assert {
    condition     = length(aws_iot_logging_options.this) == 0 && length(aws_iam_role.iot_logging) == 0
    error_message = "Account-wide IoT logging is off by default."
  }
  assert {
    condition     = output.publisher_policy_json == null
    error_message = "No publisher policy without a topic prefix."
  }
}

run "monitoring_off_logging_on_publisher_policy" {
  command = plan

  variables {
    monitoring             = { enabled = false }
    iot_logging            = { enabled = true, level = "WARN" }
    publisher_topic_prefix = "chat/dev"
  }

  assert {
    condition     = length(aws_cloudwatch_log_metric_filter.decisions) == 0 && length(aws_cloudwatch_metric_alarm.above_zero) == 0 && length(aws_cloudwatch_dashboard.this) == 0
    error_message = "monitoring.enabled = false creates no filter, alarm or dashboard."
  }
  assert {
    condition     = aws_iot_logging_options.this[0].default_log_level == "WARN"
    error_message = "IoT logging at the asked level."
  }
  assert {
    condition = jsondecode(output.publisher_policy_json).Statement == [
      { Sid = "PublishToTheApp", Effect = "Allow", Action = ["iot:Publish"], Resource = ["arn:aws:iot:us-east-1:123456789012:topic/chat/dev/*"] },
      { Sid = "FindTheEndpoint", Effect = "Allow", Action = ["iot:DescribeEndpoint"], Resource = ["*"] },
    ]
    error_message = "The publisher policy grants Publish on the app's prefix and DescribeEndpoint only."
  }
}

run "alarms_notify_a_created_topic" {
  command = plan

  variables {
    monitoring = { create_sns_topic = true, deny_rate_percent = 80 }
  }

  assert {
    condition     = length(aws_sns_topic.alarms) == 1 && aws_cloudwatch_metric_alarm.deny_rate[0].threshold == 80
    error_message = "create_sns_topic creates the topic; the deny-rate threshold is configurable."
  }
}
