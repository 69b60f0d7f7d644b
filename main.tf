data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.id

  duration_seconds = { s = 1, m = 60, h = 3600, d = 86400 }
  schedule_seconds = tonumber(substr(var.schedule_duration, 0, length(var.schedule_duration) - 1)) * local.duration_seconds[substr(var.schedule_duration, -1, 1)]
  verify_seconds   = tonumber(substr(var.key_verification_timeout, 0, length(var.key_verification_timeout) - 1)) * local.duration_seconds[substr(var.key_verification_timeout, -1, 1)]
  cleanup_seconds  = tonumber(substr(var.cleanup_wait_duration, 0, length(var.cleanup_wait_duration) - 1)) * local.duration_seconds[substr(var.cleanup_wait_duration, -1, 1)]

  # The stored list: metadata only where set, so a user without metadata costs no "null".
  users_json  = jsonencode([for u in var.users : merge({ username = u.username }, u.metadata == null ? {} : { metadata = u.metadata })])
  users_b64   = base64encode(local.users_json)
  users_bytes = length(local.users_b64) / 4 * 3 - length(regexall("=", local.users_b64))

  secret_name_prefix = "${var.name}/"

  # Exactly the listed users, with or without an IAM path: IAM accepts no pattern that covers
  # both user/<name> and user/<path>/<name>, so each user takes two ARNs.
  user_arns = [for u in var.users : [
    "arn:${local.partition}:iam::${local.account_id}:user/${u.username}",
    "arn:${local.partition}:iam::${local.account_id}:user/*/${u.username}",
  ]]
  secrets_arn = "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${local.secret_name_prefix}*"
  # Built rather than read from the resources, so that plans show the policies in full.
  users_parameter_arn = "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter/${var.name}/users"
  log_group_arn       = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group"
  executions_arn      = "arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${var.name}:*"
}

resource "aws_ssm_parameter" "users" {
  # checkov:skip=CKV2_AWS_34: holds only usernames and metadata documented as not secret; String keeps the list readable in plans
  name        = "/${var.name}/users" # keep in step with local.users_parameter_arn
  description = "Users whose access keys ${var.name} rotates (managed by Terraform)."
  type        = "String"
  tier        = "Standard"
  value       = local.users_json
  tags        = var.tags

  lifecycle {
    precondition {
      condition     = local.users_bytes <= 4096
      error_message = "users: the list encodes to ${local.users_bytes} bytes, over the 4096 bytes a Standard SSM parameter holds. Shorten or drop metadata, or split the users across two module instances with different names."
    }
  }
}
