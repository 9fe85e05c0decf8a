# One expect_failures run per validation rule and precondition (HashiCorp style): each
# proves that the rule rejects a bad value. command = plan, mocked provider.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name            = "test-authorizer"
  lambda_zip_path = "./tests/fixtures/authorizer.zip"
}

run "name_pattern" {
  command = plan
  variables {
    name = "bad name/with spaces"
  }
  expect_failures = [var.name]
}

run "name_length" {
  command = plan
  variables {
    name = "a12345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678"
  }
  expect_failures = [var.name]
}

run "status_allowed_values" {
  command = plan
  variables {
    status = "ENABLED"
  }
  expect_failures = [var.status]
}

run "token_key_name_pattern" {
  command = plan
  variables {
    token_key_name = "token key"
  }
  expect_failures = [var.token_key_name]
}

run "token_signing_public_keys_names" {
  command = plan
  variables {
    signing_disabled = false
    token_key_name   = "token"
    token_signing_public_keys = {
      "bad key!" = <<-PEM
-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAl5D84jIUVY7wYPYU1PWe
lHTxTYOQ3Rr+pW4i0K4nYDerIizbBz0gvtT9m/9mq4FuYJxetWamnMKIOM+93qGq
G6i2pdjVWr7PPRC5wVwjTEVUqPiH14R241HTeKOR6n/TIsq0JGvJ0cAfXO0bAR50
WFck4BC6KUYTZ8ElOJgHS4diolD94csw/dmZ23L2zgi350LtQfJu0j5w+gqzbXhY
7vG6oxhrBOKcKY7tToIL3QjZNI1mKAbTp3UpUzq5bi8Q/Kq9pOeNhhwwlE75cN5R
R3Pw70aJrkILL6vthYZeDQN+y5WJzkohlIq9zwootJdkjlEixwA3rzobPLMqYLa8
9wIDAQAB
-----END PUBLIC KEY-----
PEM
    }
  }
  expect_failures = [var.token_signing_public_keys]
}

run "token_signing_public_keys_pem" {
  command = plan
  variables {
    signing_disabled = false
    token_key_name   = "token"
    token_signing_public_keys = {
      "key-1" = "not a pem key"
    }
  }
  expect_failures = [var.token_signing_public_keys]
}

run "signing_needs_token_key_name_and_keys" {
  command = plan
  variables {
    signing_disabled = false
  }
  expect_failures = [aws_iot_authorizer.this]
}

run "keys_need_signing_enabled" {
  command = plan
  variables {
    token_signing_public_keys = {
      "key-1" = <<-PEM
-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAl5D84jIUVY7wYPYU1PWe
lHTxTYOQ3Rr+pW4i0K4nYDerIizbBz0gvtT9m/9mq4FuYJxetWamnMKIOM+93qGq
G6i2pdjVWr7PPRC5wVwjTEVUqPiH14R241HTeKOR6n/TIsq0JGvJ0cAfXO0bAR50
WFck4BC6KUYTZ8ElOJgHS4diolD94csw/dmZ23L2zgi350LtQfJu0j5w+gqzbXhY
7vG6oxhrBOKcKY7tToIL3QjZNI1mKAbTp3UpUzq5bi8Q/Kq9pOeNhhwwlE75cN5R
R3Pw70aJrkILL6vthYZeDQN+y5WJzkohlIq9zwootJdkjlEixwA3rzobPLMqYLa8
9wIDAQAB
-----END PUBLIC KEY-----
PEM
    }
  }
  expect_failures = [aws_iot_authorizer.this]
}

run "default_authorizer_name_pattern" {
  command = plan
  variables {
    default_authorizer = {
      domain_configuration_name = "bad name"
    }
  }
  expect_failures = [var.default_authorizer]
}

run "default_authorizer_name_reserved" {
  command = plan
  variables {
    default_authorizer = {
      domain_configuration_name = "IoT:Data-ATS"
    }
  }
  expect_failures = [var.default_authorizer]
}

run "lambda_zip_path_is_a_zip" {
  command = plan
  variables {
    lambda_zip_path = "./tests/fixtures/authorizer.tar"
  }
  expect_failures = [var.lambda_zip_path]
}

run "function_name_pattern" {
  command = plan
  variables {
    function_name = "bad.name"
  }
  expect_failures = [var.function_name]
}

run "handler_shape" {
  command = plan
  variables {
    handler = "app"
  }
  expect_failures = [var.handler]
}

run "runtime_allowed_values" {
  command = plan
  variables {
    runtime = "python3.9"
  }
  expect_failures = [var.runtime]
}

run "architecture_allowed_values" {
  command = plan
  variables {
    architecture = "arm"
  }
  expect_failures = [var.architecture]
}

