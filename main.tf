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

  # The users list is stored in Standard SSM parameters of at most 4096 bytes each, one JSON array
  # per parameter. A user goes into the chunk where its item ends (prefix sums of the items' bytes),
  # so a chunk holds less than the budget plus one item: below 4096 with the brackets.
  # Metadata only where set, so a user without it costs no "null".
  user_items       = [for u in var.users : jsonencode(merge({ username = u.username }, u.metadata == null ? {} : { metadata = u.metadata }))]
  user_items_b64   = [for item in local.user_items : base64encode(item)]
  user_item_bytes  = [for b64 in local.user_items_b64 : length(b64) / 4 * 3 - length(regexall("=", b64)) + 1] # with its comma
  users_chunk_size = 4094 - max(concat([0], local.user_item_bytes)...)
  user_list_chunk = [
    for i in range(length(var.users)) :
    floor(sum(concat([0], slice(local.user_item_bytes, 0, i + 1))) / local.users_chunk_size)
  ]
  users_chunks = {
    for chunk in distinct(local.user_list_chunk) : format("%03d", chunk) => {
      json  = "[${join(",", [for i, item in local.user_items : item if local.user_list_chunk[i] == chunk])}]"
      bytes = 1 + sum([for i, bytes in local.user_item_bytes : bytes if local.user_list_chunk[i] == chunk])
    }
  }
  users_parameter_path = "/${var.name}/users"

  # Each child execution hands off a batch of users: about 100, a multiple of max_concurrency so
  # that no batch ends with a part-full wave.
  batch_size  = var.max_concurrency * ceil(100 / var.max_concurrency)
  batch_count = ceil(length(var.users) / local.batch_size)
  # A run hands off max_concurrency users at a time, each in about this long (the new key's
  # verification waits for IAM to propagate it, then the handler runs), then waits once.
  handoff_seconds = 10
  run_seconds     = ceil(length(var.users) / var.max_concurrency) * local.handoff_seconds + local.cleanup_seconds
  # Bounds past which an execution is stuck (and times out, which the failure alarm reports): every
  # wave of a batch at its slowest (RotateKey's attempts at its timeout, the handler at Lambda's
  # 15 minutes, RollBack's retries), then the wait and each batch's clean-up at its slowest.
  wave_timeout_seconds  = 3 * local.rotate_timeout + 900 + 600
  batch_timeout_seconds = ceil(local.batch_size / var.max_concurrency) * local.wave_timeout_seconds
  run_timeout_seconds   = local.batch_count * (local.batch_timeout_seconds + 6 * 600) + local.cleanup_seconds + 600
  rotate_timeout        = 120 + local.verify_seconds

  secret_name_prefix = "${var.name}/"

  # Exactly the listed users, with or without an IAM path: IAM accepts no pattern that covers
  # both user/<name> and user/<path>/<name>, so each user takes two ARNs. Unused with user_tag_key.
  user_arns = var.user_tag_key != null ? [] : [for u in var.users : [
    "arn:${local.partition}:iam::${local.account_id}:user/${u.username}",
    "arn:${local.partition}:iam::${local.account_id}:user/*/${u.username}",
  ]]
  secrets_arn = "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${local.secret_name_prefix}*"
  # Built rather than read from the resources, so that plans show the policies in full.
  users_parameter_arn = "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter${local.users_parameter_path}"
  log_group_arn       = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group"
  executions_arn      = "arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${var.name}:*"
  batch_machine_name  = "${var.name}-batch"
  batch_machine_arn   = "arn:${local.partition}:states:${local.region}:${local.account_id}:stateMachine:${local.batch_machine_name}"
  batch_runs_arn      = "arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${local.batch_machine_name}:*"
}

resource "aws_ssm_parameter" "users" {
  # checkov:skip=CKV2_AWS_34: holds only usernames and metadata documented as not secret; String keeps the list readable in plans
  for_each = local.users_chunks

  name        = "${local.users_parameter_path}/${each.key}" # keep under local.users_parameter_arn
  description = "Users whose access keys ${var.name} rotates, part ${each.key} (managed by Terraform)."
  type        = "String"
  tier        = "Standard"
  value       = each.value.json
  tags        = var.tags

  lifecycle {
    precondition {
      condition     = each.value.bytes <= 4096
      error_message = "users: part ${each.key} of the list encodes to ${each.value.bytes} bytes, over the 4096 bytes a Standard SSM parameter holds."
    }
  }
}
