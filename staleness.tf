# The staleness alarm: fires when a listed user's active access key has outlived one missed
# rotation, at any schedule. AWS/States metrics cannot say it: an alarm looks back at most 7 days,
# and a user whose rotation keeps failing is not a stopped rotation. So a check, started by its
# own schedule, publishes the age of the oldest active key (lambda/rotator/check.py).
locals {
  staleness_namespace = "IAMCredentialsRotator"
  # Twice the schedule is one missed rotation (a run ends before the next starts); the day is
  # for the check's cadence.
  staleness_threshold = 2 * local.schedule_seconds + 86400
  staleness_minutes   = local.staleness_threshold / 60
  staleness_threshold_text = (
    local.staleness_minutes % 1440 == 0 ? "${local.staleness_minutes / 1440} days" :
    local.staleness_minutes % 60 == 0 ? "${local.staleness_minutes / 60} hours" :
    "${local.staleness_minutes} minutes"
  )
  # Twice a day, so that every day-long alarm period holds a reading even when one check is
  # late or fails.
  check_schedule_expression = "rate(12 hours)"
}

resource "aws_cloudwatch_event_rule" "check" {
  name                = "${var.name}-check"
  description         = "Starts the staleness check of ${var.name}: the age of the oldest active access key of its users."
  schedule_expression = local.check_schedule_expression
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "check" {
  rule = aws_cloudwatch_event_rule.check.name
  arn  = aws_lambda_function.this["check"].arn
}

resource "aws_lambda_permission" "check" {
  statement_id   = "StalenessCheckSchedule"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this["check"].function_name
  principal      = "events.amazonaws.com"
  source_arn     = aws_cloudwatch_event_rule.check.arn
  source_account = local.account_id
}

moved {
  from = aws_cloudwatch_metric_alarm.stale[0]
  to   = aws_cloudwatch_metric_alarm.stale
}

resource "aws_cloudwatch_metric_alarm" "stale" {
  alarm_name        = "${var.name}-rotation-stale"
  alarm_description = "A user of ${var.name} has had the same active access key for over ${local.staleness_threshold_text} (twice schedule_duration, ${var.schedule_duration}, plus a day), or the staleness check did not report: rotation has stopped for at least one user. The log of the ${var.name}-check function names the user and key; check the schedule rule and the latest executions."
  namespace         = local.staleness_namespace
  metric_name       = "OldestAccessKeyAge"
  dimensions        = { Rotator = var.name }
  # The day's lowest reading: the alarm fires once every check of a day found a key too old, and
  # clears as soon as one check finds the keys rotated.
  statistic           = "Minimum"
  period              = 86400
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = local.staleness_threshold
  # No reading for a day: the check is broken or not started, which must not pass for fresh keys.
  treat_missing_data = "breaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
  tags               = var.tags
}
