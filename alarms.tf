# Alarms an on-call can act on: each watches one kind of trouble, alarms on a pattern rather than
# on one bad datapoint where a single failure heals itself at the next run, and says in its
# description the exact command that shows what went wrong (docs/operations.md, "Alarms").
locals {
  alarm_actions = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]

  # One period per run: a period holds at most one run's outcome, so "2 of 3 periods" is "2 of the
  # last 3 runs". CloudWatch's longest period is a day; at longer schedules a day holds at most one
  # run, and each failed run alarms alone (the next run is days away; the staleness alarm keeps
  # watching the users). Three periods stay within CloudWatch's evaluation range (a day below an
  # hour's period, seven days above).
  alarm_period        = min(local.schedule_seconds, 86400)
  alarm_runs          = local.schedule_seconds <= 86400 ? 3 : 1
  alarm_runs_to_alarm = local.schedule_seconds <= 86400 ? 2 : 1
  alarm_runs_text     = local.alarm_runs == 1 ? "the last run" : "${local.alarm_runs_to_alarm} of the last ${local.alarm_runs} runs"

  # The commands in the descriptions name the real resources (built ARNs: known at plan).
  list_runs_command    = "aws stepfunctions list-executions --region ${local.region} --state-machine-arn ${local.state_machine_arn} --max-items 5 --status-filter"
  failed_users_command = "aws stepfunctions describe-execution --region ${local.region} --execution-arn <executionArn> --query cause --output text"
  dead_letters_url     = "https://sqs.${local.region}.${data.aws_partition.current.dns_suffix}/${local.account_id}/${local.schedule_dead_letters_name}"

  # Functions whose errors the failure alarm does not already cover: RotateKey and HandOff raise
  # a user's failure (the batch catches it and the user is reported failed), Report raises the
  # run's, the check's failure leaves the staleness alarm without a reading (which breaches).
  # CloudWatch allows 10 metrics per alarm: 7 throttle counts and these 3 error counts.
  alarmed_errors = ["list-users", "cleanup", "rollback"]
  function_metrics = merge(
    { for f in keys(local.functions) : "throttles_${replace(f, "-", "_")}" => { function = f, metric = "Throttles" } },
    { for f in local.alarmed_errors : "errors_${replace(f, "-", "_")}" => { function = f, metric = "Errors" } },
  )
}

resource "aws_cloudwatch_metric_alarm" "failed" {
  alarm_name          = "${var.name}-rotation-failed"
  alarm_description   = "Rotation by ${var.name} left users not rotated (their working keys kept) or failed as a whole in ${local.alarm_runs_text}. List the failed runs: ${local.list_runs_command} FAILED (ABORTED: stopped by a person). The failed users and why: ${local.failed_users_command} (also in the Report function's log line \"run summary\", field failed). Runbook: docs/operations.md, Alarms."
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = local.alarm_runs
  datapoints_to_alarm = local.alarm_runs_to_alarm
  # A period without a run is a good one: a paused schedule or a long one does not alarm.
  treat_missing_data = "notBreaching"
  # OK notifications resolve the page in pager integrations; with 2 of 3 runs a chronic failure
  # stays in ALARM (one page) and the alarm clears once two of the last three runs were clean.
  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions
  tags          = var.tags

  metric_query {
    id = "failed"
    # The users a run left not rotated (Report's FailedUsers), or 1 for a run that failed before
    # Report could count them, or was aborted. A timed-out run has its own alarm. FILL: a sum with
    # a missing series has no value, and Step Functions publishes a count only when it is not 0.
    expression  = "MAX([FILL(failed_users, 0), FILL(executions_failed, 0) + FILL(executions_aborted, 0)])"
    label       = "Users not rotated (or 1 for a run that failed as a whole)"
    return_data = true
  }

  metric_query {
    id = "failed_users"
    metric {
      namespace   = local.staleness_namespace
      metric_name = "FailedUsers"
      dimensions  = { Rotator = var.name }
      period      = local.alarm_period
      stat        = "Maximum"
    }
  }

  dynamic "metric_query" {
    for_each = { executions_failed = "ExecutionsFailed", executions_aborted = "ExecutionsAborted" }
    content {
      id = metric_query.key
      metric {
        namespace   = "AWS/States"
        metric_name = metric_query.value
        dimensions  = { StateMachineArn = local.state_machine_arn }
        period      = local.alarm_period
        stat        = "Sum"
      }
    }
  }
}

