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

# EventBridge Scheduler starts each run. `enabled = false` pauses it (state DISABLED) without destroying
# anything: runs under way finish, on-demand runs still start.
resource "aws_scheduler_schedule" "this" {
  # checkov:skip=CKV_AWS_297: the schedule holds only its input, a placeholder for the scheduled time; Scheduler encrypts it with an AWS-owned key, and a customer key would need a key policy for Scheduler that the module cannot write
  name                         = var.name
  description                  = "Starts a rotation of every user of ${var.name}."
  schedule_expression          = local.schedule_expression
  schedule_expression_timezone = "UTC"
  state                        = var.enabled ? "ENABLED" : "DISABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_sfn_state_machine.this.arn
    role_arn = aws_iam_role.this["schedule"].arn
    # The run's scheduled time identifies it: a retried delivery of the same run finds the users
    # already rotated since then and leaves them alone. Written out, not jsonencode()d: jsonencode
    # escapes "<" and ">", and Scheduler fills in only the placeholder as written.
    input = "{\"scheduledTime\": \"<aws.scheduler.scheduled-time>\"}"

    # A start that fails (throttled, the state machine briefly unavailable) is retried within the
    # hour; one that never succeeds lands in the dead-letter queue, which the schedule-failed alarm
    # watches (alarms.tf).
    retry_policy {
      maximum_event_age_in_seconds = 3600
      maximum_retry_attempts       = 3
    }

    dead_letter_config {
      arn = aws_sqs_queue.schedule_dead_letters.arn
    }
  }
}

# Runs the schedule could not start, with Scheduler's reason, kept 14 days.
resource "aws_sqs_queue" "schedule_dead_letters" {
  name                      = local.schedule_dead_letters_name
  message_retention_seconds = 1209600
  # Dead letters hold the schedule's input (a time) and Scheduler's error, no key material.
  sqs_managed_sse_enabled = true
  tags                    = var.tags

  # The schedule's own checks, here because the schedule depends on the state machine, whose checks
  # would otherwise be the only ones reported.
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
