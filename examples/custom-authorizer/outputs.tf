output "authorizer_name" {
  description = "Name of the IoT custom authorizer."
  value       = module.authorizer.authorizer_name
}

output "function_name" {
  description = "Name of the authorizer Lambda function."
  value       = module.authorizer.function_name
}

output "log_group_name" {
  description = "Log group with one line per allow/deny decision."
  value       = module.authorizer.log_group_name
}

output "endpoint" {
  description = "The account's iot:Data-ATS endpoint, for the backend's iot-data client."
  value       = module.authorizer.endpoint
}

output "wss_url" {
  description = "WebSocket URL that selects the authorizer; the page adds its token."
  value       = module.authorizer.wss_url

  precondition {
    condition     = try(local.config.region, null) == null || try(local.config.region, null) == local.aws_region
    error_message = "The access spec's aws.region differs from the provider's region: the rendered policies would name the wrong region and deny everything. Deploy in the spec's region or change aws.region and run make package."
  }
  precondition {
    condition     = try(local.config.account, null) == null || try(local.config.account, null) == data.aws_caller_identity.current.account_id
    error_message = "The access spec's aws.account differs from the credentials' account: the rendered policies would deny everything. Use the spec's account or change aws.account and run make package."
  }
}

output "secret_parameter_name" {
  description = "SSM SecureString parameter the authorizer reads its HS256 secret from; create it out of band (see main.tf). null when the spec uses another source."
  value       = local.ssm_parameter_name
}

output "web_config" {
  description = "Configuration for the example page, the same shape the emulator serves at /config.json (`terraform output -json web_config > web/config.json`)."
  value = {
    url            = "wss://${module.authorizer.endpoint}/mqtt"
    authorizerName = module.authorizer.authorizer_name
    tokenKeyName   = local.config.token.key_name
    prefix         = local.config.prefix
    mode           = local.config.mode
  }
}

output "default_authorizer_endpoint" {
  description = "Host of the domain configuration whose default authorizer is this one (null unless default_authorizer_domain is set). Read README.md \"Default authorizer\" before destroying it."
  value       = module.authorizer.default_authorizer_endpoint
}

output "default_authorizer_wss_url" {
  description = "wss:// URL on that endpoint; clients need not name the authorizer there (null unless default_authorizer_domain is set)."
  value       = module.authorizer.default_authorizer_wss_url
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the app: connections, messages, authorizer decisions."
  value       = module.authorizer.dashboard_name
}

output "backend_publish_policy_json" {
  description = "IAM policy for a backend that publishes to this app's clients, such as scripts/publish.py: iot:Publish on <prefix>/* and iot:DescribeEndpoint."
  value       = module.authorizer.publisher_policy_json
}
