# The topic rules come from the access spec's `rules:` section, rendered by `iotws generate`
# into build/rules.json (the same file `iotws emulate` runs locally): no second copy here.
# Only the Lambda targets are filled in: the spec names a function (`function: presence`),
# Terraform knows its ARN. Rule names: chat_dev_chat_message, chat_dev_presence.

locals {
  rules_build   = jsondecode(file("${local.build_dir}/rules.json"))
  function_arns = { for name, f in aws_lambda_function.backend : name => f.arn }

  # `for ... if` adds an attribute only where the rule has it (no try(): it would turn the
  # whole rule unknown until the functions exist, and the module's for_each keys with it).
  rules = { for key, rule in local.rules_build.rules : key => merge(
    rule,
    { for kind in ["lambda"] : kind => [for target in rule.lambda : {
      function_arn = contains(keys(target), "function_arn") ? target.function_arn : local.function_arns[target.function]
    }] if contains(keys(rule), "lambda") },
    { for kind in ["error_action"] : kind => merge(
      rule.error_action,
      { for lambda in ["lambda"] : lambda => {
        function_arn = contains(keys(rule.error_action.lambda), "function_arn") ? rule.error_action.lambda.function_arn : local.function_arns[rule.error_action.lambda.function]
      } if contains(keys(rule.error_action), "lambda") },
    ) if contains(keys(rule), "error_action") },
  ) }
}

module "rules" {
  source = "../../modules/iot-topic-rules"

  name_prefix = local.rules_build.name_prefix
  account_id  = local.account_id
  rules       = local.rules

  # Failures of either rule (for example a throttled Lambda invoke) land here.
  error_log_group = {
    retention_in_days = var.log_retention_in_days
  }
}
