output "authorizer_name" {
  description = "Name of the IoT custom authorizer."
  value       = module.authorizer.authorizer_name
}

output "endpoint" {
  description = "The account's iot:Data-ATS endpoint."
  value       = module.authorizer.endpoint
}

output "secret_parameter_name" {
  description = "SSM SecureString parameter the authorizer reads its HS256 secret from; create it out of band (README.md). null when the spec uses another source."
  value       = local.ssm_parameter_name
}

output "table_name" {
  description = "DynamoDB table of who is online."
  value       = aws_dynamodb_table.presence.name
}

output "function_names" {
  description = "Backend Lambda function names (chat_message, presence)."
  value       = { for k, f in aws_lambda_function.backend : k => f.function_name }
}

output "rule_names" {
  description = "IoT topic rule names (chat_message, presence)."
  value       = module.rules.rule_names
}

output "rule_error_log_group" {
  description = "Log group where both rules report failed actions."
  value       = module.rules.error_log_group_name
}

output "topics" {
  description = "The example's topics: where clients publish, what they subscribe to."
  value = {
    publish_room_message = local.room_input_filter
    room_messages        = "${local.topic_base}rooms/+/messages"
    presence             = local.presence_topic
  }
}

output "web_config" {
  description = "Configuration for the chat page, the same shape the emulator serves at /config.json (`terraform output -json web_config > web/config.json`)."
  value = {
    url            = "wss://${module.authorizer.endpoint}/mqtt"
    authorizerName = module.authorizer.authorizer_name
    tokenKeyName   = local.config.token.key_name
    prefix         = local.config.prefix
    mode           = local.config.mode
  }

  precondition {
    condition     = try(local.config.region, null) == null || try(local.config.region, null) == local.aws_region
    error_message = "The access spec's aws.region differs from the provider's region: the rendered policies would name the wrong region and deny everything. Deploy in the spec's region or change aws.region and run make package."
  }
  precondition {
    condition     = try(local.config.account, null) == null || try(local.config.account, null) == data.aws_caller_identity.current.account_id
    error_message = "The access spec's aws.account differs from the credentials' account: the rendered policies would deny everything. Use the spec's account or change aws.account and run make package."
  }
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the app: connections, messages, authorizer decisions, rule failures."
  value       = module.authorizer.dashboard_name
}

output "backend_publish_policy_json" {
  description = "IAM policy for another backend that publishes to this app's clients (iot:Publish on <prefix>/*, iot:DescribeEndpoint). The example's own Lambdas get narrower grants (one topic each, backend.tf)."
  value       = module.authorizer.publisher_policy_json
}
