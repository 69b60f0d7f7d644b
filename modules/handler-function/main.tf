data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = var.name
  path                 = var.function.role_path
  permissions_boundary = var.function.role_permissions_boundary
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  tags                 = var.function.tags
}

resource "aws_cloudwatch_log_group" "this" {
  # checkov:skip=CKV_AWS_158: no key material is logged and CloudWatch Logs encrypts at rest; a customer key would need a key policy for logs.<region>.amazonaws.com, which the module cannot write
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.function.log_retention_in_days
  tags              = var.function.tags
}

locals {
  token = var.token_secret_arn == null ? [] : [{
    sid       = "ReadApiToken"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.token_secret_arn]
  }]
  token_key = var.token_secret_arn == null || var.function.token_secret_kms_key_arn == null ? [] : [{
    sid       = "DecryptApiToken"
    actions   = ["kms:Decrypt"]
    resources = [var.function.token_secret_kms_key_arn]
  }]
  statements = concat(
    [{ sid = "WriteLogs", actions = ["logs:CreateLogStream", "logs:PutLogEvents"], resources = ["${aws_cloudwatch_log_group.this.arn}:*"] }],
    local.token,
    local.token_key,
    var.statements,
  )
}

data "aws_iam_policy_document" "this" {
  dynamic "statement" {
    for_each = local.statements
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = var.name
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_116: invoked only synchronously by the rotator's state machine, which retries and rolls back on failure; a DLQ only receives failed asynchronous invocations
  # checkov:skip=CKV_AWS_117: calls only AWS APIs and the third party's public API; a VPC would need a NAT gateway and subnet inputs
  # checkov:skip=CKV_AWS_115: invoked at most max_concurrency at a time by the rotator; reserved concurrency takes from the account's pool
  # checkov:skip=CKV_AWS_272: deployed from the module's committed zip; code signing needs a Signer profile and signed artifacts in S3
  # checkov:skip=CKV_AWS_173: environment variables hold settings, names and ARNs only; the API token stays in Secrets Manager
  function_name    = var.name
  description      = var.description
  role             = aws_iam_role.this.arn
  runtime          = var.function.runtime
  architectures    = [var.function.architecture]
  handler          = var.handler
  timeout          = var.function.timeout
  filename         = var.package
  source_code_hash = filebase64sha256(var.package)
  tags             = var.function.tags

  environment {
    # Handlers that call a third party's API (those with a token) read HTTP_TIMEOUT_SECONDS.
    variables = merge(var.environment, var.token_secret_arn == null ? {} : { HTTP_TIMEOUT_SECONDS = tostring(var.function.http_timeout_seconds) })
  }

  tracing_config {
    mode = "PassThrough"
  }

  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}
