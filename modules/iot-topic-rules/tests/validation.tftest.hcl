# One run per validation rule: each bad input must be refused with its own message.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_region" {
    defaults = { id = "us-east-1", name = "us-east-1" }
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

# CreateTopicRule takes at most 10 actions: an 11th must fail at plan time, not at apply.
run "eleven_actions" {
  command = plan
  variables {
    rules = {
      big = {
        sql    = "SELECT * FROM 'demo/dev/a'"
        lambda = [for i in range(11) : { function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f${i}" }]
      }
    }
  }
  expect_failures = [var.rules]
}

run "ten_actions_are_fine" {
  command = plan
  variables {
    rules = {
      big = {
        sql    = "SELECT * FROM 'demo/dev/a'"
        lambda = [for i in range(10) : { function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f${i}" }]
      }
    }
  }
}

# A template in a target lets each message choose the resource: refused without an explicit
# iam_resources list (it used to grant dynamodb:PutItem on table/*).
run "templated_table_without_iam_resources" {
  command = plan
  variables {
    rules = {
      t = {
        sql        = "SELECT * FROM 'demo/dev/a/+'"
        dynamodbv2 = [{ table_name = "$${topic(3)}" }]
      }
    }
  }
  expect_failures = [var.rules]
}

run "templated_republish_without_iam_resources" {
  command = plan
  variables {
    rules = {
      t = {
        sql       = "SELECT * FROM 'demo/dev/a/+'"
        republish = [{ topic = "$${topic(3)}/x" }]
      }
    }
  }
  expect_failures = [var.rules]
}

run "templated_s3_bucket_without_iam_resources" {
  command = plan
  variables {
    rules = {
      t = {
        sql = "SELECT * FROM 'demo/dev/a/+'"
        s3  = [{ bucket_name = "$${topic(3)}", key = "k" }]
      }
    }
  }
  expect_failures = [var.rules]
}

run "templated_iam_resources_wildcard" {
  command = plan
  variables {
    rules = {
      t = {
        sql        = "SELECT * FROM 'demo/dev/a/+'"
        dynamodbv2 = [{ table_name = "$${topic(3)}", iam_resources = ["arn:aws:dynamodb:us-east-1:123456789012:table/*"] }]
      }
    }
  }
  expect_failures = [var.rules]
}

run "iam_resources_on_a_literal_target" {
  command = plan
  variables {
    rules = {
      t = {
        sql        = "SELECT * FROM 'demo/dev/a/+'"
        dynamodbv2 = [{ table_name = "tbl", iam_resources = ["arn:aws:dynamodb:us-east-1:123456789012:table/other"] }]
      }
    }
  }
  expect_failures = [var.rules]
}

run "templated_lambda_refused" {
  command = plan
  variables {
    rules = {
      t = {
        sql    = "SELECT * FROM 'demo/dev/a/+'"
        lambda = [{ function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f" }]
        sqs    = [{ queue_url = "https://sqs.us-east-1.amazonaws.com/123456789012/$${topic(3)}", queue_arn = "arn:aws:sqs:us-east-1:123456789012:q" }]
      }
    }
  }
  expect_failures = [var.rules]
}

run "templated_error_action_refused" {
  command = plan
  variables {
    rules = {
      t = {
        sql          = "SELECT * FROM 'demo/dev/a/+'"
        lambda       = [{ function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f" }]
        error_action = { cloudwatch_logs = { log_group_name = "/errors/$${topic(3)}" } }
      }
    }
  }
  expect_failures = [var.rules]
}

run "templated_table_with_iam_resources_grants_only_those" {
  command = plan
  variables {
    rules = {
      t = {
        sql        = "SELECT * FROM 'demo/dev/a/+'"
        dynamodbv2 = [{ table_name = "app_$${topic(3)}", iam_resources = ["arn:aws:dynamodb:us-east-1:123456789012:table/app_rooms", "arn:aws:dynamodb:us-east-1:123456789012:table/app_users"] }]
      }
    }
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.this["t"].policy).Statement[0].Resource == ["arn:aws:dynamodb:us-east-1:123456789012:table/app_rooms", "arn:aws:dynamodb:us-east-1:123456789012:table/app_users"]
    error_message = "a templated table must grant exactly its iam_resources"
  }
}
