# Shared mock data for the module's tests: fixed, realistic values (never random JSON),
# and ARNs known during plan where assertions compare them.

mock_data "aws_partition" {
  defaults = {
    partition  = "aws"
    dns_suffix = "amazonaws.com"
  }
}

mock_data "aws_region" {
  defaults = {
    id   = "us-east-1"
    name = "us-east-1"
  }
}

mock_data "aws_caller_identity" {
  defaults = {
    account_id = "123456789012"
    arn        = "arn:aws:iam::123456789012:user/test"
    user_id    = "AIDATEST"
  }
}

mock_data "aws_iot_endpoint" {
  defaults = {
    endpoint_address = "example-ats.iot.us-east-1.amazonaws.com"
  }
}

mock_resource "aws_iot_authorizer" {
  override_during = plan
  defaults = {
    arn = "arn:aws:iot:us-east-1:123456789012:authorizer/test-authorizer"
  }
}

mock_resource "aws_lambda_function" {
  override_during = plan
  defaults = {
    arn = "arn:aws:lambda:us-east-1:123456789012:function:test-authorizer"
  }
}

mock_resource "aws_iam_role" {
  override_during = plan
  defaults = {
    arn = "arn:aws:iam::123456789012:role/test-authorizer"
  }
}
