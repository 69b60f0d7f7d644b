data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
  role_name = "${var.name}-member"
  # The rotator's functions that act on users' keys, each under its own role named as the root
  # module names it ("<name>-<function>", under role_path): only these may assume the member role.
  functions = ["rotate", "rollback", "cleanup", "check"]
  rotator_role_arns = [
    for function in local.functions : "arn:${local.partition}:iam::${var.rotator_account_id}:role${var.role_path}${var.name}-${function}"
  ]
  # Union of what those functions do to a user's keys: RotateKey lists, creates and deletes, and tags
  # the user while it rotates it; RollBack deletes; CleanUp reads last uses, deletes or deactivates;
  # the staleness check lists.
  actions = ["iam:ListAccessKeys", "iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:UpdateAccessKey", "iam:GetAccessKeyLastUsed", "iam:ListUserTags", "iam:TagUser"]
  # A user being rotated, by its in-flight tag (as the rotator's own grant): RollBack and CleanUp end
  # the rotation even if the user stops being listed, or tagged with user_tag_key, meanwhile.
  in_flight_actions   = ["iam:ListAccessKeys", "iam:DeleteAccessKey", "iam:UpdateAccessKey", "iam:GetAccessKeyLastUsed", "iam:ListUserTags", "iam:UntagUser"]
  in_flight_tag_key   = "iam-credentials-rotator/${var.name}"
  in_flight_tag_value = "rotating"
  user_arn            = "arn:${local.partition}:iam::${data.aws_caller_identity.current.account_id}:user/%s"
  by_tag              = var.user_tag_key != null
  resources           = local.by_tag ? [format(local.user_arn, "*")] : flatten([for u in var.usernames : [format(local.user_arn, u), format(local.user_arn, "*/${u}")]])
}

# Trusts the rotator's function roles by exact ARN. aws:PrincipalAccount restates their account:
# with principals that are roles of one known account (no service acting for many customers), no
# one else can get the rotator to assume this role, so no sts:ExternalId is needed.
data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "RotatorFunctions"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = local.rotator_role_arns
    }
    condition {
      test     = "StringEquals"
      variable = "aws:PrincipalAccount"
      values   = [var.rotator_account_id]
    }
  }
}

data "aws_iam_policy_document" "keys" {
  statement {
    # With paths or without: IAM accepts no pattern that covers both user/<name> and user/<path>/<name>.
    sid       = local.by_tag ? "TaggedUsersKeys" : "ListedUsersKeys"
    actions   = local.actions
    resources = local.resources
    dynamic "condition" {
      for_each = local.by_tag ? [var.user_tag_key] : []
      content {
        test     = "StringEquals"
        variable = "iam:ResourceTag/${condition.value}"
        values   = [var.name]
      }
    }
  }

  statement {
    sid       = "UsersKeysInFlight"
    actions   = local.in_flight_actions
    resources = [format(local.user_arn, "*")]
    condition {
      test     = "StringEquals"
      variable = "iam:ResourceTag/${local.in_flight_tag_key}"
      values   = [local.in_flight_tag_value]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = local.role_name
  path                 = var.role_path
  description          = "Lets the ${var.name} credentials rotator in account ${var.rotator_account_id} rotate the access keys of this account's listed users."
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  permissions_boundary = var.permissions_boundary_arn
  tags                 = var.tags
}

resource "aws_iam_role_policy" "keys" {
  name   = "${var.name}-users-keys"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.keys.json

  lifecycle {
    precondition {
      # IAM counts a role's inline policies' characters without white space.
      condition     = length(jsonencode(jsondecode(data.aws_iam_policy_document.keys.json))) <= 10240
      error_message = "usernames: naming the ${length(var.usernames)} users' ARNs overflows the member role's inline policy (over the 10,240 characters IAM allows). Set user_tag_key (as the rotator's) and tag each user with it and the value \"${var.name}\"."
    }
  }
}
