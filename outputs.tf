output "state_machine_arn" {
  description = "ARN of the rotation state machine. Start it with input {} to rotate every user, or {\"username\": \"<name>\"} to rotate one user now (with \"accountId\": \"<account>\" for a user of a member account, or a username listed in several accounts)."
  value       = aws_sfn_state_machine.this.arn
}

output "users_parameter_path" {
  description = "SSM parameter path under which the users list is stored: one Standard parameter per user, named by a hash of the lowercased username and holding the JSON object {\"username\", \"metadata\"} (read them with GetParametersByPath)."
  value       = local.users_parameter_path
}

output "batch_state_machine_arn" {
  description = "ARN of the state machine whose executions each rotate one batch of users; started by the rotation state machine, not by hand."
  value       = aws_sfn_state_machine.batch.arn
}

output "secret_name_prefix" {
  description = "Prefix of the name of every secret the module creates: one per user being rotated, <prefix><username> (a comma in a username becomes a slash); a member account's user's is <name>@<account>/<username>."
  value       = local.secret_name_prefix
}

output "credentials_handler_policy_json" {
  description = "IAM policy document that lets a credentials handler read the rotator's secrets. Attached for you when credentials_handler_role_name is set."
  value       = data.aws_iam_policy_document.credentials_handler.json
}

output "acknowledge_policy_json" {
  description = "IAM policy document that lets its holder confirm or refuse acknowledged hand-offs (states:SendTaskSuccess and SendTaskFailure, which IAM cannot scope to a state machine: the task token is the scope). Attach it to whoever answers: the handler's role, a pipeline's, a person's. Unused in return mode."
  value       = data.aws_iam_policy_document.acknowledge.json
}

output "schedule_expression" {
  description = "The EventBridge Scheduler rate expression derived from schedule_duration."
  value       = local.schedule_expression
}

output "schedule_arn" {
  description = "ARN of the EventBridge Scheduler schedule that starts each run (DISABLED while enabled = false)."
  value       = aws_scheduler_schedule.this.arn
}

output "schedule_dead_letter_queue_arn" {
  description = "SQS queue that receives the runs the schedule could not start, with Scheduler's reason."
  value       = aws_sqs_queue.schedule_dead_letters.arn
}

output "failure_alarm_name" {
  description = "CloudWatch alarm that fires when rotation runs left users not rotated, failed as a whole or were aborted in 2 of the last 3 runs (each run alone at schedules longer than a day)."
  value       = aws_cloudwatch_metric_alarm.failed.alarm_name
}

output "run_timeout_seconds" {
  description = "TimeoutSeconds of a rotation run (and of each batch): every step at its slowest, but never longer than schedule_duration, so that a stuck run times out, and raises the timed-out alarm, before the next run starts."
  value       = local.run_timeout_seconds
}

output "alarm_names" {
  description = "Every CloudWatch alarm of the module, by what it watches: failed (runs that left users not rotated), timed_out (a stuck run), schedule_failed (runs the schedule could not start), functions (throttled or failed functions), stale (keys older than twice the schedule plus a day). docs/operations.md says what to do for each."
  value = {
    failed          = aws_cloudwatch_metric_alarm.failed.alarm_name
    timed_out       = aws_cloudwatch_metric_alarm.timed_out.alarm_name
    schedule_failed = aws_cloudwatch_metric_alarm.schedule_failed.alarm_name
    functions       = aws_cloudwatch_metric_alarm.functions.alarm_name
    stale           = aws_cloudwatch_metric_alarm.stale.alarm_name
  }
}

output "staleness_alarm_name" {
  description = "CloudWatch alarm that fires when a listed user's active access key is older than twice schedule_duration plus a day (rotation stopped, or keeps failing for that user), or when the twice-daily staleness check did not report for a day. Set at every schedule."
  value       = aws_cloudwatch_metric_alarm.stale.alarm_name
}

output "function_arns" {
  description = "ARN of each of the rotator's Lambda functions, by function: list-users, rotate, handoff, cleanup, rollback, report, check."
  value       = { for function, f in aws_lambda_function.this : function => f.arn }
}

output "function_role_arns" {
  description = "ARN of each Lambda function's IAM role, by function (as in function_arns)."
  value       = { for function in keys(local.functions) : function => aws_iam_role.this[function].arn }
}

output "function_log_group_names" {
  description = "Name of each Lambda function's CloudWatch log group, by function (as in function_arns). Every line is a JSON object with execution_arn and username: see the README for a Logs Insights query."
  value       = { for function, group in aws_cloudwatch_log_group.lambda : function => group.name }
}

output "state_machine_role_arn" {
  description = "ARN of the IAM role of the rotation and batch state machines."
  value       = aws_iam_role.this["state-machine"].arn
}

output "member_role_names" {
  description = "Name of the role the rotator assumes in each member account (users with account_id), by the function that assumes it: rotate, rollback, cleanup, check (each with only what that function does). modules/member-account creates them there from the same name and role_path inputs."
  value       = local.member_role_names
}

output "member_role_arns" {
  description = "ARNs of the member roles of each account other than this one whose users are listed: by account id, then by function (as in member_role_names). Each of the rotator's functions may assume only its own."
  value = {
    for account in local.member_accounts : account => {
      for function in local.member_functions : function => format(local.member_role_arn, account, function)
    }
  }
}
