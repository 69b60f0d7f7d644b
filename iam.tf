# Who may assume the module's roles: its functions, its state machine, its schedule.
data "aws_iam_policy_document" "assume" {
  for_each = toset(["lambda", "states", "events"])

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["${each.key}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  for_each = local.functions

  name               = "${var.name}-${each.key}"
  description        = "Role of the ${var.name}-${each.key} Lambda function."
  assume_role_policy = data.aws_iam_policy_document.assume["lambda"].json
  tags               = var.tags
}

# Every function writes its own log group, and only that.
data "aws_iam_policy_document" "lambda" {
  for_each = local.functions

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.log_group_arn}:/aws/lambda/${var.name}-${each.key}:*"]
  }

  dynamic "statement" {
    for_each = contains(["list-users", "check"], each.key) ? [1] : []
    content {
      sid       = "ReadUsersList"
      actions   = ["ssm:GetParametersByPath", "ssm:GetParameters"]
      resources = [local.users_parameter_arn, "${local.users_parameter_arn}/*"]
    }
  }

  # With user_tag_key, the users' keys are reached through their tag instead of their ARNs.
  dynamic "statement" {
    for_each = var.user_tag_key != null && length(each.value.iam_actions) > 0 ? [1] : []
    content {
      sid       = "TaggedUsersKeys"
      actions   = each.value.iam_actions
      resources = ["arn:${local.partition}:iam::${local.account_id}:user/*"]
      condition {
        test     = "StringEquals"
        variable = "iam:ResourceTag/${var.user_tag_key}"
        values   = [var.name]
      }
    }
  }

  dynamic "statement" {
    for_each = length(each.value.secret_actions) > 0 ? [1] : []
    content {
      sid       = "RotatorSecrets"
      actions   = each.value.secret_actions
      resources = [local.secrets_arn]
    }
  }

  # Through Secrets Manager only, for the secrets' key.
  dynamic "statement" {
    for_each = var.kms_key_arn != null && length(each.value.kms_actions) > 0 ? [1] : []
    content {
      sid       = "SecretsKey"
      actions   = each.value.kms_actions
      resources = [var.kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${local.region}.amazonaws.com"]
      }
    }
  }

  # HandOff invokes the credentials handler; nothing else invokes a function.
  dynamic "statement" {
    for_each = length(each.value.invokes) > 0 ? [1] : []
    content {
      sid       = "InvokeCredentialsHandler"
      actions   = ["lambda:InvokeFunction"]
      resources = each.value.invokes
    }
  }

  # The user's lock names the execution holding it; a stale one is told apart from a running one.
  dynamic "statement" {
    for_each = each.key == "rotate" ? [1] : []
    content {
      sid       = "ReadLockHolders"
      actions   = ["states:DescribeExecution"]
      resources = [local.executions_arn]
    }
  }

  # PutMetricData supports no resource-level permissions: the namespace condition is the scope.
  dynamic "statement" {
    for_each = each.key == "check" ? [1] : []
    content {
      sid       = "PublishKeyAge"
      actions   = ["cloudwatch:PutMetricData"]
      resources = ["*"]
      condition {
        test     = "StringEquals"
        variable = "cloudwatch:namespace"
        values   = [local.staleness_namespace]
      }
    }
  }
}

resource "aws_iam_role_policy" "lambda" {
  for_each = local.functions

  name   = "${var.name}-${each.key}"
  role   = aws_iam_role.lambda[each.key].id
  policy = data.aws_iam_policy_document.lambda[each.key].json
}

locals {
  # The listed users' ARNs go into customer-managed policies of at most 6144 characters each:
  # a chunk holds users until their ARNs pass this budget, so it ends below
  # budget + one user's ARNs (at most 270) + the statement around them (about 150).
  user_policy_budget = 5500
  user_arn_chars     = [for pair in local.user_arns : length(join("", pair)) + 6]
  user_policy_chunk = [
    for i in range(length(local.user_arns)) :
    floor(sum(concat([0], slice(local.user_arn_chars, 0, i + 1))) / local.user_policy_budget)
  ]
  user_policies = merge([
    for function, f in local.functions : {
      for chunk in distinct(local.user_policy_chunk) : "${function}-users-${chunk}" => {
        function  = function
        actions   = f.iam_actions
        resources = flatten([for i, pair in local.user_arns : pair if local.user_policy_chunk[i] == chunk])
      }
    } if length(f.iam_actions) > 0
  ]...)
}

data "aws_iam_policy_document" "users" {
  for_each = local.user_policies

  statement {
    sid       = "ListedUsersKeys"
    actions   = each.value.actions
    resources = each.value.resources
  }
}

resource "aws_iam_policy" "users" {
  for_each = local.user_policies

  name        = "${var.name}-${each.key}"
  description = "Access keys of users listed in ${var.name}, for its ${each.value.function} function."
  policy      = data.aws_iam_policy_document.users[each.key].json
}

resource "aws_iam_role_policy_attachment" "users" {
  for_each = local.user_policies

  role       = aws_iam_role.lambda[each.value.function].name
  policy_arn = aws_iam_policy.users[each.key].arn
}

resource "aws_iam_role" "state_machine" {
  name               = "${var.name}-state-machine"
  description        = "Role of the ${var.name} state machine."
  assume_role_policy = data.aws_iam_policy_document.assume["states"].json
  tags               = var.tags
}

data "aws_iam_policy_document" "state_machine" {
  # The handler is invoked by the HandOff function, not by the state machine.
  statement {
    sid     = "InvokeRotatorFunctions"
    actions = ["lambda:InvokeFunction"]
    # Not the check, which its own schedule starts.
    resources = [for name, f in aws_lambda_function.this : f.arn if name != "check"]
  }

  # Each batch of users runs as a child execution, started and awaited (.sync) by the run.
  statement {
    sid       = "RunBatches"
    actions   = ["states:StartExecution"]
    resources = [local.batch_machine_arn]
  }

  statement {
    sid       = "AwaitBatches"
    actions   = ["states:DescribeExecution", "states:StopExecution"]
    resources = [local.batch_runs_arn]
  }

  # The rule Step Functions manages to learn when a .sync child execution ends.
  statement {
    sid       = "AwaitBatchesRule"
    actions   = ["events:PutTargets", "events:PutRule", "events:DescribeRule"]
    resources = ["arn:${local.partition}:events:${local.region}:${local.account_id}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule"]
  }

  # Vended log delivery: these actions do not support resource-level permissions.
  statement {
    sid = "DeliverLogs"
    actions = [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "state_machine" {
  name   = "${var.name}-state-machine"
  role   = aws_iam_role.state_machine.id
  policy = data.aws_iam_policy_document.state_machine.json
}

data "aws_iam_policy_document" "credentials_handler" {
  statement {
    sid       = "ReadRotatedCredentials"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [local.secrets_arn]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [1]
    content {
      sid       = "DecryptRotatedCredentials"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${local.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "credentials_handler" {
  count = var.credentials_handler_role_name == null ? 0 : 1

  name   = "${var.name}-read-credentials"
  role   = var.credentials_handler_role_name
  policy = data.aws_iam_policy_document.credentials_handler.json
}
