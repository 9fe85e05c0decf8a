terraform {
  # 1.9: modules/iot-topic-rules names the offending rules in its validation messages.
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "= 5.100.0" # examples pin exactly; the modules only set lower bounds
    }
  }
}
