variable "name" {
  description = "Name prefix for the identity pool and the roles, e.g. \"demo-dev\". Role names get \"-cognito-guest\" / \"-cognito-user\" appended (IAM role names are at most 64 characters)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,48}$", var.name))
    error_message = "name must be 1-48 characters of letters, digits and + = , . @ _ - (IAM role name characters; room is left for the suffix)."
  }
}

variable "identity_pool_name" {
  description = "Name of the Cognito identity pool. null means var.name."
  type        = string
  default     = null

  validation {
    condition     = var.identity_pool_name == null || can(regex("^[A-Za-z0-9_+=,.@ -]{1,128}$", var.identity_pool_name))
    error_message = "identity_pool_name must be 1-128 characters of letters, digits, spaces and _ + = , . @ - (Cognito's identity pool name charset)."
  }
}

variable "allow_classic_flow" {
  description = "Allow Cognito's basic (classic) authflow (GetOpenIdToken + STS AssumeRoleWithWebIdentity). Leave false: the enhanced flow (GetId + GetCredentialsForIdentity) is what the example client uses, and the classic flow skips the session scope-down Cognito applies to guests."
  type        = bool
  default     = false
}

variable "guest_policy_json" {
  description = "IAM policy JSON for guest (unauthenticated) identities, as rendered by `iotws generate` into build/cognito/<profile>.iam.json. Pass it with file(\"$${path.root}/build/cognito/guest.iam.json\")."
  type        = string

  validation {
    condition     = can(jsondecode(var.guest_policy_json).Statement) && try(jsondecode(var.guest_policy_json).Version, "") == "2012-10-17"
    error_message = "guest_policy_json must be an IAM policy document in JSON with \"Version\": \"2012-10-17\" (policy variables need it) and a Statement; run `make generate` and pass file(\".../build/cognito/guest.iam.json\")."
  }

  validation {
    # Guests are anyone on the internet: no Action "*"/"iot:*" and no Resource "*".
    condition = alltrue([
      for s in try(flatten([jsondecode(var.guest_policy_json).Statement]), []) :
      alltrue([for a in try(flatten([s.Action]), []) : !contains(["*", "iot:*"], a)]) &&
      alltrue([for r in try(flatten([s.Resource]), []) : r != "*"]) &&
      try(s.NotAction, null) == null && try(s.NotResource, null) == null
    ])
    error_message = "guest_policy_json must not grant Action \"*\" or \"iot:*\", Resource \"*\", NotAction or NotResource: render it from the access spec (`make generate`)."
  }
}

variable "authenticated_policy_json" {
  description = "IAM policy JSON for authenticated identities, or null for no authenticated role. Note: authenticated identities ALSO need an IoT policy attached to their identity id (docs/cognito-guests.md#guest-and-authenticated-identities); they get the intersection. See authenticated_iot_policy_document."
  type        = string
  default     = null

  validation {
    condition     = var.authenticated_policy_json == null || can(jsondecode(var.authenticated_policy_json).Statement)
    error_message = "authenticated_policy_json must be null or an IAM policy document in JSON with a Statement."
  }
}

variable "authenticated_iot_policy_document" {
  description = "IoT policy document (JSON) for authenticated identities, or null. The module creates the aws_iot_policy; attaching it to each identity id (iot:AttachPolicy with target = the identity id) is done by your backend when a user signs in, because identity ids exist only then."
  type        = string
  default     = null

  validation {
    condition     = var.authenticated_iot_policy_document == null || can(jsondecode(var.authenticated_iot_policy_document).Statement)
    error_message = "authenticated_iot_policy_document must be null or an IoT policy document in JSON with a Statement."
  }

  validation {
    # A named IoT policy is at most 2,048 characters without white space (docs/iot-policies.md#size-limits).
    condition     = var.authenticated_iot_policy_document == null || length(replace(coalesce(var.authenticated_iot_policy_document, "{}"), "/\\s/", "")) <= 2048
    error_message = "authenticated_iot_policy_document is over 2,048 characters without white space, the IoT policy size limit: grant fewer topics."
  }
}

variable "cognito_identity_providers" {
  description = "Cognito user pool app clients whose users become authenticated identities. Only used with authenticated_policy_json."
  type = list(object({
    client_id               = string
    provider_name           = string
    server_side_token_check = optional(bool, true)
  }))
  default = []

  validation {
    condition     = alltrue([for p in var.cognito_identity_providers : can(regex("^cognito-idp\\.[a-z0-9-]+\\.amazonaws\\.com/[a-z0-9-]+_[0-9A-Za-z]+$", p.provider_name))])
    error_message = "each provider_name must look like cognito-idp.<region>.amazonaws.com/<user pool id>."
  }
}

variable "supported_login_providers" {
  description = "Public login providers (e.g. {\"accounts.google.com\" = \"<client id>\"}) for authenticated identities."
  type        = map(string)
  default     = {}
}

variable "permissions_boundary" {
  description = "ARN of a permissions boundary for the roles this module creates, or null."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:policy/.+$", var.permissions_boundary))
    error_message = "permissions_boundary must be null or an IAM policy ARN (arn:aws:iam::<account>:policy/<name>)."
  }
}

variable "tags" {
  description = "Tags for every resource that supports them."
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
