variable "region" {
  description = "AWS region. null: the spec's aws.region (build/authorizer/config.json), else the provider's usual sources (AWS_REGION, profile)."
  type        = string
  default     = null

  validation {
    condition     = var.region == null || can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", coalesce(var.region, "x")))
    error_message = "region must be null or a region code such as us-east-1."
  }
}

variable "build_dir" {
  description = "Directory written by `make package EXAMPLE=chat`: authorizer.zip, authorizer/config.json, chat_message.zip and presence.zip. null: ./build next to this file."
  type        = string
  default     = null

  validation {
    condition     = var.build_dir == null || try(length(var.build_dir) > 0, false)
    error_message = "build_dir must be null (./build) or the non-empty path of the directory `make package` wrote."
  }
}

variable "secret_kms_key_arn" {
  description = "Customer-managed KMS key that encrypts the token secret parameter, if any (the authorizer's role gets kms:Decrypt through SSM only). null: the parameter uses the AWS-managed aws/ssm key."
  type        = string
  default     = null

  validation {
    condition     = var.secret_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+$", coalesce(var.secret_kms_key_arn, "-")))
    error_message = "secret_kms_key_arn must be null or a KMS key ARN: arn:aws:kms:REGION:ACCOUNT:key/KEY-ID."
  }
}

variable "table_kms_key_arn" {
  description = "Customer-managed KMS key for the presence table. null: DynamoDB's AWS-managed key (aws/dynamodb)."
  type        = string
  default     = null

  validation {
    condition     = var.table_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+$", coalesce(var.table_kms_key_arn, "-")))
    error_message = "table_kms_key_arn must be null or a KMS key ARN: arn:aws:kms:REGION:ACCOUNT:key/KEY-ID."
  }
}

variable "log_retention_in_days" {
  description = "Retention of every log group of the example (authorizer decisions, backend Lambdas, rule errors)."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be one of the CloudWatch values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "lambda_runtime" {
  description = "Python runtime of the backend Lambdas (chat_message, presence)."
  type        = string
  default     = "python3.13"

  validation {
    condition     = contains(["python3.11", "python3.12", "python3.13"], var.lambda_runtime)
    error_message = "lambda_runtime must be one of: python3.11, python3.12, python3.13 (the backends need Python 3.11 or later)."
  }
}

variable "presence_client_id_pattern" {
  description = "Regular expression (Python `re.fullmatch`) of the client ids whose presence is tracked. The lifecycle topics carry every client of the account and region, not only this app's; the default is the spec's `{sub}-*` rule with the identity character set. Empty: track every client."
  type        = string
  default     = "[A-Za-z0-9_.:@=|-]{1,64}-[A-Za-z0-9_.:@=|-]+"

  validation {
    condition     = can(regexall(var.presence_client_id_pattern, ""))
    error_message = "presence_client_id_pattern must be empty or a valid regular expression (Python re.fullmatch syntax; keep to the subset Terraform's RE2 also parses)."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256 && !startswith(lower(k), "aws:")])
    error_message = "tags: keys 1-128 characters, values at most 256, no key starting with aws: (reserved)."
  }
}

variable "monitoring" {
  description = "Metric filters, alarms and a dashboard for the authorizer (module iot-authorizer, `monitoring`). false: none of them (nothing billed at rest but log storage)."
  type        = bool
  default     = true
  nullable    = false
}
