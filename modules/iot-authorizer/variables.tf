# ---------------------------------------------------------------------------------------
# Authorizer (docs/custom-authorizer.md#response: CreateAuthorizer constraints)
# ---------------------------------------------------------------------------------------

variable "name" {
  description = "Name of the IoT custom authorizer (clients select it with x-amz-customauthorizer-name). 1-128 of letters, digits, _ = , @ -. Also the default Lambda function and IAM role name. Take it from the generated build (`config.json` key `name`)."
  type        = string

  validation {
    condition     = can(regex("^[\\w=,@-]{1,128}$", var.name))
    error_message = "name must be 1-128 characters from: letters, digits, _ = , @ - (the CreateAuthorizer pattern [\\w=,@-]+)."
  }
}

variable "status" {
  description = "Authorizer status: ACTIVE or INACTIVE. INACTIVE rejects every connection that selects it."
  type        = string
  default     = "ACTIVE"

  validation {
    condition     = contains(["ACTIVE", "INACTIVE"], var.status)
    error_message = "status must be one of: ACTIVE, INACTIVE."
  }
}

variable "signing_disabled" {
  description = "true (default): IoT passes the token to the Lambda unchecked and the Lambda verifies it (browsers cannot sign). false: IoT verifies an RSA SHA-256 signature of the token first, which needs token_key_name and token_signing_public_keys. AWS cannot change this after creation: switching it replaces the authorizer (README.md, \"Things to know\")."
  type        = bool
  default     = true
}

variable "token_key_name" {
  description = "Name of the header / query parameter / user-name query key that carries the token (IoT puts it in the event's `token`). 1-128 of letters, digits, _ and -. null: no token key. Take it from the generated build (`config.json` key `token.key_name`) so that the spec stays the single source of truth."
  type        = string
  default     = null

  validation {
    condition     = var.token_key_name == null || can(regex("^[a-zA-Z0-9_-]{1,128}$", coalesce(var.token_key_name, "-")))
    error_message = "token_key_name must be null or 1-128 characters from: letters, digits, _ and -."
  }
}

variable "token_signing_public_keys" {
  description = "Only with signing_disabled = false: map of key name (letters, digits, : _ -) to a PEM RSA public key (at least 2,048 bits) that IoT uses to verify token signatures."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.token_signing_public_keys) : can(regex("^[a-zA-Z0-9:_-]+$", k))])
    error_message = "token_signing_public_keys names must use only: letters, digits, : _ and -."
  }

  validation {
    condition = alltrue([
      for v in values(var.token_signing_public_keys) :
      can(regex("^\\s*-----BEGIN (RSA )?PUBLIC KEY-----[A-Za-z0-9+/=\\s]+-----END (RSA )?PUBLIC KEY-----\\s*$", v))
    ])
    error_message = "token_signing_public_keys values must be PEM public keys: -----BEGIN PUBLIC KEY----- ... -----END PUBLIC KEY----- (or the RSA PUBLIC KEY form)."
  }
}

variable "enable_caching_for_http" {
  description = "Cache the Lambda's answer for refreshAfterInSeconds on persistent HTTP connections (does not affect MQTT/WebSockets)."
  type        = bool
  default     = false
}

variable "default_authorizer" {
  description = "Optional: create an AWS-managed domain configuration (a second iot:Data-ATS endpoint) whose default authorizer is this one, so clients need not send x-amz-customauthorizer-name. null (default): none; clients name the authorizer (see the wss_url output)."
  type = object({
    domain_configuration_name = string
    allow_authorizer_override = optional(bool, false)
  })
  default = null

  validation {
    condition = var.default_authorizer == null || (
      can(regex("^[\\w.-]{1,128}$", try(var.default_authorizer.domain_configuration_name, ""))) &&
      !startswith(lower(try(var.default_authorizer.domain_configuration_name, "")), "iot:")
    )
    error_message = "default_authorizer.domain_configuration_name must be 1-128 characters from: letters, digits, _ . - (names starting with IoT: are reserved by AWS)."
  }
}

# ---------------------------------------------------------------------------------------
# Lambda function
# ---------------------------------------------------------------------------------------

variable "lambda_zip_path" {
  description = "Path to the authorizer zip built by `make package` (`iotws package`), e.g. \"$${path.module}/build/authorizer.zip\". The zip is reproducible, so its hash changes only when its content does."
  type        = string

  validation {
    condition     = endswith(var.lambda_zip_path, ".zip")
    error_message = "lambda_zip_path must name a .zip file (run `make package` to build it)."
  }
}

variable "function_name" {
  description = "Lambda function name (1-64 of letters, digits, _ and -). null: the authorizer name, with characters Lambda does not allow replaced by - and cut to 64."
  type        = string
  default     = null

  validation {
    condition     = var.function_name == null || can(regex("^[a-zA-Z0-9_-]{1,64}$", coalesce(var.function_name, "-")))
    error_message = "function_name must be null or 1-64 characters from: letters, digits, _ and -."
  }
}

variable "description" {
  description = "Lambda function description."
  type        = string
  default     = "AWS IoT Core custom authorizer (iotws)"
}

