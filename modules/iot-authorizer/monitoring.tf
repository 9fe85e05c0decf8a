# Operating the authorizer (README.md "Monitoring"): metrics from its decision log, alarms,
# an optional SNS topic, a dashboard, and (off by default, account-wide) IoT Core logging.
#
# The authorizer writes one JSON line per decision (lambda_src/authorizer/iotws_authorizer/
# log.py): {"decision":"allow"|"deny","reason":...}. Metric filters turn those lines into
# metrics in the namespace `monitoring.namespace`, dimension-free except DeniesByReason.

locals {
  monitoring = var.monitoring.enabled
  namespace  = coalesce(var.monitoring.namespace, "iotws/${var.name}")

  # Reasons that mean "the authorizer could not decide", not "the client was wrong".
  error_reasons = ["internal_error", "config_error", "secret_unavailable", "jwks_unavailable"]

  metric_filters = {
    allows = {
      metric  = "Allows"
      pattern = "{ $.decision = \"allow\" }"
    }
    denies = {
      metric  = "Denies"
      pattern = "{ $.decision = \"deny\" }"
    }
    errors = {
      metric  = "Errors"
      pattern = "{ $.decision = \"deny\" && (${join(" || ", [for r in local.error_reasons : "$.reason = \"${r}\""])}) }"
    }
  }

  alarm_actions = compact([
    var.monitoring.sns_topic_arn,
    try(aws_sns_topic.alarms[0].arn, ""),
  ])
}

resource "aws_cloudwatch_log_metric_filter" "decisions" {
  for_each = local.monitoring ? local.metric_filters : {}

  name           = "${local.function_name}-${each.key}"
  log_group_name = aws_cloudwatch_log_group.this.name
  pattern        = each.value.pattern

  metric_transformation {
    name          = each.value.metric
    namespace     = local.namespace
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

resource "aws_cloudwatch_log_metric_filter" "denies_by_reason" {
  count = local.monitoring ? 1 : 0

  name           = "${local.function_name}-denies-by-reason"
  log_group_name = aws_cloudwatch_log_group.this.name
  pattern        = "{ $.decision = \"deny\" }"

  metric_transformation {
    name       = "DeniesByReason"
    namespace  = local.namespace
    value      = "1"
    unit       = "Count"
    dimensions = { Reason = "$.reason" }
  }
}

resource "aws_sns_topic" "alarms" {
  count = local.monitoring && var.monitoring.create_sns_topic ? 1 : 0

  name              = "${local.function_name}-alarms"
  kms_master_key_id = "alias/aws/sns"
  tags              = var.tags
}

# Alarms on counts above 0: the function failed (a bug, a timeout) or was throttled, which
# IoT treats as a deny; or it ran but could not decide (secret or JWKS unreachable, bad
# configuration).
resource "aws_cloudwatch_metric_alarm" "above_zero" {
  for_each = local.monitoring ? {
    lambda-errors = {
      namespace   = "AWS/Lambda", metric = "Errors", dimensions = { FunctionName = aws_lambda_function.this.function_name }
      description = "Authorizer Lambda Errors > 0: connections are refused (IoT treats a failed authorizer call as a deny)."
    }
    lambda-throttles = {
      namespace   = "AWS/Lambda", metric = "Throttles", dimensions = { FunctionName = aws_lambda_function.this.function_name }
      description = "Authorizer Lambda Throttles > 0: connections are refused (IoT treats a throttled authorizer call as a deny)."
    }
    decision-errors = {
      namespace   = local.namespace, metric = "Errors", dimensions = {}
      description = "The authorizer denied connections because it could not decide (reasons ${join(", ", local.error_reasons)}); see its log group."
    }
  } : {}

  alarm_name          = "${local.function_name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = "Sum"
  period              = var.monitoring.period_seconds
  evaluation_periods  = var.monitoring.evaluation_periods
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags

  depends_on = [aws_cloudwatch_log_metric_filter.decisions]
}

# Most connections denied (a rotated secret, a broken client release, an attack), once
# there are enough decisions for a rate to mean something.
resource "aws_cloudwatch_metric_alarm" "deny_rate" {
  count = local.monitoring ? 1 : 0

  alarm_name          = "${local.function_name}-deny-rate"
  alarm_description   = "More than ${var.monitoring.deny_rate_percent}% of at least ${var.monitoring.deny_rate_min_decisions} authorizer decisions were denies; DeniesByReason says why."
  evaluation_periods  = var.monitoring.evaluation_periods
  threshold           = var.monitoring.deny_rate_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags

  metric_query {
    id          = "rate"
    expression  = "IF((allows + denies) >= ${var.monitoring.deny_rate_min_decisions}, 100 * denies / (allows + denies), 0)"
    label       = "Deny rate (%)"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = { allows = "Allows", denies = "Denies" }
    content {
      id = metric_query.key
      metric {
        namespace   = local.namespace
        metric_name = metric_query.value
        period      = var.monitoring.period_seconds
        stat        = "Sum"
      }
    }
  }

  depends_on = [aws_cloudwatch_log_metric_filter.decisions]
}

# One dashboard per app: IoT connections and messages, authorizer calls and decisions,
# topic rule failures (https://docs.aws.amazon.com/iot/latest/developerguide/metrics_dimensions.html).
resource "aws_cloudwatch_dashboard" "this" {
  count = local.monitoring && var.monitoring.dashboard ? 1 : 0

  dashboard_name = substr(replace(local.function_name, "/[^a-zA-Z0-9_-]/", "-"), 0, 255)
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title = "IoT Core: connections and messages (account and region)", region = local.region, stat = "Sum", period = 300
          metrics = [
            ["AWS/IoT", "Connect.Success", "Protocol", "MQTT"],
            ["AWS/IoT", "Connect.AuthNError", "Protocol", "MQTT"],
            ["AWS/IoT", "PublishIn.Success", "Protocol", "MQTT"],
            ["AWS/IoT", "PublishOut.Success", "Protocol", "MQTT"],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title = "Authorizer decisions", region = local.region, stat = "Sum", period = 300
          metrics = [
            [local.namespace, "Allows"],
            [local.namespace, "Denies"],
            [local.namespace, "Errors"],
          ]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title = "Authorizer Lambda", region = local.region, stat = "Sum", period = 300
          metrics = [
            ["AWS/Lambda", "Invocations", "FunctionName", local.function_name],
            ["AWS/Lambda", "Errors", "FunctionName", local.function_name],
            ["AWS/Lambda", "Throttles", "FunctionName", local.function_name],
            ["AWS/Lambda", "Duration", "FunctionName", local.function_name, { stat = "p99" }],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title = "Topic rules: failures", region = local.region, stat = "Sum", period = 300
          metrics = length(var.monitoring.rule_names) == 0 ? [["AWS/IoT", "Failure"]] : [
            for r in var.monitoring.rule_names : ["AWS/IoT", "Failure", "RuleName", r]
          ]
        }
      },
    ]
  })
}

