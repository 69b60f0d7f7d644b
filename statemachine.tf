locals {
  # The template stays valid JSON, so numbers are templated as strings and unquoted here.
  definition = replace(
    templatefile("${path.module}/statemachine/rotation.asl.json", {
      users_parameter_name    = aws_ssm_parameter.users.name
      list_users_function_arn = aws_lambda_function.this["list-users"].arn
      rotate_function_arn     = aws_lambda_function.this["rotate"].arn
      cleanup_function_arn    = aws_lambda_function.this["cleanup"].arn
      rollback_function_arn   = aws_lambda_function.this["rollback"].arn
      report_function_arn     = aws_lambda_function.this["report"].arn
      credentials_handler_arn = var.credentials_handler_arn
      cleanup_wait_seconds    = local.cleanup_seconds
      max_concurrency         = var.max_concurrency
    }),
    "/\"(Seconds|MaxConcurrency)\": \"([0-9]+)\"/",
    "\"$1\": $2"
  )
}

resource "aws_cloudwatch_log_group" "state_machine" {
  # checkov:skip=CKV_AWS_158: no key material is logged and CloudWatch Logs encrypts at rest; a customer key would need a key policy for logs.<region>.amazonaws.com, which the module cannot write
  name              = "/aws/vendedlogs/states/${var.name}"
  retention_in_days = var.log_retention_in_days
  tags              = var.tags
}

resource "aws_sfn_state_machine" "this" {
  # checkov:skip=CKV_AWS_285: execution data would copy state inputs and outputs into the logs; the module keeps them out
  # checkov:skip=CKV_AWS_284: the execution history records each state's timing and errors; X-Ray would add xray:* on "*" for no more information
  name       = var.name
  role_arn   = aws_iam_role.state_machine.arn
  definition = local.definition
  tags       = var.tags

  logging_configuration {
    log_destination = "${aws_cloudwatch_log_group.state_machine.arn}:*"
    level           = "ERROR"
    # Execution data would copy state inputs and outputs into the logs; keep them out.
    include_execution_data = false
  }

  depends_on = [aws_iam_role_policy.state_machine]
}