variable "handler" {
  description = "Lambda handler inside the zip."
  type        = string
  default     = "app.handler"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.]+\\.[A-Za-z0-9_]+$", var.handler))
    error_message = "handler must look like module.function, e.g. app.handler."
  }
}

variable "runtime" {
  description = "Python runtime of the authorizer."
  type        = string
  default     = "python3.13"

  validation {
    condition     = contains(["python3.11", "python3.12", "python3.13"], var.runtime)
    error_message = "runtime must be one of: python3.11, python3.12, python3.13."
  }
}

variable "architecture" {
  description = "Instruction set of the function: arm64 (default, cheaper) or x86_64. The authorizer is pure Python, so both work."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be one of: arm64, x86_64."
  }
}

variable "timeout" {
  description = "Lambda timeout in seconds. IoT Core gives a custom authorizer 5 seconds (docs/custom-authorizer.md#response), so 1..5."
  type        = number
  default     = 5

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 5 && floor(var.timeout) == var.timeout
    error_message = "timeout must be a whole number of seconds from 1 to 5 (IoT Core waits at most 5 seconds for an authorizer)."
  }
}

variable "memory_size" {
  description = "Lambda memory in MB (128..10240). More memory also means more CPU, hence faster cold starts."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB from 128 to 10240."
  }
}

variable "reserved_concurrent_executions" {
  description = "Optional reserved concurrency (at least 1). null (default): no reservation, the function shares the account's pool."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrent_executions == null || try(var.reserved_concurrent_executions >= 1, false)
    error_message = "reserved_concurrent_executions must be null or at least 1 (0 would throttle every connection)."
  }
}

variable "environment_variables" {
  description = "Environment variables of the function (never secrets: put those in SSM or Secrets Manager and grant them with secret_* variables). Names: letters, digits and _, starting with a letter, not AWS_ (reserved)."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for k in keys(var.environment_variables) :
      can(regex("^[a-zA-Z][a-zA-Z0-9_]*$", k)) && !startswith(k, "AWS_")
    ])
    error_message = "environment_variables names must match ^[a-zA-Z][a-zA-Z0-9_]*$ and must not start with AWS_ (reserved by Lambda)."
  }
}

# ---------------------------------------------------------------------------------------
# The authorizer's secret (hs256 mode): the role may read exactly this, nothing else
# ---------------------------------------------------------------------------------------

variable "secret_ssm_parameter_arn" {
  description = "ARN of the SSM parameter (SecureString) holding the token secret; the role gets ssm:GetParameter on it only. null: none."
  type        = string
  default     = null

  validation {
    condition     = var.secret_ssm_parameter_arn == null || can(regex("^arn:aws[a-z-]*:ssm:[a-z0-9-]+:[0-9]{12}:parameter/[a-zA-Z0-9_.\\-/]+$", coalesce(var.secret_ssm_parameter_arn, "-")))
    error_message = "secret_ssm_parameter_arn must be null or an SSM parameter ARN: arn:aws:ssm:REGION:ACCOUNT:parameter/NAME (no wildcards)."
  }
}

variable "secret_secretsmanager_arn" {
  description = "ARN of the Secrets Manager secret holding the token secret (the full ARN, or the ARN with its 6-character suffix written as -??????); the role gets secretsmanager:GetSecretValue on it only. null: none."
  type        = string
  default     = null

  validation {
    condition     = var.secret_secretsmanager_arn == null || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[a-zA-Z0-9/_+=.@?-]+$", coalesce(var.secret_secretsmanager_arn, "-")))
    error_message = "secret_secretsmanager_arn must be null or a Secrets Manager ARN: arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX (no *)."
  }
}

variable "secret_kms_key_arn" {
  description = "ARN of the customer-managed KMS key that encrypts the secret; the role gets kms:Decrypt on it, only through SSM or Secrets Manager. null: the secret uses the AWS-managed key (no grant needed)."
  type        = string
  default     = null

  validation {
    condition     = var.secret_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+$", coalesce(var.secret_kms_key_arn, "-")))
    error_message = "secret_kms_key_arn must be null or a KMS key ARN: arn:aws:kms:REGION:ACCOUNT:key/KEY-ID (alias ARNs do not work in IAM policies)."
  }
}

# ---------------------------------------------------------------------------------------
# Logs and IAM
# ---------------------------------------------------------------------------------------

variable "log_retention_in_days" {
  description = "Retention of the /aws/lambda/<function> log group, where every allow/deny decision is logged. One of the CloudWatch values."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be one of: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "log_kms_key_arn" {
  description = "Optional KMS key ARN that encrypts the log group (its key policy must allow the CloudWatch Logs service). null: CloudWatch's default encryption."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+$", coalesce(var.log_kms_key_arn, "-")))
    error_message = "log_kms_key_arn must be null or a KMS key ARN: arn:aws:kms:REGION:ACCOUNT:key/KEY-ID."
  }
}

