output "authorizer_name" {
  description = "Name of the IoT custom authorizer (the x-amz-customauthorizer-name value)."
  value       = try(aws_iot_authorizer.this.name, null)
}

output "authorizer_arn" {
  description = "ARN of the IoT custom authorizer."
  value       = try(aws_iot_authorizer.this.arn, null)
}

output "function_name" {
  description = "Name of the authorizer Lambda function."
  value       = try(aws_lambda_function.this.function_name, null)
}

output "function_arn" {
  description = "ARN of the authorizer Lambda function."
  value       = try(aws_lambda_function.this.arn, null)
}

output "role_arn" {
  description = "ARN of the function's IAM role."
  value       = try(aws_iam_role.this.arn, null)
}

output "role_name" {
  description = "Name of the function's IAM role."
  value       = try(aws_iam_role.this.name, null)
}

output "log_group_name" {
  description = "CloudWatch log group with one JSON line per allow/deny decision."
  value       = try(aws_cloudwatch_log_group.this.name, null)
}

output "log_group_arn" {
  description = "ARN of the log group."
  value       = try(aws_cloudwatch_log_group.this.arn, null)
}

output "endpoint" {
  description = "The account's iot:Data-ATS endpoint (<prefix>-ats.iot.<region>.amazonaws.com)."
  value       = try(data.aws_iot_endpoint.this.endpoint_address, null)
}

output "wss_url" {
  description = "MQTT over WebSockets URL that selects this authorizer; browsers add the token as a further query parameter or in the MQTT password."
  value       = try("wss://${local.endpoint}/mqtt?x-amz-customauthorizer-name=${urlencode(aws_iot_authorizer.this.name)}", null)
}

output "token_key_name" {
  description = "Token key name IoT extracts the token from (null when none)."
  value       = try(aws_iot_authorizer.this.token_key_name, null)
}

output "domain_configuration_name" {
  description = "Name of the domain configuration whose default authorizer is this one (null unless default_authorizer is set)."
  value       = try(aws_iot_domain_configuration.this[0].name, null)
}

output "default_authorizer_endpoint" {
  description = "Domain name of that configurable endpoint: clients connecting there need not name the authorizer (null unless default_authorizer is set)."
  value       = try(aws_iot_domain_configuration.this[0].domain_name, null)
}

output "default_authorizer_wss_url" {
  description = "MQTT over WebSockets URL of that configurable endpoint: its default authorizer is this one, so the URL need not name it (null unless default_authorizer is set)."
  value       = try("wss://${aws_iot_domain_configuration.this[0].domain_name}/mqtt", null)
}
