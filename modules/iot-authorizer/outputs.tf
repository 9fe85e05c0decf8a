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

output "publisher_policy_json" {
  description = "Least-privilege IAM policy (JSON) for a backend that publishes to the app's clients: iot:Publish on topic/<publisher_topic_prefix>/* and iot:DescribeEndpoint (which has no resource-level permissions). null unless publisher_topic_prefix is set."
  value = var.publisher_topic_prefix == null ? null : jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "PublishToTheApp"
        Effect   = "Allow"
        Action   = ["iot:Publish"]
        Resource = ["arn:${data.aws_partition.current.partition}:iot:${local.region}:${data.aws_caller_identity.current.account_id}:topic/${trimsuffix(var.publisher_topic_prefix, "/")}/*"]
      },
      {
        Sid      = "FindTheEndpoint"
        Effect   = "Allow"
        Action   = ["iot:DescribeEndpoint"]
        Resource = ["*"]
      },
    ]
  })
}

output "alarm_sns_topic_arn" {
  description = "ARN of the SNS topic the module created for its alarms (null unless monitoring.create_sns_topic)."
  value       = try(aws_sns_topic.alarms[0].arn, null)
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard (null when monitoring or its dashboard is off)."
  value       = try(aws_cloudwatch_dashboard.this[0].dashboard_name, null)
}

output "metrics_namespace" {
  description = "CloudWatch namespace of the decision metrics (Allows, Denies, DeniesByReason, Errors); null when monitoring is off."
  value       = var.monitoring.enabled ? local.namespace : null
}
