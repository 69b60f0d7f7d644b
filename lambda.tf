locals {
  lambda_zip = "${path.module}/dist/rotator-lambda.zip"

  # One function per workflow state, each with only the permissions its state needs: the actions it
  # may take on each kind of resource (<kind>_actions, granted as local.grants in iam.tf says).
  # Those that act on users' keys (sts_actions) also reach member accounts' users. RollBack and
  # CleanUp also reach a user by its in-flight tag (in_flight_actions): a rotation under way ends
  # even if `users` stops listing the user meanwhile.
  functions = {
    list-users = {
      handler           = "rotator.list_users.handler"
      description       = "Selects the users a rotation run rotates, in batches, and loads each batch's users."
      timeout           = 60
      environment       = { USERS_PARAMETER_PATH = local.users_parameter_path, BATCH_SIZE = tostring(local.batch_size), ROTATION_STATE_MACHINE_ARN = local.state_machine_arn }
      iam_actions       = []
      in_flight_actions = []
      path_actions      = []
      secret_actions    = []
      kms_actions       = []
      ssm_actions       = ["ssm:GetParametersByPath", "ssm:GetParameters"]
      states_actions    = []
      # The list Terraform wrote, from the rotation state machine's definition (issue 24).
      definition_actions = ["states:DescribeStateMachine"]
      lambda_actions     = []
      cloudwatch_actions = []
      sts_actions        = []
    }
    rotate = {
      handler     = "rotator.rotate.handler"
      description = "Takes a user's rotation lock, creates its new access key, stores it in Secrets Manager and checks AWS accepts it."
      # Room for the key check, and for waiting out a previous secret's deletion.
      timeout = local.rotate_timeout
      environment = merge(
        { SECRET_NAME_PREFIX = local.secret_name_prefix, KEY_VERIFICATION_TIMEOUT_SECONDS = tostring(local.verify_seconds), ROTATOR_NAME = var.name, IN_FLIGHT_TAG = local.in_flight_tag },
        var.keep_inactive_keys ? { KEEP_INACTIVE_KEYS = "true" } : {},
        local.member_environment.rotate,
        var.kms_key_arn == null ? {} : { KMS_KEY_ID = var.kms_key_arn },
        var.user_tag_key == null ? {} : { USER_TAG = "${var.user_tag_key}=${var.name}" },
      )
      # ListUserTags only to tell the rotator's own inactive keys with keep_inactive_keys (issue 22).
      iam_actions       = concat(["iam:ListAccessKeys", "iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:TagUser"], var.keep_inactive_keys ? ["iam:ListUserTags"] : [])
      in_flight_actions = []
      # GetUser: the user's path, checked against its entry's (issue 24).
      path_actions       = ["iam:GetUser"]
      secret_actions     = ["secretsmanager:CreateSecret", "secretsmanager:TagResource", "secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue", "secretsmanager:DeleteSecret"]
      kms_actions        = ["kms:GenerateDataKey", "kms:Decrypt"]
      ssm_actions        = []
      states_actions     = ["states:DescribeExecution"]
      definition_actions = []
      lambda_actions     = []
      cloudwatch_actions = []
      sts_actions        = ["sts:AssumeRole"]
    }
    handoff = {
      handler     = "rotator.handoff.handler"
      description = "Invokes the credentials handler with a user's new key and discards what it returns."
      # Outlasts any handler: a Lambda function runs 15 minutes at most.
      timeout           = 900
      environment       = { CREDENTIALS_HANDLER_ARN = var.credentials_handler_arn }
      iam_actions       = []
      in_flight_actions = []
      path_actions      = []
      # Acknowledged mode: marks the secret once the handler returned (it may have written the key).
      secret_actions     = local.acknowledged ? ["secretsmanager:TagResource"] : []
      kms_actions        = []
      ssm_actions        = []
      states_actions     = []
      definition_actions = []
      lambda_actions     = ["lambda:InvokeFunction"]
      cloudwatch_actions = []
      sts_actions        = []
    }
    cleanup = {
      handler     = "rotator.cleanup.handler"
      description = "After the run's wait, checks which key each handed-off user's third party uses, deletes or deactivates the superseded access key, and deletes the secret."
      # A batch of 100 users, max_concurrency at a time, with IAM's throttling retried.
      timeout = 600
      environment = merge(local.member_environment.cleanup, {
        OLD_KEY_ACTION   = var.old_key_action, SECRET_NAME_PREFIX = local.secret_name_prefix, MAX_CONCURRENCY = tostring(var.max_concurrency), IN_FLIGHT_TAG = local.in_flight_tag
        USAGE_CHECK      = var.usage_check.enabled ? "on" : "off", USAGE_MARGIN_SECONDS = tostring(local.usage_seconds.margin)
        USAGE_MAX_ROUNDS = tostring(local.usage_rounds), KEY_VERIFICATION_TIMEOUT_SECONDS = tostring(local.verify_seconds)
      })
      # GetAccessKeyLastUsed names only the key; IAM authorizes it on the key's user.
      # The keys' marks of origin (ListUserTags) are read while the user wears its in-flight tag only:
      # the listed users' named policies keep their room.
      iam_actions       = ["iam:ListAccessKeys", "iam:DeleteAccessKey", "iam:UpdateAccessKey", "iam:GetAccessKeyLastUsed"]
      in_flight_actions = ["iam:ListAccessKeys", "iam:DeleteAccessKey", "iam:UpdateAccessKey", "iam:GetAccessKeyLastUsed", "iam:ListUserTags", "iam:UntagUser"]
      path_actions      = []
      # TagResource: a half-written hand-off's secret is kept, tagged with its end (issue 22).
      secret_actions     = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:DeleteSecret", "secretsmanager:TagResource"]
      kms_actions        = ["kms:Decrypt"]
      ssm_actions        = []
      states_actions     = []
      definition_actions = []
      lambda_actions     = []
      cloudwatch_actions = []
      sts_actions        = ["sts:AssumeRole"]
    }
    rollback = {
      handler            = "rotator.rollback.handler"
      description        = "Deletes the key and secret of a rotation that did not hand its key off."
      timeout            = 60
      environment        = merge(local.member_environment.rollback, { SECRET_NAME_PREFIX = local.secret_name_prefix, IN_FLIGHT_TAG = local.in_flight_tag })
      iam_actions        = ["iam:ListAccessKeys", "iam:DeleteAccessKey"]
      in_flight_actions  = ["iam:ListAccessKeys", "iam:DeleteAccessKey", "iam:UntagUser"]
      path_actions       = []
      secret_actions     = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:DeleteSecret"]
      kms_actions        = ["kms:Decrypt"]
      ssm_actions        = []
      states_actions     = []
      definition_actions = []
      lambda_actions     = []
      cloudwatch_actions = []
      sts_actions        = ["sts:AssumeRole"]
    }
    report = {
      handler            = "rotator.report.handler"
      description        = "Summarizes each batch, and the run, as data; fails the run, naming each failed user and why, when any user failed."
      timeout            = 30
      environment        = { METRIC_NAMESPACE = local.staleness_namespace, ROTATOR_NAME = var.name }
      iam_actions        = []
      in_flight_actions  = []
      path_actions       = []
      secret_actions     = []
      kms_actions        = []
      ssm_actions        = []
      states_actions     = []
      definition_actions = []
      lambda_actions     = []
      cloudwatch_actions = ["cloudwatch:PutMetricData"]
      sts_actions        = []
    }
    # Not a workflow state: started by its own schedule (staleness.tf), for the staleness alarm.
    check = {
      handler     = "rotator.check.handler"
      description = "Publishes the age of the oldest active access key among the listed users, for the staleness alarm."
      # One ListAccessKeys call per user, one after another: 1,000 users well within this.
      timeout           = 300
      environment       = merge(local.member_environment.check, { USERS_PARAMETER_PATH = local.users_parameter_path, METRIC_NAMESPACE = local.staleness_namespace, ROTATOR_NAME = var.name, ROTATION_STATE_MACHINE_ARN = local.state_machine_arn })
      iam_actions       = ["iam:ListAccessKeys"]
      in_flight_actions = []
      path_actions      = []
      secret_actions    = []
      kms_actions       = []
      ssm_actions       = ["ssm:GetParametersByPath", "ssm:GetParameters"]
      states_actions    = []
      # The list Terraform wrote, from the rotation state machine's definition (issue 24).
      definition_actions = ["states:DescribeStateMachine"]
      lambda_actions     = []
      cloudwatch_actions = ["cloudwatch:PutMetricData"]
      sts_actions        = ["sts:AssumeRole"]
    }
  }
}

