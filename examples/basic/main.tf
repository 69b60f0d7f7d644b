provider "aws" {
  region = var.region
}

# Demo users. In your account these already exist: list their names in the module's `users`.
resource "aws_iam_user" "demo" {
  for_each = {
    homer = "/"
    marge = "/"
    ned   = "/team/" # users with an IAM path work too
  }

  name          = each.key
  path          = each.value
  force_destroy = true
}

module "rotator" {
  source = "../../"

  name = var.name
  users = [
    { username = aws_iam_user.demo["homer"].name },
    { username = aws_iam_user.demo["marge"].name, metadata = "ci=circleci;context=prod" },
    { username = aws_iam_user.demo["ned"].name },
  ]
  credentials_handler_arn       = aws_lambda_function.handler.arn
  credentials_handler_role_name = aws_iam_role.handler.name # the module grants it read access to the secrets
  schedule_duration             = "1h"
  cleanup_wait_duration         = "5m"
  lambda_runtime                = var.lambda_runtime
}

# The credentials handler: your code, which hands each new key to the third party.
data "aws_iam_policy_document" "handler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "handler" {
  name               = "${var.name}-handler"
  assume_role_policy = data.aws_iam_policy_document.handler_assume.json
}

resource "aws_cloudwatch_log_group" "handler" {
  name              = "/aws/lambda/${var.name}-handler"
  retention_in_days = 30
}

data "aws_iam_policy_document" "handler_logs" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.handler.arn}:*"]
  }
}

resource "aws_iam_role_policy" "handler_logs" {
  name   = "${var.name}-handler-logs"
  role   = aws_iam_role.handler.id
  policy = data.aws_iam_policy_document.handler_logs.json
}

resource "aws_lambda_function" "handler" {
  function_name    = "${var.name}-handler"
  role             = aws_iam_role.handler.arn
  runtime          = var.lambda_runtime
  handler          = "handler.handler"
  timeout          = 30
  filename         = "${path.module}/handler.zip"
  source_code_hash = filebase64sha256("${path.module}/handler.zip")

  environment {
    variables = {
      THIRD_PARTY_URL = var.third_party_url
    }
  }

  depends_on = [aws_cloudwatch_log_group.handler]
}
