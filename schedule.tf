locals {
  schedule_minutes = local.schedule_seconds / 60
  schedule_rate = (
    local.schedule_minutes % 1440 == 0 ? "${local.schedule_minutes / 1440} day" :
    local.schedule_minutes % 60 == 0 ? "${local.schedule_minutes / 60} hour" :
    "${local.schedule_minutes} minute"
  )
  # EventBridge wants "1 hour" but "2 hours".
  schedule_expression = "rate(${local.schedule_rate}${startswith(local.schedule_rate, "1 ") ? "" : "s"})"
}

resource "aws_cloudwatch_event_rule" "schedule" {
  name                = var.name
  description         = "Starts a rotation of every user of ${var.name}."
  schedule_expression = local.schedule_expression
  tags                = var.tags

  lifecycle {
    precondition {
      condition     = local.schedule_seconds % 60 == 0
      error_message = "schedule_duration must be whole minutes, at least \"1m\" (an EventBridge rate schedule has minute granularity); got \"${var.schedule_duration}\"."
    }
    precondition {
      condition     = local.cleanup_seconds < local.schedule_seconds
      error_message = "cleanup_wait_duration (\"${var.cleanup_wait_duration}\") must be shorter than schedule_duration (\"${var.schedule_duration}\"): otherwise the next rotation starts while the previous one still waits. Shorten cleanup_wait_duration or lengthen schedule_duration."
    }
  }
}

resource "aws_cloudwatch_event_target" "schedule" {
  rule     = aws_cloudwatch_event_rule.schedule.name
  arn      = aws_sfn_state_machine.this.arn
  role_arn = aws_iam_role.this["schedule"].arn

  # The event's time identifies the scheduled run: a retried delivery of the same event finds the
  # users already rotated since then and leaves them alone.
  input_transformer {
    input_paths    = { time = "$.time" }
    input_template = "{\"scheduledTime\": <time>}"
  }
}
