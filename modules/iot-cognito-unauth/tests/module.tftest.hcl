# Unit tests of the module with a mocked AWS provider: no credentials, no network.
#   terraform init && terraform test

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = {
      id   = "us-east-1"
      name = "us-east-1"
    }
  }

  mock_data "aws_iot_endpoint" {
    defaults = {
      endpoint_address = "abc123example-ats.iot.us-east-1.amazonaws.com"
    }
  }

  mock_resource "aws_cognito_identity_pool" {
    defaults = {
      id  = "us-east-1:11111111-2222-3333-4444-555555555555"
      arn = "arn:aws:cognito-identity:us-east-1:123456789012:identitypool/us-east-1:11111111-2222-3333-4444-555555555555"
    }
  }

  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/mock"
    }
  }
}

variables {
  name = "demo-dev"
  # What `iotws generate` renders for a guest profile (build/cognito/guest.iam.json).
  guest_policy_json = <<-JSON
    {"Version":"2012-10-17","Statement":[
      {"Sid":"Connect","Effect":"Allow","Action":"iot:Connect","Resource":["arn:aws:iot:us-east-1:123456789012:client/guest-$${cognito-identity.amazonaws.com:sub}"]},
      {"Sid":"Subscribe","Effect":"Allow","Action":"iot:Subscribe","Resource":["arn:aws:iot:us-east-1:123456789012:topicfilter/demo/dev/server"]},
      {"Sid":"Receive","Effect":"Allow","Action":"iot:Receive","Resource":["arn:aws:iot:us-east-1:123456789012:topic/demo/dev/server"]},
      {"Sid":"Publish","Effect":"Allow","Action":"iot:Publish","Resource":["arn:aws:iot:us-east-1:123456789012:topic/demo/dev/client"]}]}
  JSON
}

run "guest_pool_and_trust_policy" {
  command = apply

  assert {
    condition     = aws_cognito_identity_pool.this.allow_unauthenticated_identities == true
    error_message = "the pool must allow guest identities"
  }

  assert {
    condition     = aws_cognito_identity_pool.this.allow_classic_flow == false
    error_message = "the classic flow must be off by default"
  }

  assert {
    condition     = aws_cognito_identity_pool.this.identity_pool_name == "demo-dev"
    error_message = "the pool name defaults to var.name"
  }

  assert {
    condition     = jsondecode(aws_iam_role.guest.assume_role_policy).Statement[0].Action == "sts:AssumeRoleWithWebIdentity"
    error_message = "guests assume the role with a web identity"
  }

  assert {
    condition     = jsondecode(aws_iam_role.guest.assume_role_policy).Statement[0].Principal.Federated == "cognito-identity.amazonaws.com"
    error_message = "only Cognito may federate into the guest role"
  }

  assert {
    condition     = jsondecode(aws_iam_role.guest.assume_role_policy).Statement[0].Condition.StringEquals["cognito-identity.amazonaws.com:aud"] == aws_cognito_identity_pool.this.id
    error_message = "the trust policy must pin aud to this identity pool (docs/cognito-guests.md#trust-policy)"
  }

  assert {
    condition     = jsondecode(aws_iam_role.guest.assume_role_policy).Statement[0].Condition["ForAnyValue:StringLike"]["cognito-identity.amazonaws.com:amr"] == "unauthenticated"
    error_message = "the guest trust policy must pin amr = unauthenticated"
  }

  assert {
    condition     = length(keys(jsondecode(aws_iam_role.guest.assume_role_policy).Statement[0].Condition)) == 2
    error_message = "the trust policy has exactly the aud and amr conditions"
  }

  assert {
    condition     = length(aws_cognito_identity_pool_roles_attachment.this.roles) == 1 && aws_cognito_identity_pool_roles_attachment.this.roles["unauthenticated"] == aws_iam_role.guest.arn
    error_message = "only the guest role is attached when no authenticated policy is given"
  }

  assert {
    condition     = aws_iam_role_policy.guest.policy == var.guest_policy_json
    error_message = "the guest role's inline policy is the rendered document, unchanged"
  }

  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.guest.policy).Statement :
      alltrue([for r in flatten([s.Resource]) : r != "*" && !endswith(r, ":*")])
    ])
    error_message = "the guest policy must have no * resources"
  }

  assert {
    condition     = length(aws_iam_role.authenticated) == 0 && length(aws_iot_policy.authenticated) == 0
    error_message = "no authenticated role or IoT policy unless asked for"
  }

  assert {
    condition     = output.iot_endpoint == "abc123example-ats.iot.us-east-1.amazonaws.com" && output.region == "us-east-1"
    error_message = "the endpoint and region outputs come from the data sources"
  }

  assert {
    condition     = output.identity_pool_id == aws_cognito_identity_pool.this.id && output.guest_role_arn == aws_iam_role.guest.arn
    error_message = "outputs name the pool and the guest role"
  }
}

