# Roles that Cognito hands out. Each trust policy pins the identity pool (aud) and the
# kind of identity (amr), so no other pool and no other kind of identity can assume the
# role (docs/cognito-guests.md#trust-policy: Amplify once shipped roles without this).

locals {
  cognito_principal = "cognito-identity.amazonaws.com"

  trust = {
    for kind in ["unauthenticated", "authenticated"] : kind => jsonencode({
      Version = "2012-10-17"
      Statement = [{
        Effect    = "Allow"
        Principal = { Federated = local.cognito_principal }
        Action    = "sts:AssumeRoleWithWebIdentity"
        Condition = {
          StringEquals = {
            "cognito-identity.amazonaws.com:aud" = aws_cognito_identity_pool.this.id
          }
          "ForAnyValue:StringLike" = {
            "cognito-identity.amazonaws.com:amr" = kind
          }
        }
      }]
    })
  }
}

resource "aws_iam_role" "guest" {
  name                 = "${var.name}-cognito-guest"
  description          = "Cognito guest identities of ${local.pool_name}: IoT access rendered from the access spec"
  assume_role_policy   = local.trust["unauthenticated"]
  permissions_boundary = var.permissions_boundary
  tags                 = var.tags
}

resource "aws_iam_role_policy" "guest" {
  name   = "iot-guest"
  role   = aws_iam_role.guest.id
  policy = var.guest_policy_json
}

resource "aws_iam_role" "authenticated" {
  count = local.authenticated ? 1 : 0

  name                 = "${var.name}-cognito-user"
  description          = "Cognito authenticated identities of ${local.pool_name}"
  assume_role_policy   = local.trust["authenticated"]
  permissions_boundary = var.permissions_boundary
  tags                 = var.tags
}

resource "aws_iam_role_policy" "authenticated" {
  count = local.authenticated ? 1 : 0

  name   = "iot-user"
  role   = aws_iam_role.authenticated[0].id
  policy = var.authenticated_policy_json
}
