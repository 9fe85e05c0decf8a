output "rules" {
  description = "Per rule key: `name`, `arn` and `role_arn` (null when the rule needs no role: Lambda actions only and no error action that needs one)."
  value = { for k, r in aws_iot_topic_rule.this : k => {
    name     = r.name
    arn      = r.arn
    role_arn = try(aws_iam_role.this[k].arn, null)
  } }
}

output "rule_names" {
  description = "Rule key => rule name (`<name_prefix>_<key>`)."
  value       = try({ for k, r in aws_iot_topic_rule.this : k => r.name }, {})
}

output "rule_arns" {
  description = "Rule key => rule ARN."
  value       = try({ for k, r in aws_iot_topic_rule.this : k => r.arn }, {})
}

output "role_arns" {
  description = "Rule key => ARN of the rule's IAM role, for the rules that have one."
  value       = try({ for k, r in aws_iam_role.this : k => r.arn }, {})
}

output "error_log_group_name" {
  description = "Name of the module-wide error log group (null when `error_log_group.enabled` is false)."
  value       = var.error_log_group.enabled ? local.error_log_group_name : null
}

output "error_log_group_arn" {
  description = "ARN of the error log group the module created (null when it created none)."
  value       = try(aws_cloudwatch_log_group.errors[0].arn, null)
}

output "lambda_permission_statement_ids" {
  description = "`<rule key>/<index or \"error\">` => statement id of the Lambda permission created for that target."
  value       = try({ for k, p in aws_lambda_permission.this : k => p.statement_id }, {})
}
