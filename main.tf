data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.id

  # The duration inputs, parsed once (their validations check the format; the preconditions on the
  # resources they shape check their values).
  duration_units = { s = 1, m = 60, h = 3600, d = 86400 }
  duration_seconds = {
    for input, value in {
      schedule_duration        = var.schedule_duration
      cleanup_wait_duration    = var.cleanup_wait_duration
      key_verification_timeout = var.key_verification_timeout
      handoff_timeout          = var.handoff_timeout
    } : input => try(tonumber(regex("^([1-9][0-9]*)[smhd]$", value)[0]) * local.duration_units[substr(value, -1, 1)], null)
  }
  schedule_seconds = local.duration_seconds.schedule_duration
  cleanup_seconds  = local.duration_seconds.cleanup_wait_duration
  verify_seconds   = local.duration_seconds.key_verification_timeout
  acknowledged     = var.handoff_mode == "acknowledged"

  # One Standard parameter per user, keyed by the username, so adding or removing a user changes one
  # parameter. Parameter names cannot hold IAM's "+=,@", so a parameter is named by a hash of the
  # lowercased name (IAM names are case-insensitive) and holds the username itself. A user's item is
  # at most about 1,700 bytes (64-character name, 256 characters of metadata escaped), far below a
  # Standard parameter's 4,096. Metadata only where set, so a user without it costs no "null".
  #
  # A user of a member account (account_id set, and not this account's) is keyed "<account>/<username>"
  # (IAM names never hold '/'), hashed with its account, and its item names the account: users of
  # this account keep the keys, parameters and items they had before accounts existed.
  listed_users = [
    for u in var.users : {
      username   = u.username
      metadata   = u.metadata
      account_id = u.account_id == local.account_id ? null : u.account_id
      path       = u.path
    }
  ]
  users_by_key = {
    for u in local.listed_users : lower(u.account_id == null ? u.username : "${u.account_id}/${u.username}") => {
      key = u.account_id == null ? u.username : "${u.account_id}/${u.username}"
      id  = substr(sha256(u.account_id == null ? lower(u.username) : "${u.account_id}:${lower(u.username)}"), 0, 32)
      item = jsonencode(merge(
        { username = u.username },
        u.account_id == null ? {} : { accountId = u.account_id },
        u.metadata == null ? {} : { metadata = u.metadata },
        # Only where it is not "/" (the default, which an item without a path means): the items of
        # users at "/" stay as they were.
        u.path == "/" ? {} : { path = u.path },
      ))
      account_id = u.account_id
      path       = u.path
    }...
  }
  # Listed twice only by naming this account's id for a user also listed without it (the variable's
  # validation catches the rest); the state machine's precondition names them.
  duplicate_users      = [for key, group in local.users_by_key : group[0].key if length(group) > 1]
  users                = { for key, group in local.users_by_key : group[0].key => group[0] }
  users_parameter_path = "/${var.name}/users"
  # The list as Terraform writes it, for the functions to check every read against (issue 24): each
  # parameter's id (its name under users_parameter_path) and the SHA-256 of its exact value,
  # "<id>=<sha256>,..." in id order. It lives in the rotation state machine's definition (ListUsers'
  # parameters; LoadUsers and the staleness check read it with states:DescribeStateMachine), which
  # only Terraform's deployer changes (states:UpdateStateMachine), where ssm:PutParameter on the path
  # changes the list itself. Not a Lambda environment variable: at 1,000 users it is about 100 KB,
  # past the variables' 4 KB.
  users_digests = join(",", sort([for key, user in local.users : "${user.id}=${sha256(user.item)}"]))

  # The accounts other than this one whose users are listed, and the roles each has for the rotator:
  # one per function that acts on users' keys, "<name>-member-<function>" (modules/member-account
  # creates them; their names are derived from var.name the same way there).
  member_accounts   = sort(distinct([for u in local.listed_users : u.account_id if u.account_id != null]))
  member_functions  = ["rotate", "rollback", "cleanup", "check"]
  member_role_names = { for function in local.member_functions : function => "${var.name}-member-${function}" }
  member_role_arn   = "arn:${local.partition}:iam::%s:role${var.role_path}${var.name}-member-%s"
  # What each function that reaches member accounts is told: the ARN of its own role there, with
  # "{account}" for the account (nothing, without member accounts).
  member_environment = {
    for function in local.member_functions : function => length(local.member_accounts) == 0 ? {} : { MEMBER_ROLE_ARN = format(local.member_role_arn, "{account}", function) }
  }

  # Each child execution hands off a batch of users: about 100, a multiple of max_concurrency so
  # that no batch ends with a part-full wave.
  batch_size  = var.max_concurrency * ceil(100 / var.max_concurrency)
  batch_count = ceil(length(var.users) / local.batch_size)
  # A run hands off max_concurrency users at a time, each in about this long (the new key's
  # verification waits for IAM to propagate it, then the handler runs; an acknowledged hand-off may
  # wait its whole timeout), then waits once.
  handoff_seconds = local.acknowledged ? local.duration_seconds.handoff_timeout : 10
  run_seconds     = ceil(length(var.users) / var.max_concurrency) * local.handoff_seconds + local.cleanup_seconds
  # Bounds past which an execution is stuck (and times out, which the timed-out alarm reports): every
  # wave of a batch at its slowest (RotateKey's attempts at its timeout, the handler at Lambda's
  # 15 minutes, RollBack's retries), then the wait and each batch's clean-up at its slowest.
  wave_timeout_seconds = 3 * local.rotate_timeout + (local.acknowledged ? local.duration_seconds.handoff_timeout : 900) + 600
  batch_slowest        = ceil(local.batch_size / var.max_concurrency) * local.wave_timeout_seconds
  run_slowest          = local.batch_count * (local.batch_slowest + 6 * 600) + local.cleanup_seconds + 600 + local.usage_timeout_seconds
  # Every step at its slowest at once would take 17.8 hours at 100 users and 137.5 at 1,000 (the
  # defaults): a stuck run would surface days later while later runs skip its locked users. So no
  # execution outlasts the schedule: a run stuck past it times out, and alarms, before the next
  # starts. A run's expected time is checked against the schedule at plan (the state machine's
  # preconditions), so only a run far slower than expected meets this bound.
  batch_timeout_seconds = min(local.batch_slowest, local.schedule_seconds)
  run_timeout_seconds   = min(local.run_slowest, local.schedule_seconds)
  run_timeout_text = (
    local.run_timeout_seconds % 86400 == 0 ? "${local.run_timeout_seconds / 86400} d" :
    local.run_timeout_seconds % 3600 == 0 ? "${local.run_timeout_seconds / 3600} h" :
    local.run_timeout_seconds % 60 == 0 ? "${local.run_timeout_seconds / 60} min" : "${local.run_timeout_seconds} s"
  )
  rotate_timeout = 120 + local.verify_seconds

  # The usage check's bound, as whole rounds: after the first check, one more per interval waited.
  # With max_wait null, as many as fit before the next run (and within an hour).
  usage_seconds = {
    for input, value in var.usage_check : input => try(tonumber(regex("^([0-9]+)[smhd]$", value)[0]) * local.duration_units[substr(value, -1, 1)], null)
    if input != "enabled"
  }
  usage_room     = try(max(0, local.schedule_seconds - local.run_seconds - 60), 0)
  usage_max_wait = !var.usage_check.enabled ? 0 : coalesce(local.usage_seconds.max_wait, min(3600, local.usage_room))
  usage_rounds   = !var.usage_check.enabled ? 0 : floor(local.usage_max_wait / local.usage_seconds.interval)
  # The run's bound gains the waits and, per round, each batch's clean-up at its slowest.
  usage_timeout_seconds = local.usage_rounds * (local.usage_seconds.interval + local.batch_count * 6 * 600)
  # Step Functions keeps at most 25,000 events in an execution's history; past it the run fails, here
  # mid-clean-up. Events per re-check round: the Wait (2), the clean-up Map (4), each batch's iteration
  # (7: its two, and the Lambda task's five), the count and the choice (4). Once per run: start and end,
  # ListUsers, each batch's hand-off (8: a startExecution.sync task has six) and first clean-up (7), the
  # Maps, Waits, Pass and Choice states, Report. A tenth of the limit is left for retries.
  history_events_per_round = 10 + 7 * local.batch_count
  history_events           = 30 + 15 * local.batch_count + local.usage_rounds * local.history_events_per_round
  history_events_limit     = 22500

  secret_name_prefix = "${var.name}/"
  # Worn by a user while this instance rotates it (see the in_flight grant in iam.tf); one key per
  # instance, so that two instances never take each other's tag.
  in_flight_tag_key   = "iam-credentials-rotator/${var.name}"
  in_flight_tag_value = "rotating"
  in_flight_tag       = "${local.in_flight_tag_key}=${local.in_flight_tag_value}"

  # ARNs are built rather than read from the resources, so that plans show every policy in full and
  # trust policies can name what assumes them without a dependency cycle.
  arn_prefix  = "arn:${local.partition}:%s:${local.region}:${local.account_id}"
  secrets_arn = "${format(local.arn_prefix, "secretsmanager")}:secret:${local.secret_name_prefix}*"
  # Member users' secrets are named "<name>@<account>/<username>": no name of this account's users
  # (under "<name>/"), nor of another instance's ('@' is not allowed in var.name), can be one.
  secrets_arns        = concat([local.secrets_arn], length(local.member_accounts) == 0 ? [] : ["${format(local.arn_prefix, "secretsmanager")}:secret:${var.name}@*"])
  users_parameter_arn = "${format(local.arn_prefix, "ssm")}:parameter${local.users_parameter_path}"
  log_group_arn       = "${format(local.arn_prefix, "logs")}:log-group"
  function_arn        = "${format(local.arn_prefix, "lambda")}:function:${var.name}-%s"
  user_arn            = "arn:${local.partition}:iam::${local.account_id}:user/%s"
  executions_arn      = "${format(local.arn_prefix, "states")}:execution:${var.name}:*"
  state_machine_arn   = "${format(local.arn_prefix, "states")}:stateMachine:${var.name}"
  batch_machine_name  = "${var.name}-batch"
  batch_machine_arn   = "${format(local.arn_prefix, "states")}:stateMachine:${local.batch_machine_name}"
  batch_runs_arn      = "${format(local.arn_prefix, "states")}:execution:${local.batch_machine_name}:*"
  schedule_arn        = "${format(local.arn_prefix, "scheduler")}:schedule/default/${var.name}"

  schedule_dead_letters_name = "${var.name}-schedule-dead-letters"
  schedule_dead_letters_arn  = "${format(local.arn_prefix, "sqs")}:${local.schedule_dead_letters_name}"
}

resource "aws_ssm_parameter" "users" {
  # checkov:skip=CKV2_AWS_34: holds only a username and metadata documented as not secret; String keeps it readable in plans
  for_each = local.users

  name        = "${local.users_parameter_path}/${each.value.id}" # keep under local.users_parameter_arn
  description = "A user whose access keys ${var.name} rotates (managed by Terraform)."
  type        = "String"
  tier        = "Standard"
  value       = each.value.item
  tags        = var.tags
}
