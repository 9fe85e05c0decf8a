# Custom-authorizer example: browsers connect with MQTT over WebSockets and a token signed
# with an HS256 secret; the authorizer verifies it and returns the policies rendered from
# access.yaml. Build first: `make package EXAMPLE=custom-authorizer`.
#
# The token secret is an SSM SecureString parameter that you create OUT OF BAND, before or
# after `terraform apply` (until it exists, every connection is denied):
#
#   aws ssm put-parameter --type SecureString --name "$(terraform output -raw secret_parameter_name)" \
#     --value "$(openssl rand -base64 48)"
#
# Terraform only references it by name, so the secret never enters the configuration, a
# tfvars file, the plan or the state (a `value` set by Terraform would be stored in the
# state in plain text).

locals {
  build_dir = coalesce(var.build_dir, "${path.module}/build")

  # The access spec is the single source of truth: the authorizer's name, token key name
  # and secret location come from the generated build, never from hand-written HCL.
  config = jsondecode(file("${local.build_dir}/authorizer/config.json"))
  secret = try(local.config.hs256.secret, null)

  region = try(coalesce(var.region, try(local.config.region, null)), null)

  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  aws_region = data.aws_region.current.id # the region name in hashicorp/aws 5 and 6

  ssm_parameter_name = try(local.secret.source, "") == "ssm" ? local.secret.name : null
  ssm_parameter_arn = local.ssm_parameter_name == null ? null : format(
    "arn:%s:ssm:%s:%s:parameter/%s", local.partition, local.aws_region, local.account_id,
    trimprefix(local.ssm_parameter_name, "/"),
  )

  # Secrets Manager: an ARN as is, a name with the 6-character suffix AWS appends.
  secretsmanager_id = try(local.secret.source, "") == "secretsmanager" ? local.secret.name : null
  secretsmanager_arn = local.secretsmanager_id == null ? null : (
    startswith(local.secretsmanager_id, "arn:") ? local.secretsmanager_id : format(
      "arn:%s:secretsmanager:%s:%s:secret:%s-??????", local.partition, local.aws_region,
      local.account_id, local.secretsmanager_id,
    )
  )
}

provider "aws" {
  region = local.region

  default_tags {
    tags = merge({ "iotws:example" = "custom-authorizer" }, var.tags)
  }
}

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

module "authorizer" {
  source = "../../modules/iot-authorizer"

  name            = local.config.name
  lambda_zip_path = "${local.build_dir}/authorizer.zip"
  token_key_name  = local.config.token.key_name

  # Signing is decided by the spec too; it cannot be switched after creation.
  signing_disabled          = !try(local.config.signing_enabled, false)
  token_signing_public_keys = merge(try(local.config.signing_public_keys, {}), var.token_signing_public_keys)

  secret_ssm_parameter_arn  = local.ssm_parameter_arn
  secret_secretsmanager_arn = local.secretsmanager_arn
  secret_kms_key_arn        = var.secret_kms_key_arn

  log_retention_in_days = var.log_retention_in_days

  publisher_topic_prefix = local.config.prefix
  monitoring             = { enabled = var.monitoring }

  default_authorizer = var.default_authorizer_domain == null ? null : {
    domain_configuration_name = var.default_authorizer_domain
  }
}
