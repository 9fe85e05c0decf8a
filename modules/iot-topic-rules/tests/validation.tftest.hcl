# One run per validation rule: each bad input must be refused with its own message.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
}

variables {
  name_prefix = "demo_dev"
  rules = {
    ok = {
      sql    = "SELECT * FROM 'demo/dev/a'"
      lambda = [{ function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f" }]
    }
  }
}

run "valid_baseline" {
  command = plan
}

run "hyphen_in_name_prefix" {
  command = plan
  variables {
    name_prefix = "demo-dev"
  }
  expect_failures = [var.name_prefix]
}

run "hyphen_in_rule_key" {
  command = plan
  variables {
    rules = {
      chat-message = {
        sql    = "SELECT * FROM 'demo/dev/a'"
        lambda = [{ function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f" }]
      }
    }
  }
  expect_failures = [var.rules]
}

run "sql_without_quoted_topic" {
  command = plan
  variables {
    rules = {
      ok = {
        sql    = "SELECT * FROM demo/dev/a"
        lambda = [{ function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f" }]
      }
    }
  }
  expect_failures = [var.rules]
}

run "unknown_sql_version" {
  command = plan
  variables {
    rules = {
      ok = {
        sql         = "SELECT * FROM 'demo/dev/a'"
        sql_version = "2020-01-01"
        lambda      = [{ function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f" }]
      }
    }
  }
  expect_failures = [var.rules]
}

run "rule_without_actions" {
  command = plan
  variables {
    rules = {
      ok = { sql = "SELECT * FROM 'demo/dev/a'" }
    }
  }
  expect_failures = [var.rules]
}

run "lambda_name_instead_of_arn" {
  command = plan
  variables {
    rules = {
      ok = {
        sql    = "SELECT * FROM 'demo/dev/a'"
        lambda = [{ function_arn = "my-function" }]
      }
    }
  }
  expect_failures = [var.rules]
}

run "republish_to_wildcard_topic" {
  command = plan
  variables {
    rules = {
      ok = {
        sql       = "SELECT * FROM 'demo/dev/a'"
        republish = [{ topic = "demo/dev/+/b" }]
      }
    }
  }
  expect_failures = [var.rules]
}

run "republish_qos_2" {
  command = plan
  variables {
    rules = {
      ok = {
        sql       = "SELECT * FROM 'demo/dev/a'"
        republish = [{ topic = "demo/dev/b", qos = 2 }]
      }
    }
  }
  expect_failures = [var.rules]
}

run "sqs_url_without_arn" {
  command = plan
  variables {
    rules = {
      ok = {
        sql = "SELECT * FROM 'demo/dev/a'"
        sqs = [{ queue_url = "https://example.com/q" }]
      }
    }
  }
  expect_failures = [var.rules]
}

run "sns_without_topic_arn" {
  command = plan
  variables {
    rules = {
      ok = {
        sql = "SELECT * FROM 'demo/dev/a'"
        sns = [{ target_arn = "my-topic" }]
      }
    }
  }
  expect_failures = [var.rules]
}

run "dynamodb_without_table" {
  command = plan
  variables {
    rules = {
      ok = {
        sql        = "SELECT * FROM 'demo/dev/a'"
        dynamodbv2 = [{ table_name = "" }]
      }
    }
  }
  expect_failures = [var.rules]
}

run "error_action_with_two_targets" {
  command = plan
  variables {
    rules = {
      ok = {
        sql    = "SELECT * FROM 'demo/dev/a'"
        lambda = [{ function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f" }]
        error_action = {
          cloudwatch_logs = { log_group_name = "/a" }
          sns             = { target_arn = "arn:aws:sns:us-east-1:123456789012:t" }
        }
      }
    }
  }
  expect_failures = [var.rules]
}

run "error_action_pointing_nowhere" {
  command = plan
  variables {
    rules = {
      ok = {
        sql          = "SELECT * FROM 'demo/dev/a'"
        lambda       = [{ function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f" }]
        error_action = {}
      }
    }
  }
  expect_failures = [var.rules]
}

run "existing_error_log_group_without_name" {
  command = plan
  variables {
    error_log_group = { create = false }
  }
  expect_failures = [var.error_log_group]
}

run "unsupported_retention" {
  command = plan
  variables {
    error_log_group = { retention_in_days = 42 }
  }
  expect_failures = [var.error_log_group]
}

run "kms_key_not_an_arn" {
  command = plan
  variables {
    error_log_group = { kms_key_arn = "alias/mine" }
  }
  expect_failures = [var.error_log_group]
}

run "account_id_not_12_digits" {
  command = plan
  variables {
    account_id = "1234"
  }
  expect_failures = [var.account_id]
}

run "rule_name_longer_than_128" {
  command = plan
  variables {
    name_prefix = "p_012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789" # 90
    rules = {
      key_012345678901234567890123456789012345 = { # 40: the name is 131
        sql    = "SELECT * FROM 'demo/dev/a'"
        lambda = [{ function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f" }]
      }
    }
  }
  expect_failures = [aws_iot_topic_rule.this]
}