variable "role_name" {
  description = "Name of the function's IAM role (1-64 of letters, digits, + = , . @ _ -). null: the function name."
  type        = string
  default     = null

  validation {
    condition     = var.role_name == null || can(regex("^[\\w+=,.@-]{1,64}$", coalesce(var.role_name, "-")))
    error_message = "role_name must be null or 1-64 characters from: letters, digits, + = , . @ _ -."
  }
}

variable "role_permissions_boundary_arn" {
  description = "Optional ARN of a permissions boundary policy for the role."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource that supports them."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------
# Operating it (monitoring.tf, README.md "Monitoring")
# ---------------------------------------------------------------------------------------

variable "monitoring" {
  description = "Metric filters on the decision log (Allows, Denies, DeniesByReason, Errors in namespace `namespace`, default iotws/<name>), alarms on Lambda errors and throttles, decision errors and a deny rate above `deny_rate_percent` of at least `deny_rate_min_decisions` decisions per period, a dashboard (IoT connections and messages, authorizer, `rule_names` failures). Alarms notify `sns_topic_arn` and/or a topic the module creates (`create_sns_topic`). `enabled = false` creates none of it."
  type = object({
    enabled                 = optional(bool, true)
    namespace               = optional(string)
    period_seconds          = optional(number, 300)
    evaluation_periods      = optional(number, 1)
    deny_rate_percent       = optional(number, 50)
    deny_rate_min_decisions = optional(number, 20)
    sns_topic_arn           = optional(string)
    create_sns_topic        = optional(bool, false)
    dashboard               = optional(bool, true)
    rule_names              = optional(list(string), [])
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains([60, 300, 900, 3600], var.monitoring.period_seconds) && var.monitoring.evaluation_periods >= 1 && floor(var.monitoring.evaluation_periods) == var.monitoring.evaluation_periods
    error_message = "monitoring.period_seconds must be one of 60, 300, 900, 3600 and monitoring.evaluation_periods a whole number >= 1."
  }

  validation {
    condition     = var.monitoring.deny_rate_percent > 0 && var.monitoring.deny_rate_percent < 100 && var.monitoring.deny_rate_min_decisions >= 1
    error_message = "monitoring.deny_rate_percent must be between 0 and 100 (exclusive) and monitoring.deny_rate_min_decisions at least 1."
  }

  validation {
    condition     = var.monitoring.sns_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", coalesce(var.monitoring.sns_topic_arn, "-")))
    error_message = "monitoring.sns_topic_arn must be null or an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)."
  }

  validation {
    condition     = var.monitoring.namespace == null || can(regex("^[^:$][^:]{0,254}$", coalesce(var.monitoring.namespace, "-")))
    error_message = "monitoring.namespace must be null or 1-255 characters, not starting with $ and without ':'."
  }

  validation {
    condition     = alltrue([for r in var.monitoring.rule_names : can(regex("^[a-zA-Z0-9_]{1,128}$", r))])
    error_message = "monitoring.rule_names must be topic rule names (1-128 of letters, digits, _)."
  }
}

variable "iot_logging" {
  description = "ACCOUNT-WIDE: IoT Core logging (aws_iot_logging_options) for every app in this account and region, written to the AWSIotLogsV2 log group, with a role IoT assumes. Off by default: only one stack per account and region should own it. `level`: ERROR, WARN, INFO, DEBUG or DISABLED (DEBUG logs every message and costs accordingly)."
  type = object({
    enabled = optional(bool, false)
    level   = optional(string, "ERROR")
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains(["ERROR", "WARN", "INFO", "DEBUG", "DISABLED"], var.iot_logging.level)
    error_message = "iot_logging.level must be one of: ERROR, WARN, INFO, DEBUG, DISABLED."
  }
}

variable "publisher_topic_prefix" {
  description = "The app's topic prefix (the spec's `prefix`, e.g. chat/dev) for the `publisher_policy_json` output: iot:Publish on <prefix>/* and iot:DescribeEndpoint, for backends that publish to the app's clients. null: the output is null."
  type        = string
  default     = null

  validation {
    condition     = var.publisher_topic_prefix == null || can(regex("^[^+#*?$/][^+#*?]{0,200}$", coalesce(var.publisher_topic_prefix, "-")))
    error_message = "publisher_topic_prefix must be null or a topic prefix without + # * ? and not starting with / or $ (e.g. chat/dev)."
  }
}

variable "build_metadata" {
  description = "Contents of the build's `metadata.json` (`iotws generate` writes it), e.g. `try(file(\"$${path.module}/build/metadata.json\"), \"\")`. The module refuses, at plan time, a build that a kit other than 0.1.x produced (the policies and config formats are the kit's). null: not checked."
  type        = string
  default     = null

  validation {
    condition     = var.build_metadata == null || can(regex("^0[.]1[.]", jsondecode(var.build_metadata).kit_version))
    error_message = "build_metadata: the build is missing or was not produced by iotws 0.1.x, the kit version of this module. Fix: install the kit that matches the module's ?ref= (pip install 'iotws==0.1.*'), run `make package` (iotws generate + package) again, then plan; or pin the module to your kit's version (?ref=v<iotws --version>)."
  }
}
