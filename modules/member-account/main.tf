data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
  # One role per rotator function that acts on users' keys, named "<name>-member-<function>", each
  # trusting only that function's role in the rotator's account ("<name>-<function>" under
  # role_path, as the root module names it) and allowed only what that function does (issue 24).
  # <function>: the actions on listed users (by name or by tag), and on a user mid-rotation (by its
  # in-flight tag), whether or not it is still listed.
  roles = {
    # RotateKey lists the keys, deletes an inactive one to make room, creates the new key, and tags
    # the user while it rotates it (ListUserTags: the marks of its own keys, with keep_inactive_keys).
    rotate = {
      actions           = ["iam:ListAccessKeys", "iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:ListUserTags", "iam:TagUser"]
      in_flight_actions = []
      path_action       = true
    }
    # RollBack deletes the rotation's new key and removes the in-flight tag: it never creates a key.
    rollback = {
      actions           = ["iam:ListAccessKeys", "iam:DeleteAccessKey"]
      in_flight_actions = ["iam:ListAccessKeys", "iam:DeleteAccessKey", "iam:UntagUser"]
      path_action       = false
    }
    # CleanUp reads last uses, deletes or deactivates the superseded key, and removes the tag.
    cleanup = {
      actions           = ["iam:ListAccessKeys", "iam:DeleteAccessKey", "iam:UpdateAccessKey", "iam:GetAccessKeyLastUsed"]
      in_flight_actions = ["iam:ListAccessKeys", "iam:DeleteAccessKey", "iam:UpdateAccessKey", "iam:GetAccessKeyLastUsed", "iam:ListUserTags", "iam:UntagUser"]
      path_action       = false
    }
    # The staleness check only lists keys.
    check = {
      actions           = ["iam:ListAccessKeys"]
      in_flight_actions = []
      path_action       = false
    }
  }
  rotator_role_arns = {
    for function in keys(local.roles) : function => "arn:${local.partition}:iam::${var.rotator_account_id}:role${var.role_path}${var.name}-${function}"
  }
  in_flight_tag_key   = "iam-credentials-rotator/${var.name}"
  in_flight_tag_value = "rotating"
  # TagUser and UntagUser, wherever granted, may touch only the rotator's own tags: the in-flight tag
  # (its value "rotating") and the marks of the keys it verified ("<in-flight tag key>/<key id>").
  # Both conditions hold for the statement's other actions, which carry no tags (ForAllValues of no
  # keys, and IfExists of an absent key, are true); aws:RequestTag only with TagUser (UntagUser
  # carries no values).
  tag_keys_condition   = { test = "ForAllValues:StringLike", variable = "aws:TagKeys", values = [local.in_flight_tag_key, "${local.in_flight_tag_key}/*"] }
  tag_values_condition = { test = "StringEqualsIfExists", variable = "aws:RequestTag/${local.in_flight_tag_key}", values = [local.in_flight_tag_value] }
  user_arn             = "arn:${local.partition}:iam::${data.aws_caller_identity.current.account_id}:user/%s"
  by_tag               = var.user_tag_key != null
  resources            = local.by_tag ? [format(local.user_arn, "*")] : flatten([for u in var.usernames : [format(local.user_arn, u), format(local.user_arn, "*/${u}")]])
}

# Trusts the rotator's account, for exactly the one function role whose ARN aws:PrincipalArn names
# (issue 29): a trust policy naming the role itself as principal is bound to the role's unique id,
# and stops working when the rotator's role is deleted and re-created; a condition on its ARN goes
# on working. With principals of one known account (no service acting for many customers), no one
# else can get the rotator to assume this role, so no sts:ExternalId is needed.
data "aws_iam_policy_document" "trust" {
  for_each = local.roles

  statement {
    sid     = "RotatorFunction"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${var.rotator_account_id}:root"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:PrincipalArn"
      values   = [local.rotator_role_arns[each.key]]
    }
  }
}

data "aws_iam_policy_document" "keys" {
  for_each = local.roles

  statement {
    # With paths or without: IAM accepts no pattern that covers both user/<name> and user/<path>/<name>.
    sid       = local.by_tag ? "TaggedUsersKeys" : "ListedUsersKeys"
    actions   = each.value.actions
    resources = local.resources
    dynamic "condition" {
      for_each = concat(
        local.by_tag ? [{ test = "StringEquals", variable = "iam:ResourceTag/${var.user_tag_key}", values = [var.name] }] : [],
        contains(each.value.actions, "iam:TagUser") ? [local.tag_keys_condition, local.tag_values_condition] : [],
      )
      content {
        test     = condition.value.test
        variable = condition.value.variable
        values   = condition.value.values
      }
    }
  }

  dynamic "statement" {
    for_each = length(each.value.in_flight_actions) > 0 ? [each.value.in_flight_actions] : []
    content {
      sid       = "UsersKeysInFlight"
      actions   = statement.value
      resources = [format(local.user_arn, "*")]
      dynamic "condition" {
        for_each = concat(
          [{ test = "StringEquals", variable = "iam:ResourceTag/${local.in_flight_tag_key}", values = [local.in_flight_tag_value] }],
          contains(statement.value, "iam:UntagUser") ? [local.tag_keys_condition] : [],
        )
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }

  # RotateKey reads a user's path to refuse a user found elsewhere than its entry in the rotator's
  # users says (issue 24): GetUser, read-only, on any user of the account.
  dynamic "statement" {
    for_each = each.value.path_action ? [1] : []
    content {
      sid       = "ReadUsersPath"
      actions   = ["iam:GetUser"]
      resources = [format(local.user_arn, "*")]
    }
  }
}

resource "aws_iam_role" "this" {
  for_each = local.roles

  name                 = "${var.name}-member-${each.key}"
  path                 = var.role_path
  description          = "Lets the ${each.key} function of the ${var.name} credentials rotator in account ${var.rotator_account_id} act on the access keys of this account's listed users."
  assume_role_policy   = data.aws_iam_policy_document.trust[each.key].json
  permissions_boundary = var.permissions_boundary_arn
  tags                 = var.tags
}

resource "aws_iam_role_policy" "keys" {
  for_each = local.roles

  name   = "${var.name}-users-keys"
  role   = aws_iam_role.this[each.key].id
  policy = data.aws_iam_policy_document.keys[each.key].json

  lifecycle {
    precondition {
      # IAM counts a role's inline policies' characters without white space.
      condition     = length(jsonencode(jsondecode(data.aws_iam_policy_document.keys[each.key].json))) <= 10240
      error_message = "usernames: naming the ${length(var.usernames)} users' ARNs overflows the ${each.key} member role's inline policy (over the 10,240 characters IAM allows). Set user_tag_key (as the rotator's) and tag each user with it and the value \"${var.name}\"."
    }
  }
}
