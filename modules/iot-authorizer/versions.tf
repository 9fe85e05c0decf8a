terraform {
  # Lambda logging_config and terraform test mocks need recent releases; lower bounds only
  # in modules (exact pins live in the examples).
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}
