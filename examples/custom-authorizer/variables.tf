variable "region" {
  description = "AWS region. null: the spec's aws.region (build/authorizer/config.json), else the provider's usual sources (AWS_REGION, profile)."
  type        = string
  default     = null
}

variable "build_dir" {
  description = "Directory written by `make package EXAMPLE=custom-authorizer`: authorizer.zip and authorizer/config.json. null: ./build next to this file."
  type        = string
  default     = null
}

variable "token_signing_public_keys" {
  description = "Extra token-signing public keys (name -> PEM RSA, at least 2,048 bits), merged over the ones the spec lists under authorizer.signing.public_keys. Used only when the spec enables signing."
  type        = map(string)
  default     = {}
}

variable "secret_kms_key_arn" {
  description = "Customer-managed KMS key that encrypts the token secret parameter, if any (the role gets kms:Decrypt through SSM only). null: the parameter uses the AWS-managed aws/ssm key."
  type        = string
  default     = null
}

variable "log_retention_in_days" {
  description = "Retention of the authorizer's decision log."
  type        = number
  default     = 365
}

variable "default_authorizer_domain" {
  description = "Optional name of a domain configuration (extra iot:Data-ATS endpoint) whose default authorizer is this one. null: clients name the authorizer in the URL."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
