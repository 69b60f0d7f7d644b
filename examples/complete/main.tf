provider "aws" {
  region = var.region
}

locals {
  tags = { project = "credentials-rotation", example = "complete" }
}

# Demo users. In your account these already exist: list their names in the module's `users`.
resource "aws_iam_user" "demo" {
  for_each = {
    ci-deployer  = "/ci/"
    ci-publisher = "/ci/"
    reporting    = "/"
  }

  name          = each.key
  path          = each.value
  force_destroy = true
  tags          = local.tags
}

# A customer-managed key for the secrets; IAM policies (the module's and the handler's) grant its use.
resource "aws_kms_key" "secrets" {
  description         = "Encrypts the access keys the rotator hands over."
  enable_key_rotation = true
  tags                = local.tags
}

resource "aws_sns_topic" "alerts" {
  name              = "${var.name}-alerts"
  kms_master_key_id = "alias/aws/sns"
  tags              = local.tags
}

module "rotator" {
  source = "../../"

  name = var.name
  users = [
    { username = aws_iam_user.demo["ci-deployer"].name, metadata = "ci=circleci;context=deploy-prod" },
    { username = aws_iam_user.demo["ci-publisher"].name, metadata = "ci=circleci;context=publish" },
    { username = aws_iam_user.demo["reporting"].name },
  ]
  credentials_handler_arn       = aws_lambda_function.handler.arn
  credentials_handler_role_name = aws_iam_role.handler.name

  schedule_duration        = "12h"
  cleanup_wait_duration    = "10m"
  old_key_action           = "deactivate" # keep the old key, inactive, until the next rotation
  key_verification_timeout = "2m"
  max_concurrency          = 5
  kms_key_arn              = aws_kms_key.secrets.arn
  alarm_sns_topic_arn      = aws_sns_topic.alerts.arn
  log_retention_in_days    = 90
  lambda_runtime           = var.lambda_runtime
  tags                     = local.tags
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
  tags               = local.tags
}

resource "aws_cloudwatch_log_group" "handler" {
  name              = "/aws/lambda/${var.name}-handler"
  retention_in_days = 90
  tags              = local.tags
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
  description      = "Hands each new access key to the third party."
  role             = aws_iam_role.handler.arn
  runtime          = var.lambda_runtime
  handler          = "handler.handler"
  timeout          = 30
  filename         = "${path.module}/handler.zip"
  source_code_hash = filebase64sha256("${path.module}/handler.zip")
  tags             = local.tags

  environment {
    variables = {
      THIRD_PARTY_URL = var.third_party_url
    }
  }

  depends_on = [aws_cloudwatch_log_group.handler]
}
