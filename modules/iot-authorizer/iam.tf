# The function's role: write its own log group, read its own secret, nothing else.

locals {
  assume_role_policy = {
    Version = "2012-10-17"
    Statement = [{
      Sid       = "LambdaAssumeRole"
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
      }
    }]
  }

  log_statements = [{
    Sid      = "WriteOwnLogs"
    Effect   = "Allow"
    Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    Resource = ["${local.log_group_arn}:*"]
  }]

  ssm_statements = var.secret_ssm_parameter_arn == null ? [] : [{
    Sid      = "ReadOwnSecretParameter"
    Effect   = "Allow"
    Action   = ["ssm:GetParameter"]
    Resource = [var.secret_ssm_parameter_arn]
  }]

  secretsmanager_statements = var.secret_secretsmanager_arn == null ? [] : [{
    Sid      = "ReadOwnSecret"
    Effect   = "Allow"
    Action   = ["secretsmanager:GetSecretValue"]
    Resource = [var.secret_secretsmanager_arn]
  }]

  kms_services = compact([
    var.secret_ssm_parameter_arn == null ? "" : "ssm.${local.region}.amazonaws.com",
    var.secret_secretsmanager_arn == null ? "" : "secretsmanager.${local.region}.amazonaws.com",
  ])

  kms_statements = var.secret_kms_key_arn == null ? [] : [{
    Sid       = "DecryptOwnSecret"
    Effect    = "Allow"
    Action    = ["kms:Decrypt"]
    Resource  = [var.secret_kms_key_arn]
    Condition = { StringEquals = { "kms:ViaService" = local.kms_services } }
  }]

  role_policy = {
    Version = "2012-10-17"
    Statement = concat(
      local.log_statements,
      local.ssm_statements,
      local.secretsmanager_statements,
      local.kms_statements,
    )
  }
}

resource "aws_iam_role" "this" {
  name                 = local.role_name
  description          = "Execution role of the IoT custom authorizer ${var.name}"
  assume_role_policy   = jsonencode(local.assume_role_policy)
  permissions_boundary = var.role_permissions_boundary_arn
  tags                 = var.tags
}

resource "aws_iam_role_policy" "this" {
  name   = "authorizer"
  role   = aws_iam_role.this.id
  policy = jsonencode(local.role_policy)
}
