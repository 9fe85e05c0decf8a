# The Cognito guest path: an identity pool whose guests get temporary AWS credentials,
# authorized for IoT by the guest role's IAM policy alone (docs/cognito-guests.md).

locals {
  pool_name     = coalesce(var.identity_pool_name, var.name)
  authenticated = var.authenticated_policy_json != null
}

resource "aws_cognito_identity_pool" "this" {
  #checkov:skip=CKV_AWS_366:Guest (unauthenticated) identities are the purpose of this module; their role's policy is rendered from the access spec and grants only the spec's IoT topics.
  identity_pool_name               = local.pool_name
  allow_unauthenticated_identities = true
  allow_classic_flow               = var.allow_classic_flow
  supported_login_providers        = var.supported_login_providers

  dynamic "cognito_identity_providers" {
    for_each = var.cognito_identity_providers
    content {
      client_id               = cognito_identity_providers.value.client_id
      provider_name           = cognito_identity_providers.value.provider_name
      server_side_token_check = cognito_identity_providers.value.server_side_token_check
    }
  }

  tags = var.tags
}

resource "aws_cognito_identity_pool_roles_attachment" "this" {
  identity_pool_id = aws_cognito_identity_pool.this.id

  roles = merge(
    { unauthenticated = aws_iam_role.guest.arn },
    local.authenticated ? { authenticated = aws_iam_role.authenticated[0].arn } : {},
  )
}

# Authenticated identities need an IoT policy attached to their identity id as well as
# the role policy (docs/cognito-guests.md#guest-and-authenticated-identities). The attachment (iot:AttachPolicy, target = the
# identity id) happens at sign-in, in your backend: identity ids do not exist before.
resource "aws_iot_policy" "authenticated" {
  count = var.authenticated_iot_policy_document == null ? 0 : 1

  name   = "${var.name}-cognito-user"
  policy = var.authenticated_iot_policy_document
  tags   = var.tags
}

data "aws_region" "current" {}

data "aws_iot_endpoint" "ats" {
  endpoint_type = "iot:Data-ATS"
}
