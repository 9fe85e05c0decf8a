# Cognito guest example: browsers with no account talk MQTT over WebSockets to AWS IoT
# Core with temporary credentials from a Cognito identity pool.
#
#   make generate EXAMPLE=cognito-unauth   # renders build/cognito/guest.iam.json from access.yaml
#   terraform init && terraform apply
#
# The module source is a relative path: this example doubles as a test fixture of the kit.

terraform {
  required_version = ">= 1.7"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "= 5.100.0"
    }
  }
}

provider "aws" {
  region = var.region
}

variable "region" {
  description = "Region to deploy to. Must equal aws.region in access.yaml: the rendered IAM policy names it in every ARN."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "region must be a region code such as us-east-1."
  }
}

variable "name" {
  description = "Name prefix of the identity pool and roles."
  type        = string
  default     = "guests-dev"

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,48}$", var.name))
    error_message = "name must be 1-48 characters of letters, digits and + = , . @ _ - (it prefixes IAM role names)."
  }
}

variable "guest_profile" {
  description = "The access-spec profile named by cognito.guest_profile in access.yaml."
  type        = string
  default     = "guest"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,31}$", var.guest_profile))
    error_message = "guest_profile must be a profile name of access.yaml (lower-case letters, digits, _), e.g. guest."
  }
}

variable "build_dir" {
  description = "Where `make generate` wrote its output for this example."
  type        = string
  default     = null

  validation {
    condition     = var.build_dir == null || try(length(var.build_dir) > 0, false)
    error_message = "build_dir must be null (./build) or the non-empty path of the directory `make package` wrote."
  }
}

locals {
  build_dir         = coalesce(var.build_dir, "${path.module}/build")
  guest_policy_json = file("${local.build_dir}/cognito/${var.guest_profile}.iam.json")
  client_config     = jsondecode(file("${local.build_dir}/client/config.json"))
  guest             = local.client_config.profiles[var.guest_profile]
}

module "cognito" {
  source = "../../modules/iot-cognito-unauth"

  name              = var.name
  guest_policy_json = local.guest_policy_json
  tags = {
    "iotws:example" = "cognito-unauth"
  }
}

# The rendered policy names a region and an account in every ARN (access.yaml `aws:`);
# a policy for another account or region would deploy fine and then deny everything.
check "spec_matches_deployment" {
  data "aws_caller_identity" "current" {}

  assert {
    condition     = strcontains(local.guest_policy_json, "arn:aws:iot:${var.region}:${data.aws_caller_identity.current.account_id}:")
    error_message = "build/cognito/${var.guest_profile}.iam.json was rendered for another region or account: set aws.region/aws.account in access.yaml to this deployment's, then `make generate EXAMPLE=cognito-unauth`."
  }
}

output "identity_pool_id" {
  description = "Cognito identity pool id (for GetId)."
  value       = module.cognito.identity_pool_id
}

output "iot_endpoint" {
  description = "The account's iot:Data-ATS endpoint host."
  value       = module.cognito.iot_endpoint
}

output "guest_role_arn" {
  description = "The role guests assume."
  value       = module.cognito.guest_role_arn
}

output "web_config" {
  description = "Contents of web/config.json for the example page: terraform output -json web_config > web/config.json"
  value = {
    mode           = "cognito"
    region         = module.cognito.region
    identityPoolId = module.cognito.identity_pool_id
    endpoint       = module.cognito.iot_endpoint
    prefix         = local.client_config.prefix
    clientId       = local.guest.clientId
    subscribe      = local.guest.subscribe
    publish        = local.guest.publish
  }
}
