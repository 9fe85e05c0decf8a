# Chat example: browsers chat in rooms over MQTT on WebSockets and see who is online.
#
#   browser --publish--> <prefix>/rooms/<room>/messages/in --rule chat_message--> Lambda
#   Lambda  --iot-data--> <prefix>/rooms/<room>/messages   --> every subscriber of the room
#   IoT lifecycle events $aws/events/presence/+/+ --rule presence--> Lambda --> DynamoDB
#   Lambda  --iot-data (retained)--> <prefix>/presence      --> every page
#
# Build first: `make package EXAMPLE=chat`. The token secret is an SSM SecureString that you
# create out of band (see README.md); Terraform only refers to it by name.

locals {
  build_dir = coalesce(var.build_dir, "${path.module}/build")

  # The access spec is the single source of truth: names, prefix and the secret's location
  # come from the generated build, never from hand-written HCL.
  config = jsondecode(file("${local.build_dir}/authorizer/config.json"))
  secret = try(local.config.hs256.secret, null)
  prefix = local.config.prefix

  region = try(coalesce(var.region, try(local.config.region, null)), null)

  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  aws_region = data.aws_region.current.id # the region name in hashicorp/aws 5 and 6

  ssm_parameter_name = try(local.secret.source, "") == "ssm" ? local.secret.name : null
  ssm_parameter_arn = local.ssm_parameter_name == null ? null : format(
    "arn:%s:ssm:%s:%s:parameter/%s", local.partition, local.aws_region, local.account_id,
    trimprefix(local.ssm_parameter_name, "/"),
  )
  secretsmanager_id = try(local.secret.source, "") == "secretsmanager" ? local.secret.name : null
  secretsmanager_arn = local.secretsmanager_id == null ? null : (
    startswith(local.secretsmanager_id, "arn:") ? local.secretsmanager_id : format(
      "arn:%s:secretsmanager:%s:%s:secret:%s-??????", local.partition, local.aws_region,
      local.account_id, local.secretsmanager_id,
    )
  )

  # Names: Lambda/DynamoDB names from the prefix (chat/dev -> chat-dev). Rule names come with
  # the rules from the build (build/rules.json: chat_dev).
  base = local.prefix == "" ? "iotws" : replace(local.prefix, "/", "-")

  # Topics (README.md "Topics"); every one under the spec's prefix.
  topic_base        = local.prefix == "" ? "" : "${local.prefix}/"
  room_input_filter = "${local.topic_base}rooms/+/messages/in"
  room_output_topic = "${local.topic_base}rooms/*/messages" # IAM resource: any room
  presence_topic    = "${local.topic_base}presence"
}

provider "aws" {
  region = local.region

  default_tags {
    tags = merge({ "iotws:example" = "chat" }, var.tags)
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
  token_signing_public_keys = try(local.config.signing_public_keys, {})

  secret_ssm_parameter_arn  = local.ssm_parameter_arn
  secret_secretsmanager_arn = local.secretsmanager_arn
  secret_kms_key_arn        = var.secret_kms_key_arn

  log_retention_in_days = var.log_retention_in_days

  # Alarms, metrics and a dashboard that also shows both rules' failures.
  monitoring = {
    enabled    = var.monitoring
    rule_names = values(module.rules.rule_names)
  }
  publisher_topic_prefix = local.prefix
}
