provider "aws" {
  region = var.region

  # The rotator tags a user while it rotates it (iam-credentials-rotator/<name>), so that the rotation
  # can finish even if an apply stops listing the user meanwhile: keep Terraform from removing it.
  ignore_tags {
    key_prefixes = ["iam-credentials-rotator/"]
  }
}

# Demo users. In your account these already exist: list their names in the module's `users`.
resource "aws_iam_user" "demo" {
  # checkov:skip=CKV_AWS_273: demo users standing in for the IAM users the module exists to rotate
  for_each = {
    homer = "/"
    marge = "/"
    ned   = "/team/" # a user with an IAM path: its entry below says which
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
    { username = aws_iam_user.demo["ned"].name, path = aws_iam_user.demo["ned"].path },
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
  # checkov:skip=CKV_AWS_158: no key material is logged and CloudWatch Logs encrypts at rest; a customer key would need a key policy for logs.<region>.amazonaws.com, which the module cannot write
  name              = "/aws/lambda/${var.name}-handler"
  retention_in_days = 365
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
  # checkov:skip=CKV_AWS_116: invoked only synchronously by Step Functions, which retries and rolls back on failure
  # checkov:skip=CKV_AWS_117: calls only AWS APIs and the third party's public endpoint
  # checkov:skip=CKV_AWS_115: invoked at most max_concurrency at a time by the rotator
  # checkov:skip=CKV_AWS_272: deployed from a committed zip; code signing needs a Signer profile
  # checkov:skip=CKV_AWS_173: THIRD_PARTY_URL is not secret
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

  tracing_config {
    mode = "PassThrough"
  }

  depends_on = [aws_cloudwatch_log_group.handler]
}
