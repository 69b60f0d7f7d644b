output "state_machine_arn" {
  description = "ARN of the rotation state machine. Start it with input {} to rotate every user, or {\"username\": \"<name>\"} to rotate one user now."
  value       = aws_sfn_state_machine.this.arn
}

output "users_parameter_path" {
  description = "SSM parameter path under which the users list is stored, as JSON arrays in Standard parameters of at most 4096 bytes (read them with GetParametersByPath)."
  value       = local.users_parameter_path
}

output "batch_state_machine_arn" {
  description = "ARN of the state machine whose executions each rotate one batch of users; started by the rotation state machine, not by hand."
  value       = aws_sfn_state_machine.batch.arn
}

output "secret_name_prefix" {
  description = "Prefix of the name of every secret the module creates: one per user being rotated, <prefix><username> (a comma in a username becomes a slash)."
  value       = local.secret_name_prefix
}

output "credentials_handler_policy_json" {
  description = "IAM policy document that lets a credentials handler read the rotator's secrets. Attached for you when credentials_handler_role_name is set."
  value       = data.aws_iam_policy_document.credentials_handler.json
}

output "schedule_expression" {
  description = "The EventBridge schedule expression derived from schedule_duration."
  value       = local.schedule_expression
}

output "failure_alarm_name" {
  description = "CloudWatch alarm that fires when a rotation run fails, times out or is aborted."
  value       = aws_cloudwatch_metric_alarm.failed.alarm_name
}

output "staleness_alarm_name" {
  description = "CloudWatch alarm that fires when a listed user's active access key is older than twice schedule_duration plus a day (rotation stopped, or keeps failing for that user), or when the twice-daily staleness check did not report for a day. Set at every schedule."
  value       = aws_cloudwatch_metric_alarm.stale.alarm_name
}