run "timeout_within_iot_budget" {
  command = plan
  variables {
    timeout = 6
  }
  expect_failures = [var.timeout]
}

run "timeout_at_least_one" {
  command = plan
  variables {
    timeout = 0
  }
  expect_failures = [var.timeout]
}

run "memory_size_range" {
  command = plan
  variables {
    memory_size = 64
  }
  expect_failures = [var.memory_size]
}

run "reserved_concurrency_not_zero" {
  command = plan
  variables {
    reserved_concurrent_executions = 0
  }
  expect_failures = [var.reserved_concurrent_executions]
}

run "environment_variables_not_reserved" {
  command = plan
  variables {
    environment_variables = { AWS_REGION = "us-east-1" }
  }
  expect_failures = [var.environment_variables]
}

run "environment_variables_names" {
  command = plan
  variables {
    environment_variables = { "1BAD-NAME" = "x" }
  }
  expect_failures = [var.environment_variables]
}

run "secret_ssm_parameter_arn_shape" {
  command = plan
  variables {
    secret_ssm_parameter_arn = "arn:aws:ssm:us-east-1:123456789012:parameter/*"
  }
  expect_failures = [var.secret_ssm_parameter_arn]
}

run "secret_secretsmanager_arn_shape" {
  command = plan
  variables {
    secret_secretsmanager_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:*"
  }
  expect_failures = [var.secret_secretsmanager_arn]
}

run "secret_kms_key_arn_shape" {
  command = plan
  variables {
    secret_kms_key_arn = "arn:aws:kms:us-east-1:123456789012:alias/aws/ssm"
  }
  expect_failures = [var.secret_kms_key_arn]
}

run "log_retention_allowed_values" {
  command = plan
  variables {
    log_retention_in_days = 10
  }
  expect_failures = [var.log_retention_in_days]
}

run "log_kms_key_arn_shape" {
  command = plan
  variables {
    log_kms_key_arn = "not-an-arn"
  }
  expect_failures = [var.log_kms_key_arn]
}

run "role_name_pattern" {
  command = plan
  variables {
    role_name = "bad role name"
  }
  expect_failures = [var.role_name]
}

# CreateAuthorizer refuses RSA keys under 2,048 bits: refused at plan time (keys.tf).
run "signing_key_of_1024_bits" {
  command = plan
  variables {
    signing_disabled = false
    token_key_name   = "token"
    token_signing_public_keys = {
      "small" = <<-PEM
-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDU6fmFhIkbUdnim2gpC6z6qLgx
16DtUlpWAdK8ZxB4D09r/Oh9PMw1xjjMr77RmE+o6RDgHq2nPHIxcSQoJy9g815v
gG7pTjHoInrG4A33ULWdRbuHUa6BgHZrONbWJctPdLCXGxMoxeiQL/RPa4pq4DQp
TYJpxiDQLKEOKw9ekwIDAQAB
-----END PUBLIC KEY-----
PEM
    }
  }
  expect_failures = [aws_iot_authorizer.this]
}

run "signing_key_of_2040_bits_pkcs1" {
  command = plan
  variables {
    signing_disabled = false
    token_key_name   = "token"
    token_signing_public_keys = {
      "almost" = <<-PEM
-----BEGIN RSA PUBLIC KEY-----
MIIBCQKCAQAAzxKiWjaOHGNUQatIsnsRGomrsghR+95vccjrWbSX5FUHfMJKJr4n
H3xPBdae2Yj3MdFRjGPmFvYPyfKpFXQ0G6HstfAKG6EkIXkAEeoy7nBzmuAvVk1j
0jgIruzZXqvHrpImbv5joODQJlbrdm8QDxrHJIIvu1ta0X198tpHeJY+e743smu4
eMz5iDSfwgJsmQ4Oan5wbORuV0hYwR0JrVT2V5md7FEsA7rsT0PZvPwGEqwwRf5I
TAJgTEaHHV50Eul8IyrhnFu5Adb7C1XXud+1nzHvWMYK6t4R93rj85wQ0LegaShk
RYmYOrlccY9WVeGsTac2tztbu/BdE6QjAgMBAAE=
-----END RSA PUBLIC KEY-----
PEM
    }
  }
  expect_failures = [aws_iot_authorizer.this]
}

run "monitoring_deny_rate_out_of_range" {
  command = plan
  variables {
    monitoring = { deny_rate_percent = 100 }
  }
  expect_failures = [var.monitoring]
}

run "iot_logging_unknown_level" {
  command = plan
  variables {
    iot_logging = { enabled = true, level = "TRACE" }
  }
  expect_failures = [var.iot_logging]
}
