# The two topic rules. Rule names: chat_dev_chat_message, chat_dev_presence.

module "rules" {
  source = "../../modules/iot-topic-rules"

  name_prefix = local.rule_name_prefix
  account_id  = local.account_id

  rules = {
    # Select only what the Lambda reads: `room` and `client_id` come from the topic and the
    # connection, never from the client's payload (lambda_src/chat_message/app.py).
    chat_message = {
      description = "Room messages from clients to the chat_message Lambda"
      sql         = "SELECT text, topic(${local.room_level}) AS room, clientid() AS client_id, timestamp() AS ts FROM '${local.room_input_filter}'"
      lambda      = [{ function_arn = aws_lambda_function.backend["chat_message"].arn }]
    }
    # Lifecycle events of every client of the account and region (IOT_FACTS section 5);
    # the Lambda keeps only this app's client ids (presence_client_id_pattern).
    presence = {
      description = "Connect and disconnect events to the presence Lambda"
      sql         = "SELECT * FROM '$aws/events/presence/+/+' WHERE eventType = 'connected' OR eventType = 'disconnected'"
      lambda      = [{ function_arn = aws_lambda_function.backend["presence"].arn }]
    }
  }

  # Failures of either rule (for example a throttled Lambda invoke) land here.
  error_log_group = {
    retention_in_days = var.log_retention_in_days
  }
}