# ---------------------------------------------------------------------------------------
# IoT Core logging: ACCOUNT-WIDE (one setting per account and region, shared by every app
# there), so off by default. Logs go to the AWSIotLogsV2 log group.
# https://docs.aws.amazon.com/iot/latest/developerguide/configure-logging.html
# ---------------------------------------------------------------------------------------

resource "aws_iam_role" "iot_logging" {
  count = var.iot_logging.enabled ? 1 : 0

  name_prefix = "iotws-iot-logging-"
  description = "Lets AWS IoT Core write its logs (AWSIotLogsV2) in this account and region"
  tags        = var.tags
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "iot.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
    }]
  })
}

resource "aws_iam_role_policy" "iot_logging" {
  count = var.iot_logging.enabled ? 1 : 0

  name = "iot-logging"
  role = aws_iam_role.iot_logging[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "WriteIotLogs"
      Effect   = "Allow"
      Action   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:PutRetentionPolicy", "logs:PutMetricFilter"]
      Resource = ["arn:${data.aws_partition.current.partition}:logs:${local.region}:${data.aws_caller_identity.current.account_id}:log-group:AWSIotLogsV2:*"]
    }]
  })
}

resource "aws_iot_logging_options" "this" {
  count = var.iot_logging.enabled ? 1 : 0

  default_log_level = var.iot_logging.level
  role_arn          = aws_iam_role.iot_logging[0].arn
  disable_all_logs  = false

  depends_on = [aws_iam_role_policy.iot_logging]
}