# A stuck run: its TimeoutSeconds is at most schedule_duration (statemachine.tf), so it surfaces
# within one schedule period, not days later. Step Functions publishes ExecutionTime only when a
# run ends, so ExecutionsTimedOut is the signal: it is published the moment the run overran.
resource "aws_cloudwatch_metric_alarm" "timed_out" {
  alarm_name          = "${var.name}-rotation-timed-out"
  alarm_description   = "A rotation run of ${var.name} lasted longer than its timeout (${local.run_timeout_text}, at most schedule_duration ${var.schedule_duration}) and Step Functions stopped it: a step is stuck. The next run heals the locks it left, or names the users it cannot (StaleRotationError). The run: ${local.list_runs_command} TIMED_OUT. Where it stopped: aws stepfunctions get-execution-history --region ${local.region} --execution-arn <executionArn> --reverse-order --max-items 10. Runbook: docs/operations.md, Stuck run."
  namespace           = "AWS/States"
  metric_name         = "ExecutionsTimedOut"
  dimensions          = { StateMachineArn = local.state_machine_arn }
  statistic           = "Sum"
  period              = local.alarm_period
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  # No OK notification: the alarm returns to OK one period later because time passed, not because
  # the stuck users were seen to; the runbook says how to close it.
  ok_actions = []
  tags       = var.tags
}

# Runs the schedule could not start after its retries (an hour) land in the dead-letter queue.
resource "aws_cloudwatch_metric_alarm" "schedule_failed" {
  alarm_name          = "${var.name}-schedule-failed"
  alarm_description   = "EventBridge Scheduler could not start a rotation run of ${var.name} within an hour of retries: the run is in the dead-letter queue ${local.schedule_dead_letters_name} with Scheduler's reason (attributes ERROR_CODE, ERROR_MESSAGE). Read it: aws sqs receive-message --region ${local.region} --queue-url ${local.dead_letters_url} --message-attribute-names All --max-number-of-messages 10. Fix the cause (the schedule role, the state machine), then empty the queue (aws sqs purge-queue --region ${local.region} --queue-url ${local.dead_letters_url}): the alarm clears. Runbook: docs/operations.md, Alarms."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = local.schedule_dead_letters_name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  # SQS may stop publishing for a queue idle over six hours: keep the last state (a dead letter
  # keeps the alarm on until the queue is emptied), rather than read silence as an empty queue.
  treat_missing_data = "ignore"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
  tags               = var.tags
}

# Throttled functions (every one) and failed ones whose errors no other alarm reports.
resource "aws_cloudwatch_metric_alarm" "functions" {
  alarm_name          = "${var.name}-functions-throttled-or-failed"
  alarm_description   = "Functions of ${var.name} were throttled (any) or failed (list-users, cleanup, rollback) in ${local.alarm_runs_text}; the steps retry, so runs may still succeed, slower. The alarm's graph shows which. Errors: aws logs tail /aws/lambda/${var.name}-<function> --region ${local.region} --since 3h --format short --filter-pattern ERROR. Throttles: the account's free concurrency, aws lambda get-account-settings --region ${local.region} --query AccountLimit.UnreservedConcurrentExecutions. Runbook: docs/operations.md, Alarms."
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = local.alarm_runs
  datapoints_to_alarm = local.alarm_runs_to_alarm
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags

  metric_query {
    id          = "problems"
    expression  = join(" + ", [for id in keys(local.function_metrics) : "FILL(${id}, 0)"])
    label       = "Throttles and errors of the functions"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = local.function_metrics
    content {
      id = metric_query.key
      metric {
        namespace   = "AWS/Lambda"
        metric_name = metric_query.value.metric
        dimensions  = { FunctionName = "${var.name}-${metric_query.value.function}" }
        period      = local.alarm_period
        stat        = "Sum"
      }
    }
  }
}
