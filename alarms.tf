locals {
  alarm_actions = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]
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
