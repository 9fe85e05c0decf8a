# A permission per Lambda target (actions and error action): principal iot.amazonaws.com,
# bound to the rule's ARN and this account. Without it the rule silently does nothing;
# without source_arn/source_account any account's rule could invoke the function
# (docs/rules-engine.md).

locals {
  lambda_targets = merge(
    { for pair in flatten([
      for k, a in local.actions : [
        for i, l in a.lambda : { key = "${k}/${i}", rule = k, function_arn = l.function_arn, slot = tostring(i) }
      ]
    ]) : pair.key => pair },
    { for k, e in local.error_actions : "${k}/error" => {
      key = "${k}/error", rule = k, function_arn = e.lambda.function_arn, slot = "error"
    } if try(e.lambda != null, false) },
  )
}

resource "aws_lambda_permission" "this" {
  for_each = local.lambda_targets

  # Statement ids: 1..100 of [a-zA-Z0-9_-]; rule names may be 128 long.
  statement_id = length("iot-rule-${each.value.slot}-${local.rule_names[each.value.rule]}") <= 100 ? "iot-rule-${each.value.slot}-${local.rule_names[each.value.rule]}" : "iot-rule-${each.value.slot}-${substr(local.rule_names[each.value.rule], 0, 50)}-${md5(local.rule_names[each.value.rule])}"

  action         = "lambda:InvokeFunction"
  function_name  = each.value.function_arn
  principal      = "iot.amazonaws.com"
  source_arn     = aws_iot_topic_rule.this[each.value.rule].arn
  source_account = local.account_id
}
