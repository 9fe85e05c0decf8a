output "identity_pool_id" {
  description = "ID of the Cognito identity pool (\"<region>:<uuid>\"); the web page needs it for GetId."
  value       = try(aws_cognito_identity_pool.this.id, null)
}

output "identity_pool_arn" {
  description = "ARN of the Cognito identity pool."
  value       = try(aws_cognito_identity_pool.this.arn, null)
}

output "guest_role_arn" {
  description = "ARN of the role guest (unauthenticated) identities assume."
  value       = try(aws_iam_role.guest.arn, null)
}

output "guest_role_name" {
  description = "Name of the guest role."
  value       = try(aws_iam_role.guest.name, null)
}

output "authenticated_role_arn" {
  description = "ARN of the role authenticated identities assume, or null when there is none."
  value       = try(aws_iam_role.authenticated[0].arn, null)
}

output "authenticated_iot_policy_name" {
  description = "Name of the IoT policy your backend attaches to each authenticated identity id (iot:AttachPolicy), or null."
  value       = try(aws_iot_policy.authenticated[0].name, null)
}

output "iot_endpoint" {
  description = "The account's iot:Data-ATS endpoint host; browsers connect to wss://<this>/mqtt with a SigV4-presigned URL."
  value       = try(data.aws_iot_endpoint.ats.endpoint_address, null)
}

output "region" {
  description = "Region of the identity pool and the IoT endpoint (the SigV4 signing region)."
  value       = try(data.aws_region.current.id, null) # the region name in hashicorp/aws 5 and 6
}
