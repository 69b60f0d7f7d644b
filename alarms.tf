locals {
  alarm_actions = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]
  # "No successful run within twice the schedule". CloudWatch evaluates at most 7 days, and at
  # most 1 day with periods under an hour.
  staleness_window = 2 * local.schedule_seconds
  staleness_alarm  = local.staleness_window <= 604800
  staleness_period = local.staleness_window <= 86400 ? local.staleness_window : 3600
}

resource "aws_cloudwatch_metric_alarm" "failed" {
  alarm_name          = "${var.name}-rotation-failed"
  alarm_description   = "A rotation run of ${var.name} failed or timed out. Its execution's error names each failed user and why; the users' working keys were kept."
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags

  metric_query {
    id          = "failed"
    expression  = "executions_failed + executions_timed_out + executions_aborted"
    label       = "Rotation runs that did not succeed"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = { executions_failed = "ExecutionsFailed", executions_timed_out = "ExecutionsTimedOut", executions_aborted = "ExecutionsAborted" }
    content {
      id = metric_query.key
      metric {
        namespace   = "AWS/States"
        metric_name = metric_query.value
        dimensions  = { StateMachineArn = aws_sfn_state_machine.this.arn }
        period      = 300
        stat        = "Sum"
      }
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "stale" {
  count = local.staleness_alarm ? 1 : 0

  alarm_name          = "${var.name}-rotation-stale"
  alarm_description   = "No rotation run of ${var.name} has succeeded for twice schedule_duration (${var.schedule_duration}): keys are getting old. Check the schedule rule and the latest executions."
  namespace           = "AWS/States"
  metric_name         = "ExecutionsSucceeded"
  dimensions          = { StateMachineArn = aws_sfn_state_machine.this.arn }
  statistic           = "Sum"
  period              = local.staleness_period
  evaluation_periods  = ceil(local.staleness_window / local.staleness_period)
  datapoints_to_alarm = ceil(local.staleness_window / local.staleness_period)
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}