run "authenticated_role_is_optional" {
  command = apply

  variables {
    authenticated_policy_json         = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"arn:aws:iot:us-east-1:123456789012:client/$${cognito-identity.amazonaws.com:sub}\"}]}"
    authenticated_iot_policy_document = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"arn:aws:iot:us-east-1:123456789012:client/$${cognito-identity.amazonaws.com:sub}\"}]}"
    identity_pool_name                = "demo dev pool"
  }

  assert {
    condition     = jsondecode(aws_iam_role.authenticated[0].assume_role_policy).Statement[0].Condition["ForAnyValue:StringLike"]["cognito-identity.amazonaws.com:amr"] == "authenticated"
    error_message = "the authenticated trust policy must pin amr = authenticated"
  }

  assert {
    condition     = jsondecode(aws_iam_role.authenticated[0].assume_role_policy).Statement[0].Condition.StringEquals["cognito-identity.amazonaws.com:aud"] == aws_cognito_identity_pool.this.id
    error_message = "the authenticated trust policy must pin aud to this pool"
  }

  assert {
    condition     = length(aws_cognito_identity_pool_roles_attachment.this.roles) == 2 && aws_cognito_identity_pool_roles_attachment.this.roles["authenticated"] == aws_iam_role.authenticated[0].arn
    error_message = "both roles are attached"
  }

  assert {
    condition     = aws_iot_policy.authenticated[0].name == "demo-dev-cognito-user"
    error_message = "the IoT policy for authenticated identities is created"
  }

  assert {
    condition     = aws_cognito_identity_pool.this.identity_pool_name == "demo dev pool"
    error_message = "identity_pool_name overrides the name"
  }
}

run "classic_flow_can_be_enabled" {
  command = plan

  variables {
    allow_classic_flow = true
  }

  assert {
    condition     = aws_cognito_identity_pool.this.allow_classic_flow == true
    error_message = "allow_classic_flow is passed through"
  }
}

# One run per validation rule.

run "rejects_bad_name" {
  command = plan
  variables {
    name = "demo/dev"
  }
  expect_failures = [var.name]
}

run "rejects_long_name" {
  command = plan
  variables {
    name = "a-name-that-is-far-too-long-for-an-iam-role-suffix"
  }
  expect_failures = [var.name]
}

run "rejects_bad_pool_name" {
  command = plan
  variables {
    identity_pool_name = "pool#1"
  }
  expect_failures = [var.identity_pool_name]
}

run "rejects_guest_policy_that_is_not_json" {
  command = plan
  variables {
    guest_policy_json = "Version: 2012-10-17"
  }
  expect_failures = [var.guest_policy_json]
}

run "rejects_guest_policy_with_star_resource" {
  command = plan
  variables {
    guest_policy_json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\"}]}"
  }
  expect_failures = [var.guest_policy_json]
}

run "rejects_guest_policy_with_star_action" {
  command = plan
  variables {
    guest_policy_json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"iot:*\"],\"Resource\":\"arn:aws:iot:us-east-1:123456789012:topic/a\"}]}"
  }
  expect_failures = [var.guest_policy_json]
}

run "rejects_authenticated_policy_that_is_not_json" {
  command = plan
  variables {
    authenticated_policy_json = "{not json"
  }
  expect_failures = [var.authenticated_policy_json]
}

run "rejects_iot_policy_that_is_not_json" {
  command = plan
  variables {
    authenticated_iot_policy_document = "[]"
  }
  expect_failures = [var.authenticated_iot_policy_document]
}

run "rejects_oversize_iot_policy" {
  command = plan
  variables {
    authenticated_iot_policy_document = jsonencode({
      Version   = "2012-10-17"
      Statement = [{ Effect = "Allow", Action = "iot:Publish", Resource = [for i in range(100) : "arn:aws:iot:us-east-1:123456789012:topic/demo/dev/topic-${i}"] }]
    })
  }
  expect_failures = [var.authenticated_iot_policy_document]
}

run "rejects_bad_provider_name" {
  command = plan
  variables {
    cognito_identity_providers = [{ client_id = "abc", provider_name = "accounts.google.com" }]
  }
  expect_failures = [var.cognito_identity_providers]
}

run "rejects_bad_permissions_boundary" {
  command = plan
  variables {
    permissions_boundary = "boundary"
  }
  expect_failures = [var.permissions_boundary]
}
