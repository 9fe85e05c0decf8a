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
  description = "Directory written by `make package EXAMPLE=custom-authorizer`: authorizer.zip and authorizer/config.json. null: ./build next to this file."
  type        = string
  default     = null

  validation {
    condition     = var.build_dir == null || try(length(var.build_dir) > 0, false)
    error_message = "build_dir must be null (./build) or the non-empty path of the directory `make package` wrote."
  }
}

variable "token_signing_public_keys" {
  description = "Extra token-signing public keys (name -> PEM RSA, at least 2,048 bits), merged over the ones the spec lists under authorizer.signing.public_keys. Used only when the spec enables signing."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.token_signing_public_keys : can(regex("^[a-zA-Z0-9:_-]+$", k)) && can(regex("-----BEGIN (RSA )?PUBLIC KEY-----", v))])
    error_message = "token_signing_public_keys: names of letters, digits, : _ - and PEM public key values (RSA, at least 2,048 bits; the module checks the size)."
  }
}

variable "secret_kms_key_arn" {
  description = "Customer-managed KMS key that encrypts the token secret parameter, if any (the role gets kms:Decrypt through SSM only). null: the parameter uses the AWS-managed aws/ssm key."
  type        = string
  default     = null

  validation {
    condition     = var.secret_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+$", coalesce(var.secret_kms_key_arn, "-")))
    error_message = "secret_kms_key_arn must be null or a KMS key ARN: arn:aws:kms:REGION:ACCOUNT:key/KEY-ID."
  }
}

variable "log_retention_in_days" {
  description = "Retention of the authorizer's decision log."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be one of the CloudWatch values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "default_authorizer_domain" {
  description = "Optional name of a domain configuration (extra iot:Data-ATS endpoint) whose default authorizer is this one. null: clients name the authorizer in the URL."
  type        = string
  default     = null

  validation {
    condition     = var.default_authorizer_domain == null || (can(regex("^[\\w.-]{1,128}$", coalesce(var.default_authorizer_domain, "-"))) && !startswith(lower(coalesce(var.default_authorizer_domain, "-")), "iot:"))
    error_message = "default_authorizer_domain must be null or 1-128 characters from: letters, digits, _ . - (not starting with IoT:)."
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