resource "aws_cloudwatch_log_group" "lambda" {
  # checkov:skip=CKV_AWS_158: encrypted with log_kms_key_arn when set (checkov reads its null default); no key material is logged, and CloudWatch Logs encrypts at rest anyway
  for_each = local.functions

  name              = "/aws/lambda/${var.name}-${each.key}" # as in the functions' log policies
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_kms_key_arn
  # The audit trail of which user got which key when outlives the module (keep_logs_on_destroy).
  skip_destroy = var.keep_logs_on_destroy
  tags         = var.tags
}

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_116: invoked only synchronously by Step Functions, whose Retry/Catch handle failures; a DLQ only receives failed asynchronous invocations
  # checkov:skip=CKV_AWS_117: calls only AWS APIs; a VPC would need a NAT gateway or interface endpoints and subnet inputs
  # checkov:skip=CKV_AWS_115: concurrency is bounded by the Map state's MaxConcurrency (max_concurrency); reserved concurrency takes from the account's pool and fails on accounts with low limits
  # checkov:skip=CKV_AWS_272: the module deploys its own committed zip; code signing needs a Signer profile and signed artifacts in S3
  # checkov:skip=CKV_AWS_173: environment variables hold only names, a prefix, a number and a key ARN, no secrets
  for_each = local.functions

  function_name    = "${var.name}-${each.key}"
  description      = each.value.description
  role             = aws_iam_role.this[each.key].arn
  runtime          = var.lambda_runtime
  architectures    = [var.architecture]
  handler          = each.value.handler
  timeout          = each.value.timeout
  filename         = local.lambda_zip
  source_code_hash = filebase64sha256(local.lambda_zip)
  tags             = var.tags

  tracing_config {
    mode = "PassThrough"
  }

  # Lambda writes the functions' log records as JSON lines (each record's fields, with the run's
  # execution ARN and the user), at these levels: one Logs Insights query follows a run.
  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.lambda[each.key].name
    application_log_level = var.application_log_level
    system_log_level      = var.system_log_level
  }

  dynamic "environment" {
    for_each = length(each.value.environment) > 0 ? [each.value.environment] : []
    content {
      variables = environment.value
    }
  }

  depends_on = [aws_cloudwatch_log_group.lambda, aws_iam_role_policy.this, aws_iam_role_policy_attachment.users]
}
