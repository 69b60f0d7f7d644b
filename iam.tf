locals {
  # Every role the module creates: the service that assumes it and, where known, what in that
  # service may (aws:SourceArn).
  roles = merge(
    {
      for function in keys(local.functions) : function => {
        service     = "lambda"
        description = "Role of the ${var.name}-${function} Lambda function."
        # The account only: Lambda documents the function's ARN for the calls made with the role
        # (lambda:SourceFunctionArn), not aws:SourceArn for assuming it.
        source_arns = []
      }
    },
    {
      state-machine = {
        service     = "states"
        description = "Role of the ${var.name} state machine."
        source_arns = [local.state_machine_arn, local.batch_machine_arn]
      }
      schedule = {
        service     = "scheduler"
        description = "Lets the ${var.name} schedule start the state machine."
        source_arns = [local.schedule_arn]
      }
    }
  )

  # What a function may do with each kind of resource: a function's row in local.functions lists
  # the actions (field <kind>_actions); this table says on what, and under which condition.
  # Wherever TagUser or UntagUser is granted, they may touch only the rotator's own tags on a user:
  # its in-flight tag (of value "rotating") and the marks of the keys it verified ("<in-flight tag
  # key>/<key id>", lambda/rotator/common.py). Both conditions hold for the statement's other
  # actions, which carry no tags (ForAllValues of no keys, and IfExists of an absent key, are true).
  # (aws:RequestTag only where TagUser is granted: UntagUser carries no tag values.)
  tag_keys_condition   = { test = "ForAllValues:StringLike", variable = "aws:TagKeys", values = [local.in_flight_tag_key, "${local.in_flight_tag_key}/*"] }
  tag_values_condition = { test = "StringEqualsIfExists", variable = "aws:RequestTag/${local.in_flight_tag_key}", values = [local.in_flight_tag_value] }
  tag_conditions       = { for actions in [["iam:TagUser"], ["iam:UntagUser"], ["iam:TagUser", "iam:UntagUser"]] : join(",", actions) => contains(actions, "iam:TagUser") ? [local.tag_keys_condition, local.tag_values_condition] : [local.tag_keys_condition] }
  via_secrets_manager  = { test = "StringEquals", variable = "kms:ViaService", values = ["secretsmanager.${local.region}.amazonaws.com"] }
  grants = {
    ssm = {
      sid        = "ReadUsersList"
      enabled    = true
      resources  = [local.users_parameter_arn, "${local.users_parameter_arn}/*"]
      conditions = []
    }
    # By default the users are named by ARN in managed policies (below); with user_tag_key, reached
    # through their tag.
    iam = {
      sid        = "TaggedUsersKeys"
      enabled    = var.user_tag_key != null
      resources  = [format(local.user_arn, "*")]
      conditions = var.user_tag_key == null ? [] : [{ test = "StringEquals", variable = "iam:ResourceTag/${var.user_tag_key}", values = [var.name] }]
    }
    # The user being rotated, whether or not still listed: RotateKey tags it before it takes the
    # user's lock, and RollBack or CleanUp removes the tag with the lock (lambda/rotator/common.py).
    in_flight = {
      sid        = "UsersKeysInFlight"
      enabled    = true
      resources  = [format(local.user_arn, "*")]
      conditions = [{ test = "StringEquals", variable = "iam:ResourceTag/${local.in_flight_tag_key}", values = [local.in_flight_tag_value] }]
    }
    secret = {
      sid        = "RotatorSecrets"
      enabled    = true
      resources  = local.secrets_arns
      conditions = []
    }
    # Through Secrets Manager only, for the secrets' key.
    kms = {
      sid        = "SecretsKey"
      enabled    = var.kms_key_arn != null
      resources  = compact([var.kms_key_arn])
      conditions = [local.via_secrets_manager]
    }
    # HandOff invokes the credentials handler; nothing else invokes it.
    lambda = {
      sid        = "InvokeCredentialsHandler"
      enabled    = true
      resources  = [var.credentials_handler_arn]
      conditions = []
    }
    # A user's path (RotateKey refuses a user found elsewhere than its entry says): read-only.
    path = {
      sid        = "ReadUsersPath"
      enabled    = true
      resources  = [format(local.user_arn, "*")]
      conditions = []
    }
    # Users of other accounts are reached through the roles modules/member-account creates there:
    # each function assumes only its own ("{function}" stands for the function's name).
    sts = {
      sid        = "AssumeMemberRoles"
      enabled    = length(local.member_accounts) > 0
      resources  = [for account in local.member_accounts : format(local.member_role_arn, account, "{function}")]
      conditions = []
    }
    # PutMetricData supports no resource-level permissions: the namespace condition is the scope.
    cloudwatch = {
      sid        = "PublishKeyAge"
      enabled    = true
      resources  = ["*"]
      conditions = [{ test = "StringEquals", variable = "cloudwatch:namespace", values = [local.staleness_namespace] }]
    }
    # The users list Terraform wrote (local.users_digests), which LoadUsers and the staleness check
    # read from the rotation state machine's definition: the one place of it an attacker who may
    # write the users' parameters cannot change.
    definition = {
      sid        = "ReadListedUsers"
      enabled    = true
      resources  = [local.state_machine_arn]
      conditions = []
    }
    # The user's lock names the execution holding it; a stale one is told apart from a running one.
    states = {
      sid        = "ReadLockHolders"
      enabled    = true
      resources  = [local.executions_arn]
      conditions = []
    }
  }

  # Each role's inline policy, one statement per row.
  role_statements = merge(
    {
      for function, f in local.functions : function => concat(
        [{
          sid        = "WriteOwnLogs"
          actions    = ["logs:CreateLogStream", "logs:PutLogEvents"]
          resources  = ["${local.log_group_arn}:/aws/lambda/${var.name}-${function}:*"]
          conditions = []
        }],
        [
          for kind, grant in local.grants : merge(grant, {
            actions   = f["${kind}_actions"]
            resources = [for resource in grant.resources : replace(resource, "{function}", function)]
            # TagUser and UntagUser touch only the rotator's own tags.
            conditions = concat(grant.conditions, lookup(local.tag_conditions, join(",", sort(setintersection(f["${kind}_actions"], ["iam:TagUser", "iam:UntagUser"]))), []))
          })
          if grant.enabled && length(f["${kind}_actions"]) > 0
        ],
      )
    },
    {
      state-machine = [
        {
          # Not the handler (HandOff invokes it), nor the check (its own schedule starts it).
          sid        = "InvokeRotatorFunctions"
          actions    = ["lambda:InvokeFunction"]
          resources  = [for function in keys(local.functions) : format(local.function_arn, function) if function != "check"]
          conditions = []
        },
        # Each batch of users runs as a child execution, started and awaited (.sync) by the run.
        {
          sid        = "RunBatches"
          actions    = ["states:StartExecution"]
          resources  = [local.batch_machine_arn]
          conditions = []
        },
        {
          sid        = "AwaitBatches"
          actions    = ["states:DescribeExecution", "states:StopExecution"]
          resources  = [local.batch_runs_arn]
          conditions = []
        },
        # The rule Step Functions manages to learn when a .sync child execution ends.
        {
          sid        = "AwaitBatchesRule"
          actions    = ["events:PutTargets", "events:PutRule", "events:DescribeRule"]
          resources  = ["${format(local.arn_prefix, "events")}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule"]
          conditions = []
        },
        # Vended log delivery: these actions do not support resource-level permissions.
        {
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
          resources  = ["*"]
          conditions = []
        },
      ]
      schedule = [
        {
          sid        = "StartRotation"
          actions    = ["states:StartExecution"]
          resources  = [local.state_machine_arn]
          conditions = []
        },
        # Scheduler sends a run it could not start to the dead-letter queue with this role.
        {
          sid        = "DeadLetters"
          actions    = ["sqs:SendMessage"]
          resources  = [local.schedule_dead_letters_arn]
          conditions = []
        },
      ]
    }
  )
}

