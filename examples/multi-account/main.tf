# The rotator's account: the default provider.
provider "aws" {
  region = var.region

  # The rotator tags a user while it rotates it (iam-credentials-rotator/<name>), so that the rotation
  # can finish even if an apply stops listing the user meanwhile: keep Terraform from removing it.
  ignore_tags {
    key_prefixes = ["iam-credentials-rotator/"]
  }
}

# A member account, reached by Terraform as an administrator of it (an organization's
# OrganizationAccountAccessRole, or a profile of yours).
provider "aws" {
  alias  = "member"
  region = var.region

  assume_role {
    role_arn = var.member_admin_role_arn
  }

  ignore_tags {
    key_prefixes = ["iam-credentials-rotator/"]
  }
}

data "aws_caller_identity" "rotator" {}
data "aws_caller_identity" "member" {
  provider = aws.member
}

# Demo users: one of the same name in each account. In your accounts these already exist.
resource "aws_iam_user" "rotator" {
  # checkov:skip=CKV_AWS_273: demo user standing in for the IAM users the module exists to rotate
  name          = var.username
  force_destroy = true
}

resource "aws_iam_user" "member" {
  # checkov:skip=CKV_AWS_273: demo user standing in for the IAM users the module exists to rotate
  provider      = aws.member
  name          = var.username
  force_destroy = true
  # The member role reaches the users tagged for this rotator (user_tag_key below), whatever their number.
  tags = { rotated-by = var.name }
}

module "rotator" {
  source = "../../"

  name = var.name
  users = [
    # This account's user.
    { username = aws_iam_user.rotator.name },
    # The member account's user of the same name.
    { username = aws_iam_user.member.name, account_id = data.aws_caller_identity.member.account_id, metadata = "env=prod" },
  ]
  credentials_handler_arn       = aws_lambda_function.handler.arn
  credentials_handler_role_name = aws_iam_role.handler.name
  lambda_runtime                = var.lambda_runtime
}

# In the member account: the roles the rotator assumes there, one per rotator function, each with
# only what that function does. They trust the rotator's account on the condition that the caller is
# the function's role (aws:PrincipalArn), so they may be applied before the rotator, and keep working
# when its roles are re-created.
module "rotator_member" {
  source    = "../../modules/member-account"
  providers = { aws = aws.member }

  rotator_account_id = data.aws_caller_identity.rotator.account_id
  name               = var.name     # the rotator's name
  user_tag_key       = "rotated-by" # or usernames = [...], the users by name
}

# The credentials handler: your code, which hands each new key to the third party. Here the one
# of examples/basic (it POSTs the key to third_party_url).
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
  filename         = "${path.module}/../basic/handler.zip"
  source_code_hash = filebase64sha256("${path.module}/../basic/handler.zip")

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
