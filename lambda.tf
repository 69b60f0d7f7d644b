locals {
  lambda_zip = "${path.module}/dist/rotator-lambda.zip"

  # One function per workflow state, each with only the permissions its state needs.
  functions = {
    list-users = {
      handler        = "rotator.list_users.handler"
      description    = "Selects the users a rotation run rotates."
      timeout        = 30
      environment    = { USERS_PARAMETER_NAME = aws_ssm_parameter.users.name }
      iam_actions    = []
      secret_actions = []
    }
    rotate = {
      handler        = "rotator.rotate.handler"
      description    = "Creates a user's new access key and stores it in Secrets Manager."
      timeout        = 60
      environment    = { SECRET_NAME_PREFIX = local.secret_name_prefix }
      iam_actions    = ["iam:ListAccessKeys", "iam:CreateAccessKey", "iam:DeleteAccessKey"]
      secret_actions = ["secretsmanager:CreateSecret"]
    }
    cleanup = {
      handler        = "rotator.cleanup.handler"
      description    = "Deletes the superseded access key and the new key's secret."
      timeout        = 60
      environment    = {}
      iam_actions    = ["iam:DeleteAccessKey"]
      secret_actions = ["secretsmanager:DeleteSecret"]
    }
  }
}

resource "aws_cloudwatch_log_group" "lambda" {
  for_each = local.functions

  name              = "/aws/lambda/${var.name}-${each.key}" # as in the functions' log policies
  retention_in_days = var.log_retention_in_days
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  for_each = local.functions

  function_name    = "${var.name}-${each.key}"
  description      = each.value.description
  role             = aws_iam_role.lambda[each.key].arn
  runtime          = var.lambda_runtime
  handler          = each.value.handler
  timeout          = each.value.timeout
  filename         = local.lambda_zip
  source_code_hash = filebase64sha256(local.lambda_zip)
  tags             = var.tags

  dynamic "environment" {
    for_each = length(each.value.environment) > 0 ? [each.value.environment] : []
    content {
      variables = environment.value
    }
  }

  depends_on = [aws_cloudwatch_log_group.lambda, aws_iam_role_policy.lambda, aws_iam_role_policy_attachment.users]
}
