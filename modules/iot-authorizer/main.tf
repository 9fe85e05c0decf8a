# The custom authorizer: Lambda function + log group + aws_iot_authorizer (+ optional
# default authorizer on a domain configuration) and the account's data endpoint.
# IAM lives in iam.tf, the invoke permission in lambda-permissions.tf.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

# Clients connect to wss://<this>/mqtt (docs/backend-publish.md#http-publish).
data "aws_iot_endpoint" "this" {
  endpoint_type = "iot:Data-ATS"
}

locals {
  # Authorizer names may contain = , @ which Lambda, log group and role names do not
  # allow: the default function name replaces them with "-" and keeps 64 characters.
  function_name  = coalesce(var.function_name, substr(replace(var.name, "/[^a-zA-Z0-9_-]/", "-"), 0, 64))
  role_name      = coalesce(var.role_name, local.function_name)
  log_group_name = "/aws/lambda/${local.function_name}"

  # Built from data sources rather than from the log group's computed ARN so that the
  # role policy is fully known at plan time (reviewable in `terraform plan`).
  log_group_arn = "arn:${data.aws_partition.current.partition}:logs:${local.region}:${data.aws_caller_identity.current.account_id}:log-group:${local.log_group_name}"

  # `id` is the region name in hashicorp/aws 5 and 6 (`name` is deprecated in 6, `region`
  # does not exist in 5).
  region = data.aws_region.current.id

  endpoint = data.aws_iot_endpoint.this.endpoint_address
}

resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags

  #checkov:skip=CKV_AWS_158:KMS encryption of the log group is optional (log_kms_key_arn): the key policy must admit CloudWatch Logs, which this module cannot set up for a caller's key. Logs never contain tokens or secrets (docs/design.md#decision-3).
}

resource "aws_lambda_function" "this" {
  function_name = local.function_name
  description   = var.description
  role          = aws_iam_role.this.arn

  filename         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)
  handler          = var.handler
  runtime          = var.runtime
  architectures    = [var.architecture]

  # IoT Core waits at most 5 seconds for the authorizer (docs/custom-authorizer.md#response).
  timeout     = var.timeout
  memory_size = var.memory_size

  reserved_concurrent_executions = coalesce(var.reserved_concurrent_executions, -1)

  dynamic "environment" {
    for_each = length(var.environment_variables) > 0 ? [var.environment_variables] : []
    content {
      variables = environment.value
    }
  }

  logging_config {
    log_format = "Text" # the authorizer already writes one JSON object per line
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.this, aws_cloudwatch_log_group.this]

  #checkov:skip=CKV_AWS_117:An authorizer only reads its own secret through public AWS APIs; a VPC would add ENI cold starts against IoT's 5-second budget and NAT costs, with nothing to protect inside it.
  #checkov:skip=CKV_AWS_116:A dead-letter queue only applies to asynchronous invocations; IoT Core invokes the authorizer synchronously and treats any failure as a deny.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile the caller owns; the zip is built reproducibly by `make package` and its hash pinned by source_code_hash.
  #checkov:skip=CKV_AWS_50:X-Ray would need xray:PutTraceSegments on "*" in a role that is otherwise limited to its own log group and secret; each decision is logged with its reason instead.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is optional (reserved_concurrent_executions): reserving takes capacity from the whole account and a too-low value throttles connects.
  #checkov:skip=CKV_AWS_173:The environment holds no secrets (only names and settings, see environment_variables); the AWS-managed key already encrypts it at rest.
}

# AWS cannot change signingDisabled after creation: UpdateAuthorizer has no such member
# (https://docs.aws.amazon.com/iot/latest/apireference/API_UpdateAuthorizer.html), and the
# provider plans the change as an in-place update that does nothing. This value tracks the
# signing mode; when it changes, the authorizer below is replaced (deleted, then created with
# the same name and ARN). See README.md "Changing token signing" for connected clients.
resource "terraform_data" "signing_mode" {
  input = var.signing_disabled ? "signing-disabled" : "signing-enabled"
}

resource "aws_iot_authorizer" "this" {
  #checkov:skip=CKV_IOTWS_1:signing_disabled defaults to true because browsers cannot sign tokens; the Lambda verifies every token (HS256/JWKS). Set signing_disabled = false with token_signing_public_keys for clients that can sign.
  name                    = var.name
  authorizer_function_arn = aws_lambda_function.this.arn
  status                  = var.status
  enable_caching_for_http = var.enable_caching_for_http

  # Changing signing_disabled replaces the authorizer (terraform_data.signing_mode).
  signing_disabled          = var.signing_disabled
  token_key_name            = var.token_key_name
  token_signing_public_keys = var.signing_disabled ? null : var.token_signing_public_keys

  tags = var.tags

  lifecycle {
    replace_triggered_by = [terraform_data.signing_mode]

    precondition {
      condition     = var.signing_disabled || (var.token_key_name != null && length(var.token_signing_public_keys) > 0)
      error_message = "With signing_disabled = false, IoT verifies token signatures: set token_key_name and at least one entry in token_signing_public_keys."
    }
    precondition {
      condition     = !var.signing_disabled || length(var.token_signing_public_keys) == 0
      error_message = "token_signing_public_keys are only used with signing_disabled = false: remove them or enable signing."
    }
    precondition {
      condition     = alltrue([for name, bits in local.signing_key_bits : bits >= 2048])
      error_message = "token_signing_public_keys must be RSA public keys of at least 2,048 bits (CreateAuthorizer refuses smaller ones). Too small or not RSA: ${join(", ", [for name, bits in local.signing_key_bits : name if bits < 2048])}. Make one with: openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem && openssl pkey -in key.pem -pubout."
    }
  }
}

# Optional: a configurable endpoint whose default authorizer is this one, so clients need
# not name it. An AWS-managed domain configuration must be DISABLED, and stay disabled for
# 7 days, before AWS deletes it
# (https://docs.aws.amazon.com/iot/latest/developerguide/iot-custom-endpoints-managing.html):
# `terraform destroy` cannot remove it at once. README.md "Default authorizer" gives the
# one manual step.
resource "aws_iot_domain_configuration" "this" {
  count = var.default_authorizer == null ? 0 : 1

  name         = var.default_authorizer.domain_configuration_name
  service_type = "DATA"

  authorizer_config {
    default_authorizer_name   = aws_iot_authorizer.this.name
    allow_authorizer_override = var.default_authorizer.allow_authorizer_override
  }

  tags = var.tags
}
