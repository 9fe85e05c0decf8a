variable "region" {
  description = "AWS region. null: the spec's aws.region (build/authorizer/config.json), else the provider's usual sources (AWS_REGION, profile)."
  type        = string
  default     = null
}

variable "build_dir" {
  description = "Directory written by `make package EXAMPLE=chat`: authorizer.zip, authorizer/config.json, chat_message.zip and presence.zip. null: ./build next to this file."
  type        = string
  default     = null
}

variable "secret_kms_key_arn" {
  description = "Customer-managed KMS key that encrypts the token secret parameter, if any (the authorizer's role gets kms:Decrypt through SSM only). null: the parameter uses the AWS-managed aws/ssm key."
  type        = string
  default     = null
}

variable "table_kms_key_arn" {
  description = "Customer-managed KMS key for the presence table. null: DynamoDB's AWS-managed key (aws/dynamodb)."
  type        = string
  default     = null
}

variable "log_retention_in_days" {
  description = "Retention of every log group of the example (authorizer decisions, backend Lambdas, rule errors)."
  type        = number
  default     = 365
}

variable "lambda_runtime" {
  description = "Python runtime of the backend Lambdas (chat_message, presence)."
  type        = string
  default     = "python3.13"
}

variable "presence_client_id_pattern" {
  description = "Regular expression (Python `re.fullmatch`) of the client ids whose presence is tracked. The lifecycle topics carry every client of the account and region, not only this app's; the default is the spec's `{sub}-*` rule with the identity character set. Empty: track every client."
  type        = string
  default     = "[A-Za-z0-9_.:@=|-]{1,64}-[A-Za-z0-9_.:@=|-]+"
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
