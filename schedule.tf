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
}

resource "aws_cloudwatch_event_target" "schedule" {
  rule     = aws_cloudwatch_event_rule.schedule.name
  arn      = aws_sfn_state_machine.this.arn
  role_arn = aws_iam_role.schedule.arn

  # The event's time identifies the scheduled run: a retried delivery of the same event finds the
  # users already rotated since then and leaves them alone.
  input_transformer {
    input_paths    = { time = "$.time" }
    input_template = "{\"scheduledTime\": <time>}"
  }
}

resource "aws_iam_role" "schedule" {
  name               = "${var.name}-schedule"
  description        = "Lets the ${var.name} schedule start the state machine."
  assume_role_policy = data.aws_iam_policy_document.assume["events"].json
  tags               = var.tags
}

data "aws_iam_policy_document" "schedule" {
  statement {
    actions   = ["states:StartExecution"]
    resources = [aws_sfn_state_machine.this.arn]
  }
}

resource "aws_iam_role_policy" "schedule" {
  name   = "${var.name}-schedule"
  role   = aws_iam_role.schedule.id
  policy = data.aws_iam_policy_document.schedule.json
}
