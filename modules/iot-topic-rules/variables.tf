variable "name_prefix" {
  description = "Prefix of every rule name, joined to the rule key with `_` (e.g. `demo_dev` gives `demo_dev_chat_message`). Letters, digits and underscores only: IoT rule names allow no hyphens. The IoT endpoint is shared by every app and stage of an account and region, so use app and stage here. Empty for no prefix."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_]{0,100}$", var.name_prefix))
    error_message = "name_prefix \"${var.name_prefix}\" is invalid: use 0..100 of letters, digits and underscores (IoT rule names allow no hyphens: write demo_dev, not demo-dev)."
  }
}

variable "rules" {
  description = <<-EOT
    Topic rules, keyed by a short name (the rule name is `<name_prefix>_<key>`). Per rule:
    `sql` (must contain `FROM '<topic filter>'`), `sql_version` (default `2016-03-23`: an unset
    version means `2015-10-08`), `enabled`, `description`, and one or more actions:
    `lambda`, `republish`, `sqs`, `sns`, `dynamodbv2`, `kinesis`, `firehose`, `s3`,
    `cloudwatch_logs` (lists, so a rule may use several of a kind), plus an optional
    `error_action` with exactly one target (without it the rule uses the module-wide error log
    group, see `error_log_group`). Republish topics are written as the real topic
    (`$aws/...`); the module doubles the leading `$` in the action, as IoT requires.
    Every rule gets its own IAM role, allowed only the actions and resources it uses, and
    every Lambda target a permission bound to the rule's ARN and this account.
    At most 10 actions per rule (the CreateTopicRule limit).
    Substitution templates (`$${topic(3)}`) in a target let each message choose the
    resource, so the role could not be bounded by the module: they are refused, except in
    `republish.topic`, `dynamodbv2.table_name` and `s3.bucket_name`/`s3.key` together with
    `iam_resources`, the explicit list of resource ARNs the role may write to (for example
    `["arn:aws:iot:us-east-1:123456789012:topic/demo/dev/rooms/*/archive"]`), and nothing else.
  EOT
  type = map(object({
    sql         = string
    sql_version = optional(string, "2016-03-23")
    enabled     = optional(bool, true)
    description = optional(string)

    lambda = optional(list(object({
      function_arn = string
    })))
    republish = optional(list(object({
      topic         = string
      qos           = optional(number, 0)
      iam_resources = optional(list(string))
    })))
    sqs = optional(list(object({
      queue_url  = string
      queue_arn  = optional(string) # derived from queue_url when null
      use_base64 = optional(bool, false)
    })))
    sns = optional(list(object({
      target_arn     = string
      message_format = optional(string, "RAW")
    })))
    dynamodbv2 = optional(list(object({
      table_name    = string
      iam_resources = optional(list(string))
    })))
    kinesis = optional(list(object({
      stream_name   = string
      partition_key = optional(string)
    })))
    firehose = optional(list(object({
      delivery_stream_name = string
      separator            = optional(string)
      batch_mode           = optional(bool)
    })))
    s3 = optional(list(object({
      bucket_name   = string
      key           = string
      canned_acl    = optional(string)
      iam_resources = optional(list(string))
    })))
    cloudwatch_logs = optional(list(object({
      log_group_name = string
      batch_mode     = optional(bool)
    })))

    error_action = optional(object({
      lambda = optional(object({
        function_arn = string
      }))
      republish = optional(object({
        topic         = string
        qos           = optional(number, 0)
        iam_resources = optional(list(string))
      }))
      sqs = optional(object({
        queue_url  = string
        queue_arn  = optional(string)
        use_base64 = optional(bool, false)
      }))
      sns = optional(object({
        target_arn     = string
        message_format = optional(string, "RAW")
      }))
      dynamodbv2 = optional(object({
        table_name    = string
        iam_resources = optional(list(string))
      }))
      kinesis = optional(object({
        stream_name   = string
        partition_key = optional(string)
      }))
      firehose = optional(object({
        delivery_stream_name = string
        separator            = optional(string)
        batch_mode           = optional(bool)
      }))
      s3 = optional(object({
        bucket_name   = string
        key           = string
        canned_acl    = optional(string)
        iam_resources = optional(list(string))
      }))
      cloudwatch_logs = optional(object({
        log_group_name = string
        batch_mode     = optional(bool)
      }))
    }))
  }))
  default = {}

  validation {
    condition     = alltrue([for k in keys(var.rules) : can(regex("^[a-zA-Z0-9_]{1,128}$", k))])
    error_message = "Rule keys become rule names and may use only letters, digits and underscores (1..128; IoT rule names allow no hyphens). Rename: ${join(", ", [for k in keys(var.rules) : "\"${k}\" -> \"${replace(k, "/[^a-zA-Z0-9_]/", "_")}\"" if !can(regex("^[a-zA-Z0-9_]{1,128}$", k))])}."
  }

  validation {
    condition     = alltrue([for k, r in var.rules : can(regex("(?i)\\bFROM\\s+'[^']+'", r.sql))])
    error_message = "Each rule's sql must select FROM a topic filter in single quotes, e.g. SELECT * FROM 'demo/dev/rooms/+/messages/in'. Fix: ${join(", ", [for k, r in var.rules : k if !can(regex("(?i)\\bFROM\\s+'[^']+'", r.sql))])}."
  }

  validation {
    condition     = alltrue([for k, r in var.rules : contains(["2015-10-08", "2016-03-23", "beta"], r.sql_version)])
    error_message = "sql_version must be one of 2016-03-23 (recommended), 2015-10-08, beta. Fix: ${join(", ", [for k, r in var.rules : k if !contains(["2015-10-08", "2016-03-23", "beta"], r.sql_version)])}."
  }

  # Validations per kind iterate over local.action_kinds (main.tf), where the kinds are listed
  # once. They cannot read locals derived from var.rules (Terraform: a cycle), so each one
  # gathers a rule's actions itself: `concat(<the kind's list>, <its error action, if any>)`.
  validation {
    condition     = alltrue([for k, r in var.rules : sum([for kind, _ in local.action_kinds : length(coalesce(r[kind], []))]) > 0])
    error_message = "Each rule needs at least one action (${join(", ", keys(local.action_kinds))}). Rules without one: ${join(", ", [for k, r in var.rules : k if sum([for kind, _ in local.action_kinds : length(coalesce(r[kind], []))]) == 0])}."
  }

  validation {
    condition     = alltrue([for k, r in var.rules : sum([for kind, _ in local.action_kinds : length(coalesce(r[kind], []))]) <= 10])
    error_message = "A topic rule takes at most 10 actions (CreateTopicRule limit): split these rules: ${join(", ", [for k, r in var.rules : "${k} (${sum([for kind, _ in local.action_kinds : length(coalesce(r[kind], []))])} actions)" if sum([for kind, _ in local.action_kinds : length(coalesce(r[kind], []))]) > 10])}."
  }

  # Substitution templates: only where iam_resources bounds them (see the description).
  validation {
    condition     = alltrue([for k, r in var.rules : !can(regex("[$][{]", jsonencode([for kind, def in local.action_kinds : [for a in concat(coalesce(r[kind], []), [for e in [try(r.error_action[kind], null)] : e if e != null]) : [for f in def.fields : a[f]]] if def.iam == null])))])
    error_message = "Substitution templates ($${...}) are refused in ${join(", ", [for kind, def in local.action_kinds : kind if def.iam == null])} targets: the message would choose the resource and the rule's role would need a wildcard. Write the literal name. Rules: ${join(", ", [for k, r in var.rules : k if can(regex("[$][{]", jsonencode([for kind, def in local.action_kinds : [for a in concat(coalesce(r[kind], []), [for e in [try(r.error_action[kind], null)] : e if e != null]) : [for f in def.fields : a[f]]] if def.iam == null])))])}."
  }

  validation {
    condition = alltrue(flatten([for k, r in var.rules : [for kind, def in local.action_kinds : [
      for a in concat(coalesce(r[kind], []), [for e in [try(r.error_action[kind], null)] : e if e != null]) : a.iam_resources == null ? !can(regex("[$][{]", join("/", [for f in def.fields : a[f]]))) : (
        can(regex("[$][{]", join("/", [for f in def.fields : a[f]]))) && length(a.iam_resources) > 0 && alltrue([
          for res in a.iam_resources : !can(regex("[$][{]", res)) && (
            def.iam.service == "s3" ? can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+$", res)) :
            can(regex("^arn:aws[a-z-]*:${def.iam.service}:[a-z0-9-]+:[0-9]{12}:${def.iam.type}[^*].*$", res))
          )
      ]))
    ] if def.iam != null]]))
    error_message = "A templated ${join(", ", [for kind, def in local.action_kinds : "${kind} ${join("/", def.fields)}" if def.iam != null])} needs iam_resources: the explicit, non-empty list of ARNs the rule's role may write to (topics: arn:aws:iot:REGION:ACCOUNT:topic/<literal start>..., tables: arn:aws:dynamodb:REGION:ACCOUNT:table/<literal start>..., objects: arn:aws:s3:::<bucket>/<key pattern>; no templates in them, nothing that starts with *). iam_resources is only accepted on a templated target. Rules to fix: ${join(", ", [for k, r in var.rules : k if can(regex("[$][{]", jsonencode([for kind, def in local.action_kinds : concat(coalesce(r[kind], []), [for e in [try(r.error_action[kind], null)] : e if e != null]) if def.iam != null])))])}."
  }

  validation {
    condition = alltrue(flatten([for k, r in var.rules : [
      for a in concat(coalesce(r.lambda, []), [for e in [try(r.error_action.lambda, null)] : e if e != null]) :
      can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[a-zA-Z0-9_-]+(:[a-zA-Z0-9$_-]+)?$", a.function_arn))
    ]]))
    error_message = "lambda actions need function_arn = the function's ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]); a name alone is not accepted."
  }

  validation {
    condition = alltrue(flatten([for k, r in var.rules : [
      for a in concat(coalesce(r.republish, []), [for e in [try(r.error_action.republish, null)] : e if e != null]) :
      can(regex("^[^+#*?]{1,256}$", a.topic)) && contains([0, 1], a.qos)
    ]]))
    error_message = "republish actions need a topic (1..256 characters, no MQTT wildcards + or #, no * or ?) and qos 0 or 1."
  }

  validation {
    condition = alltrue(flatten([for k, r in var.rules : [
      for a in concat(coalesce(r.sqs, []), [for e in [try(r.error_action.sqs, null)] : e if e != null]) :
      (a.queue_arn != null ? can(regex("^arn:aws[a-z-]*:sqs:", a.queue_arn)) : can(regex("^https://sqs\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/[0-9]{12}/[a-zA-Z0-9_.-]+$", a.queue_url))) && length(a.queue_url) > 0
    ]]))
    error_message = "sqs actions need queue_url (https://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE); for any other URL form also set queue_arn (arn:aws:sqs:...)."
  }

  validation {
    condition = alltrue(flatten([for k, r in var.rules : [
      for a in concat(coalesce(r.sns, []), [for e in [try(r.error_action.sns, null)] : e if e != null]) :
      can(regex("^arn:aws[a-z-]*:sns:", a.target_arn)) && contains(["RAW", "JSON"], a.message_format)
    ]]))
    error_message = "sns actions need target_arn = a topic ARN (arn:aws:sns:...) and message_format RAW or JSON."
  }

  validation {
    condition = alltrue(flatten([for k, r in var.rules : concat(
      [for a in concat(coalesce(r.dynamodbv2, []), [for e in [try(r.error_action.dynamodbv2, null)] : e if e != null]) : length(a.table_name) > 0],
      [for a in concat(coalesce(r.kinesis, []), [for e in [try(r.error_action.kinesis, null)] : e if e != null]) : length(a.stream_name) > 0],
      [for a in concat(coalesce(r.firehose, []), [for e in [try(r.error_action.firehose, null)] : e if e != null]) : length(a.delivery_stream_name) > 0],
      [for a in concat(coalesce(r.s3, []), [for e in [try(r.error_action.s3, null)] : e if e != null]) : length(a.bucket_name) > 0 && length(a.key) > 0],
      [for a in concat(coalesce(r.cloudwatch_logs, []), [for e in [try(r.error_action.cloudwatch_logs, null)] : e if e != null]) : length(a.log_group_name) > 0],
    )]))
    error_message = "Every action needs its target: dynamodbv2.table_name, kinesis.stream_name, firehose.delivery_stream_name, s3.bucket_name and s3.key, cloudwatch_logs.log_group_name must not be empty."
  }

  validation {
    condition = alltrue([for k, r in var.rules : r.error_action == null ? true : length([
      for v in values(r.error_action) : v if v != null
    ]) == 1])
    error_message = "An error_action must point at exactly one target (one of ${join(", ", keys(local.action_kinds))}). Fix: ${join(", ", [for k, r in var.rules : k if try(length([for v in values(r.error_action) : v if v != null]) != 1, false)])}."
  }
}

variable "error_log_group" {
  description = "Module-wide default error action: every rule without its own `error_action` sends its failures (one JSON message per failure) to this CloudWatch log group. `enabled = false` leaves such rules without an error action; `create = false` uses an existing group named `name`. Default name: `/iotws/<name_prefix>/rule-errors`."
  type = object({
    enabled           = optional(bool, true)
    create            = optional(bool, true)
    name              = optional(string)
    retention_in_days = optional(number, 365)
    kms_key_arn       = optional(string)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.error_log_group.create || var.error_log_group.name != null || !var.error_log_group.enabled
    error_message = "error_log_group: with create = false, set name to the existing log group (or enabled = false for no default error action)."
  }

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.error_log_group.retention_in_days)
    error_message = "error_log_group.retention_in_days must be one of 0 (never expire), 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }

  validation {
    condition     = var.error_log_group.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", coalesce(var.error_log_group.kms_key_arn, "x")))
    error_message = "error_log_group.kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID); its key policy must allow the logs.REGION.amazonaws.com service principal."
  }
}

variable "account_id" {
  description = "AWS account id used in the rules' ARNs, the Lambda permissions' `source_account` and the roles' trust conditions. Null (default) reads it with `aws_caller_identity` (STS GetCallerIdentity)."
  type        = string
  default     = null

  validation {
    condition     = var.account_id == null || can(regex("^[0-9]{12}$", coalesce(var.account_id, "x")))
    error_message = "account_id must be 12 digits (quote it: \"123456789012\") or null."
  }
}

variable "tags" {
  description = "Tags for every taggable resource the module creates."
  type        = map(string)
  default     = {}
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