# Who may assume each role: its service, on behalf of this account (and of the module's own
# resources where their ARNs are known), against the confused deputy problem.
data "aws_iam_policy_document" "assume" {
  for_each = local.roles

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["${each.value.service}.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    dynamic "condition" {
      for_each = length(each.value.source_arns) > 0 ? [each.value.source_arns] : []
      content {
        test     = "ArnLike"
        variable = "aws:SourceArn"
        values   = condition.value
      }
    }
  }
}

resource "aws_iam_role" "this" {
  for_each = local.roles

  name                 = "${var.name}-${each.key}"
  path                 = var.role_path
  permissions_boundary = var.role_permissions_boundary_arn
  description          = each.value.description
  assume_role_policy   = data.aws_iam_policy_document.assume[each.key].json
  tags                 = var.tags
}

data "aws_iam_policy_document" "role" {
  for_each = local.role_statements

  dynamic "statement" {
    for_each = each.value
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
      dynamic "condition" {
        for_each = statement.value.conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_iam_role_policy" "this" {
  for_each = local.role_statements

  name   = "${var.name}-${each.key}"
  role   = aws_iam_role.this[each.key].id
  policy = data.aws_iam_policy_document.role[each.key].json
}

locals {
  # Without user_tag_key, the listed users' ARNs go into customer-managed policies, ten per function
  # (IAM's default quota of managed policies per role). A user's policy is chosen by a hash of its
  # name, so adding or removing a user changes one policy per function.
  user_policy_count = 10
  # Only this account's users: those of member accounts are named by their account's member role.
  user_policy_of = {
    for username, u in local.users : username => parseint(substr(sha256(lower(username)), 0, 8), 16) % local.user_policy_count
    if u.account_id == null
  }
  # A user's ARNs: the one of its path, or, with path "*", the two that cover any path (IAM accepts
  # no pattern that covers both user/<name> and user/<path>/<name>).
  user_arns = {
    for username, u in local.users : username => u.path == "*" ? [format(local.user_arn, username), format(local.user_arn, "*/${username}")] : [format(local.user_arn, "${trimprefix(u.path, "/")}${username}")]
    if u.account_id == null
  }
  user_policies = var.user_tag_key != null ? {} : merge([
    for function, f in local.functions : {
      for index in distinct(values(local.user_policy_of)) : "${function}-users-${index}" => {
        function = function
        index    = index
        # Exactly the listed users, each by the ARN of its path (two ARNs with path "*").
        document = jsonencode({
          Version = "2012-10-17"
          Statement = [merge(
            {
              Sid      = "ListedUsersKeys"
              Effect   = "Allow"
              Action   = f.iam_actions
              Resource = flatten([for username, i in local.user_policy_of : local.user_arns[username] if i == index])
            },
            length(setintersection(f.iam_actions, ["iam:TagUser", "iam:UntagUser"])) == 0 ? {} : {
              Condition = { for c in local.tag_conditions[join(",", sort(setintersection(f.iam_actions, ["iam:TagUser", "iam:UntagUser"])))] : c.test => { (c.variable) = c.values } }
            },
          )]
        })
      }
    } if length(f.iam_actions) > 0
  ]...)
}

resource "aws_iam_policy" "users" {
  for_each = local.user_policies

  name        = "${var.name}-${each.key}"
  description = "Access keys of users listed in ${var.name}, for its ${each.value.function} function."
  policy      = each.value.document
  tags        = var.tags

  lifecycle {
    precondition {
      # IAM counts a managed policy's characters without white space, as jsonencode writes it.
      condition     = length(each.value.document) <= 6144
      error_message = "users: naming the ${length(var.users)} users' ARNs overflows the ${each.value.function} function's managed policy ${each.value.index} (${length(each.value.document)} characters, over the 6,144 IAM allows). Set user_tag_key (for example \"iam-credentials-rotator\") and tag each listed user with it and the value \"${var.name}\"."
    }
  }
}

resource "aws_iam_role_policy_attachment" "users" {
  for_each = local.user_policies

  role       = aws_iam_role.this[each.value.function].name
  policy_arn = aws_iam_policy.users[each.key].arn
}

data "aws_iam_policy_document" "credentials_handler" {
  statement {
    sid       = "ReadRotatedCredentials"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.secrets_arns
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [local.via_secrets_manager]
    content {
      sid       = "DecryptRotatedCredentials"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]
      condition {
        test     = statement.value.test
        variable = statement.value.variable
        values   = statement.value.values
      }
    }
  }
}

# Whoever confirms or refuses acknowledged hand-offs. SendTaskSuccess and SendTaskFailure support no
# resource-level permissions nor condition keys (Service Authorization Reference): the task token,
# which only the handler's event and this module's execution histories hold, is what scopes them.
data "aws_iam_policy_document" "acknowledge" {
  statement {
    sid       = "AnswerHandOffs"
    actions   = ["states:SendTaskSuccess", "states:SendTaskFailure"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "credentials_handler" {
  count = var.credentials_handler_role_name == null ? 0 : 1

  name   = "${var.name}-read-credentials"
  role   = var.credentials_handler_role_name
  policy = data.aws_iam_policy_document.credentials_handler.json
}

# Addresses before 2.0: one role and one inline policy per function, the state machine and the schedule.
moved {
  from = aws_iam_role.lambda
  to   = aws_iam_role.this
}

moved {
  from = aws_iam_role.state_machine
  to   = aws_iam_role.this["state-machine"]
}

moved {
  from = aws_iam_role.schedule
  to   = aws_iam_role.this["schedule"]
}

moved {
  from = aws_iam_role_policy.lambda
  to   = aws_iam_role_policy.this
}

moved {
  from = aws_iam_role_policy.state_machine
  to   = aws_iam_role_policy.this["state-machine"]
}

moved {
  from = aws_iam_role_policy.schedule
  to   = aws_iam_role_policy.this["schedule"]
}
