# IoT Core may invoke the function only on behalf of this authorizer: principal
# iot.amazonaws.com and source ARN = the authorizer's ARN, which already names this account
# and this authorizer. AWS documents the authorizer's permission with --source-arn only
# (https://docs.aws.amazon.com/iot/latest/developerguide/custom-auth-authorizer.html); it
# does not say that IoT sends a source account when it calls an authorizer, so a
# source_account condition could deny every connection. (Topic rules keep source_account:
# AWS documents both for the Lambda rule action.)

resource "aws_lambda_permission" "iot" {
  statement_id  = "AllowIoTCoreAuthorizer"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "iot.amazonaws.com"
  source_arn    = aws_iot_authorizer.this.arn
}
