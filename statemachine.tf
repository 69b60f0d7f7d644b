locals {
  # The templates stay valid JSON, so numbers are templated as strings and unquoted here.
  templates = {
    for machine in ["rotation", "batch", "acknowledged-handoff"] : machine => replace(
      templatefile("${path.module}/statemachine/${machine}.asl.json", {
        name                    = var.name
        partition               = local.partition
        users_parameter_path    = local.users_parameter_path
        users_digests           = local.users_digests
        batch_state_machine_arn = local.batch_machine_arn
        list_users_function_arn = aws_lambda_function.this["list-users"].arn
        rotate_function_arn     = aws_lambda_function.this["rotate"].arn
        cleanup_function_arn    = aws_lambda_function.this["cleanup"].arn
        rollback_function_arn   = aws_lambda_function.this["rollback"].arn
        report_function_arn     = aws_lambda_function.this["report"].arn
        handoff_function_arn    = aws_lambda_function.this["handoff"].arn
        cleanup_wait_seconds    = local.cleanup_seconds
        max_concurrency         = var.max_concurrency
        batch_timeout_seconds   = local.batch_timeout_seconds
        run_timeout_seconds     = local.run_timeout_seconds
        usage_interval_seconds  = local.usage_seconds.interval
        usage_max_rounds        = local.usage_rounds
        handoff_timeout         = var.handoff_timeout
        handoff_timeout_seconds = local.duration_seconds.handoff_timeout
      }),
      "/\"(Seconds|MaxConcurrency|TimeoutSeconds)\": \"([0-9]+)\"/",
      "\"$1\": $2"
    )
  }

  # In acknowledged mode, acknowledged-handoff.asl.json's states replace the batch's HandOff state.
  batch          = jsondecode(local.templates["batch"])
  per_user       = local.batch.States.HandOffEachUser
  handoff_states = jsondecode(local.templates["acknowledged-handoff"]).States
  definitions = {
    rotation = local.templates["rotation"]
    batch = !local.acknowledged ? local.templates["batch"] : jsonencode(merge(local.batch, {
      States = merge(local.batch.States, {
        HandOffEachUser = merge(local.per_user, {
          ItemProcessor = merge(local.per_user.ItemProcessor, {
            States = merge(local.per_user.ItemProcessor.States, local.handoff_states)
          })
        })
      })
    }))
  }
}

resource "aws_cloudwatch_log_group" "state_machine" {
  # checkov:skip=CKV_AWS_158: encrypted with log_kms_key_arn when set (checkov reads its null default); no key material is logged, and CloudWatch Logs encrypts at rest anyway
  name              = "/aws/vendedlogs/states/${var.name}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_kms_key_arn
  skip_destroy      = var.keep_logs_on_destroy # as the functions' log groups
  tags              = var.tags
}

resource "aws_sfn_state_machine" "this" {
  # checkov:skip=CKV_AWS_285: execution data would copy state inputs and outputs into the logs; the module keeps them out
  # checkov:skip=CKV_AWS_284: the execution history records each state's timing and errors; X-Ray would add xray:* on "*" for no more information
  name       = var.name
  role_arn   = aws_iam_role.this["state-machine"].arn
  definition = local.definitions["rotation"]
  tags       = var.tags

  logging_configuration {
    log_destination = "${aws_cloudwatch_log_group.state_machine.arn}:*"
    level           = "ERROR"
    # Execution data would copy state inputs and outputs into the logs; keep them out.
    include_execution_data = false
  }

  lifecycle {
    precondition {
      condition     = length(local.duplicate_users) == 0
      error_message = "users: each user may be listed once per account; listed both with account_id = \"${local.account_id}\" (this account) and without: ${join(", ", local.duplicate_users)}. Keep one of the two entries."
    }
    precondition {
      condition     = local.run_seconds < local.schedule_seconds
      error_message = local.acknowledged ? "handoff_timeout: a run of ${length(var.users)} users may take ${local.run_seconds} seconds (acknowledged hand-offs of max_concurrency = ${var.max_concurrency} users at a time, each waiting up to handoff_timeout \"${var.handoff_timeout}\" when nobody answers, then cleanup_wait_duration \"${var.cleanup_wait_duration}\" once), not less than schedule_duration \"${var.schedule_duration}\": runs would overlap. Shorten handoff_timeout, lengthen schedule_duration, shorten cleanup_wait_duration or raise max_concurrency (at most 40)." : "users: a run of ${length(var.users)} users takes at least ${local.run_seconds} seconds (hand-offs of max_concurrency = ${var.max_concurrency} users at a time, about ${local.handoff_seconds} seconds each, then cleanup_wait_duration \"${var.cleanup_wait_duration}\" once), not less than schedule_duration \"${var.schedule_duration}\": runs would overlap. Lengthen schedule_duration, shorten cleanup_wait_duration or raise max_concurrency (at most 40)."
    }
    precondition {
      # The run's other durations are checked above; this names the usage check's own.
      condition     = !var.usage_check.enabled || var.usage_check.max_wait == null || local.run_seconds + local.usage_max_wait < local.schedule_seconds
      error_message = "usage_check: a run of ${length(var.users)} users takes at least ${local.run_seconds} seconds, and its clean-up may then wait usage_check.max_wait \"${coalesce(var.usage_check.max_wait, "null")}\" more, which reaches the next run (schedule_duration \"${var.schedule_duration}\"): runs would overlap. Shorten usage_check.max_wait (or set it to null: as long as fits), lengthen schedule_duration or shorten cleanup_wait_duration."
    }
    precondition {
      condition     = local.history_events <= local.history_events_limit
      error_message = "usage_check: a run of ${length(var.users)} users (${local.batch_count} batches) may check usage ${local.usage_rounds} more times (usage_check.max_wait \"${coalesce(var.usage_check.max_wait, "null")}\", as long as fits within an hour when null, every usage_check.interval \"${var.usage_check.interval}\"), about ${local.history_events} events in the run's history: more than ${local.history_events_limit} (Step Functions' 25,000-event limit, a tenth kept for retries), and the run would fail mid-clean-up. Lengthen usage_check.interval or shorten usage_check.max_wait (at most ${floor((local.history_events_limit - 30 - 15 * local.batch_count) / local.history_events_per_round)} checks)."
    }
  }

  depends_on = [aws_iam_role_policy.this, aws_sfn_state_machine.batch, aws_ssm_parameter.users]
}

resource "aws_sfn_state_machine" "batch" {
  # checkov:skip=CKV_AWS_285: execution data would copy state inputs and outputs into the logs; the module keeps them out
  # checkov:skip=CKV_AWS_284: the execution history records each state's timing and errors; X-Ray would add xray:* on "*" for no more information
  name       = local.batch_machine_name
  role_arn   = aws_iam_role.this["state-machine"].arn
  definition = local.definitions["batch"]
  tags       = var.tags

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.state_machine.arn}:*"
    level                  = "ERROR"
    include_execution_data = false
  }

  depends_on = [aws_iam_role_policy.this]
}
