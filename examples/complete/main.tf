provider "aws" {
  region = var.region

  # The rotator tags a user while it rotates it (iam-credentials-rotator/<name>), so that the rotation
  # can finish even if an apply stops listing the user meanwhile: keep Terraform from removing it.
  ignore_tags {
    key_prefixes = ["iam-credentials-rotator/"]
  }
}

locals {
  tags = { project = "credentials-rotation", example = "complete" }
}

# Demo users. In your account these already exist: list their names in the module's `users`.
resource "aws_iam_user" "demo" {
  # checkov:skip=CKV_AWS_273: demo users standing in for the IAM users the module exists to rotate
  for_each = {
    ci-deployer  = "/ci/"
    ci-publisher = "/ci/"
    reporting    = "/"
  }

  name          = each.key
  path          = each.value
  force_destroy = true
  # The rotator may touch the keys of users tagged for it (user_tag_key below), whatever their number.
  tags = merge(local.tags, { rotated-by = var.name })
}

# A customer-managed key for the secrets; IAM policies (the module's and the handler's) grant its use.
resource "aws_kms_key" "secrets" {
  # checkov:skip=CKV2_AWS_64: the default key policy (the account decides through IAM) is intended; written out, its kms:* on "*" fails CKV_AWS_109/111/356 instead
  description         = "Encrypts the access keys the rotator hands over."
  enable_key_rotation = true
  tags                = local.tags
}

# A customer-managed key for the logs (log_kms_key_arn): CloudWatch Logs uses it only for this account's
# log groups, as its key policy says.
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

data "aws_iam_policy_document" "logs_key" {
  # checkov:skip=CKV_AWS_109: a key policy: "*" is this key alone, and kms:* for the account root is KMS's default key policy (the account decides through IAM)
  # checkov:skip=CKV_AWS_111: a key policy: "*" is this key alone, and kms:* for the account root is KMS's default key policy (the account decides through IAM)
  # checkov:skip=CKV_AWS_356: a key policy: "*" is this key alone (a key policy's Resource is always the key it is attached to)
  statement {
    sid       = "AccountAdministersTheKey"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
  statement {
    sid       = "CloudWatchLogsUsesTheKey"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.id}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.id}:${data.aws_caller_identity.current.account_id}:log-group:*"]
    }
  }
}

resource "aws_kms_key" "logs" {
  description         = "Encrypts the rotator's log groups."
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.logs_key.json
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
    # Users with an IAM path say it: the rotator refuses a user found elsewhere than declared.
    { username = aws_iam_user.demo["ci-deployer"].name, path = aws_iam_user.demo["ci-deployer"].path, metadata = "ci=circleci;context=deploy-prod" },
    { username = aws_iam_user.demo["ci-publisher"].name, path = aws_iam_user.demo["ci-publisher"].path, metadata = "ci=circleci;context=publish" },
    { username = aws_iam_user.demo["reporting"].name },
  ]
  credentials_handler_arn       = aws_lambda_function.handler.arn
  credentials_handler_role_name = aws_iam_role.handler.name

  schedule_duration        = "12h"
  cleanup_wait_duration    = "10m"
  old_key_action           = "deactivate" # keep the old key, inactive, until the next rotation
  key_verification_timeout = "2m"
  max_concurrency          = 5
  user_tag_key             = "rotated-by"
  kms_key_arn              = aws_kms_key.secrets.arn
  alarm_sns_topic_arn      = aws_sns_topic.alerts.arn
  log_retention_in_days    = 365
  log_kms_key_arn          = aws_kms_key.logs.arn
  lambda_runtime           = var.lambda_runtime
  architecture             = "arm64"     # Graviton: the same pure-Python zip, cheaper
  role_path                = "/rotator/" # every role the module creates
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
  # checkov:skip=CKV_AWS_158: no key material is logged and CloudWatch Logs encrypts at rest; a customer key would need a key policy for logs.<region>.amazonaws.com, which the module cannot write
  name              = "/aws/lambda/${var.name}-handler"
  retention_in_days = 365
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
  # checkov:skip=CKV_AWS_116: invoked only synchronously by Step Functions, which retries and rolls back on failure
  # checkov:skip=CKV_AWS_117: calls only AWS APIs and the third party's public endpoint
  # checkov:skip=CKV_AWS_115: invoked at most max_concurrency at a time by the rotator
  # checkov:skip=CKV_AWS_272: deployed from a committed zip; code signing needs a Signer profile
  # checkov:skip=CKV_AWS_173: THIRD_PARTY_URL is not secret
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

  tracing_config {
    mode = "PassThrough"
  }

  depends_on = [aws_cloudwatch_log_group.handler]
}
