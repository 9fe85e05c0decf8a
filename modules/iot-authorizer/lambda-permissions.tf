# IoT Core may invoke the function only on behalf of this authorizer (IOT_FACTS section 2):
# principal iot.amazonaws.com, source ARN = the authorizer's ARN, and this account.

resource "aws_lambda_permission" "iot" {
  statement_id   = "AllowIoTCoreAuthorizer"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this.function_name
  principal      = "iot.amazonaws.com"
  source_arn     = aws_iot_authorizer.this.arn
  source_account = data.aws_caller_identity.current.account_id
}
