variable "name" {
  description = "Prefix of every resource name the module creates (functions, roles, state machine, parameter, secrets)."
  type        = string
  default     = "iam-credentials-rotator"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$", var.name))
    error_message = "name must be 1 to 40 letters, digits, '-' or '_', starting with a letter or digit (it prefixes Lambda function and IAM role names, which are limited to 64 characters); got \"${var.name}\"."
  }
}

variable "users" {
  description = "The existing IAM users whose access keys are rotated, spelled exactly as in IAM (the module's policies name their ARNs, which IAM matches case-sensitively). `metadata` is an optional free string (at most 256 characters) passed as-is to the credentials handler; it is stored in SSM Parameter Store, so keep it not secret. `account_id` is the 12-digit AWS account the user is in; null (the default) or the rotator's own account: this account. A user in another account is reached through the roles that modules/member-account creates there (see the README). `path` is the user's IAM path, \"/\" (the default) or one that begins and ends with \"/\" such as \"/team/\": the user's ARN is named exactly, and a user found at another path is refused; \"*\" accepts any path (two ARNs per user, as before 3.0). At most 1000 users; by ARN (no `user_tag_key`), about 300 users with 49-character names fit at path \"/\" (half as many with path \"*\"): beyond that, set `user_tag_key`."
  type = list(object({
    username   = string
    metadata   = optional(string)
    account_id = optional(string)
    path       = optional(string, "/")
  }))
  nullable = false

  validation {
    condition     = alltrue([for u in var.users : can(regex("^[\\w+=,.@-]{1,64}$", u.username))])
    error_message = "users: every username must be a valid IAM user name, 1 to 64 characters from letters, digits and _+=,.@- ; these are not: ${join(", ", [for u in var.users : jsonencode(u.username) if !can(regex("^[\\w+=,.@-]{1,64}$", u.username))])}."
  }

  validation {
    # As IAM's CreateUser: 1 to 512 characters, "/" or beginning and ending with "/", printable ASCII.
    condition     = alltrue([for u in var.users : u.path != null && can(regex("^(\\*|/|/[!-~]{0,510}/)$", u.path))])
    error_message = "users: path must be an IAM path, \"/\" or up to 512 printable ASCII characters without spaces that begin and end with \"/\" (such as \"/team/\"), or \"*\" for any path; these are not: ${join(", ", [for u in var.users : "${u.username} (${jsonencode(u.path)})" if u.path == null || !can(regex("^(\\*|/|/[!-~]{0,510}/)$", coalesce(u.path, "-")))])}."
  }

  validation {
    condition     = length(var.users) <= 1000
    error_message = "users: at most 1000 users per module instance (the size the module is tested at); got ${length(var.users)}. Split them across module instances with different names."
  }

  validation {
    condition     = alltrue([for u in var.users : u.metadata == null || try(length(u.metadata) <= 256, false)])
    error_message = "users: metadata is at most 256 characters; too long for: ${join(", ", [for u in var.users : u.username if u.metadata != null && try(length(u.metadata) > 256, true)])}."
  }

  validation {
    condition     = alltrue([for u in var.users : u.account_id == null || can(regex("^[0-9]{12}$", u.account_id))])
    error_message = "users: account_id must be an AWS account id, 12 digits such as \"222222222222\" (or null for the rotator's own account); these are not: ${join(", ", [for u in var.users : "${u.username} (${jsonencode(u.account_id)})" if u.account_id != null && !can(regex("^[0-9]{12}$", u.account_id))])}."
  }

  validation {
    condition     = length(distinct([for u in var.users : "${coalesce(u.account_id, "-")}/${lower(u.username)}"])) == length(var.users)
    error_message = "users: each user may be listed once per account (IAM user names are case-insensitive); listed more than once: ${join(", ", distinct([for u in var.users : "${u.username}${u.account_id == null ? "" : " in account ${u.account_id}"}" if length([for v in var.users : v if lower(v.username) == lower(u.username) && v.account_id == u.account_id]) > 1]))}."
  }
}

variable "credentials_handler_arn" {
  description = "ARN of the Lambda function invoked with each new key (event: username, accountId, secretName and, when set, metadata). It reads the secret and hands the key to the third party."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?$", var.credentials_handler_arn))
    error_message = "credentials_handler_arn must be the ARN of a Lambda function, such as arn:aws:lambda:eu-west-1:123456789012:function:my-handler (use aws_lambda_function.<name>.arn, not its name or invoke_arn); got \"${var.credentials_handler_arn}\"."
  }
}

variable "credentials_handler_role_name" {
  description = "Name of the credentials handler's IAM role. When set, the module attaches to it the policy in the `credentials_handler_policy_json` output (read the rotator's secrets). Leave null to grant access yourself."
  type        = string
  default     = null
}

variable "handoff_mode" {
  description = "When a user's hand-off is done. \"return\": when the credentials handler returns. \"acknowledged\": when someone confirms it (SendTaskSuccess with the `taskToken` the handler's event then carries), for third parties that take a key asynchronously: a queue, a pipeline, a person. A refusal (SendTaskFailure), or no answer within handoff_timeout, after the handler returned keeps both keys and fails the user (the handler may have written the key). See the README's \"Acknowledged hand-offs\"."
  type        = string
  default     = "return"
  nullable    = false

  validation {
    condition     = contains(["return", "acknowledged"], var.handoff_mode)
    error_message = "handoff_mode must be \"return\" (the hand-off is done when the handler returns) or \"acknowledged\" (when someone confirms it with the event's taskToken); got \"${var.handoff_mode}\"."
  }
}

variable "handoff_timeout" {
  description = "In acknowledged mode, how long a hand-off waits for its confirmation, from the handler's invocation, before the user is rolled back (its new key and secret deleted; the old key stays): \"20m\", \"4h\", \"2d\" (s, m, h or d). At least 20m, since the handler itself may run 15 minutes within it. Users wait max_concurrency at a time, so a run may last ceil(users / max_concurrency) x handoff_timeout when nobody answers: that must fit in schedule_duration. Ignored in return mode."
  type        = string
  default     = "30m"
  nullable    = false

  validation {
    condition     = can(regex("^[1-9][0-9]*[smhd]$", var.handoff_timeout))
    error_message = "handoff_timeout must be a whole number followed by s, m, h or d, such as \"30m\", \"4h\" or \"2d\"; got \"${var.handoff_timeout}\"."
  }

  validation {
    # The handler runs within it (up to Lambda's 15 minutes): an answer must have time to come after.
    condition     = var.handoff_mode != "acknowledged" || try(tonumber(regex("^([0-9]+)", var.handoff_timeout)[0]) * { s = 1, m = 60, h = 3600, d = 86400 }[substr(var.handoff_timeout, -1, 1)] >= 1200, true)
    error_message = "handoff_timeout must be at least \"20m\" in acknowledged mode: the credentials handler runs within it, for up to 15 minutes; got \"${var.handoff_timeout}\"."
  }
}

variable "schedule_duration" {
  description = "How often every user's key is rotated, written as a number and a unit: \"30m\", \"1h\", \"7d\" (s, m, h or d). Whole minutes, at least 1m."
  type        = string
  default     = "1h"
  nullable    = false

  validation {
    condition     = can(regex("^[1-9][0-9]*[smhd]$", var.schedule_duration))
    error_message = "schedule_duration must be a whole number followed by s, m, h or d, such as \"30m\", \"1h\" or \"7d\"; got \"${var.schedule_duration}\"."
  }
}

variable "enabled" {
  description = "Whether the schedule starts rotations. false pauses them without destroying anything (the EventBridge Scheduler schedule is DISABLED): runs under way finish, on-demand runs still start, the staleness check and alarms keep watching. Set it back to true to resume."
  type        = bool
  default     = true
  nullable    = false
}

variable "cleanup_wait_duration" {
  description = "How long both keys stay valid after the handler has received the new one, before the old key is deleted: \"90s\", \"5m\", \"1h\" (s, m, h or d). Must be shorter than schedule_duration."
  type        = string
  default     = "5m"
  nullable    = false

  validation {
    condition     = can(regex("^[1-9][0-9]*[smhd]$", var.cleanup_wait_duration))
    error_message = "cleanup_wait_duration must be a whole number followed by s, m, h or d, such as \"90s\", \"5m\" or \"1h\"; got \"${var.cleanup_wait_duration}\"."
  }
}

variable "lambda_runtime" {
  description = "Python runtime of the rotator's Lambda functions (the code supports python3.9 and later)."
  type        = string
  default     = "python3.13"
  nullable    = false

  validation {
    condition     = can(regex("^python3\\.[0-9]+$", var.lambda_runtime))
    error_message = "lambda_runtime must be a Python Lambda runtime such as \"python3.13\"; got \"${var.lambda_runtime}\"."
  }
}

variable "keep_logs_on_destroy" {
  description = "Whether `terraform destroy`, and a change of name (which destroys and re-creates), leave the module's log groups in place with their records (which user got which key, when) until their retention ends. Re-creating an instance of the same name then needs the groups imported (README, \"Destroy, rename\"). false: they are deleted with the module."
  type        = bool
  default     = true
  nullable    = false
}

variable "log_retention_in_days" {
  description = "Retention of the log groups of the rotator's Lambda functions and state machine."
  type        = number
  default     = 365
  nullable    = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be one of CloudWatch Logs' values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653; got ${var.log_retention_in_days}."
  }
}

variable "architecture" {
  description = "Instruction set of the rotator's Lambda functions: \"x86_64\" or \"arm64\" (Graviton, about 20% cheaper per GB-second). Their code is pure Python, so either runs the same zip."
  type        = string
  default     = "x86_64"
  nullable    = false

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be \"x86_64\" or \"arm64\" (Lambda's instruction sets); got \"${var.architecture}\"."
  }
}

variable "application_log_level" {
  description = "Least level of the functions' own log records that Lambda keeps (their JSON lines): TRACE, DEBUG, INFO, WARN, ERROR or FATAL. INFO records every rotation step with its key ids (never a secret)."
  type        = string
  default     = "INFO"
  nullable    = false

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.application_log_level)
    error_message = "application_log_level must be one of TRACE, DEBUG, INFO, WARN, ERROR or FATAL (Lambda's application log levels); got \"${var.application_log_level}\"."
  }
}

variable "system_log_level" {
  description = "Least level of the Lambda service's own log records about the functions (start, end, report lines) that Lambda keeps: DEBUG, INFO or WARN."
  type        = string
  default     = "WARN"
  nullable    = false

  validation {
    condition     = contains(["DEBUG", "INFO", "WARN"], var.system_log_level)
    error_message = "system_log_level must be one of DEBUG, INFO or WARN (Lambda's system log levels); got \"${var.system_log_level}\"."
  }
}

variable "log_kms_key_arn" {
  description = "ARN of a customer-managed KMS key that encrypts the module's log groups (its functions' and its state machine's). Its key policy must let CloudWatch Logs use it (the service principal logs.<region>.amazonaws.com, with a kms:EncryptionContext:aws:logs:arn condition), which the module cannot write for a key it does not own; examples/complete shows one. Null: CloudWatch Logs' own encryption at rest."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.log_kms_key_arn))
    error_message = "log_kms_key_arn must be a KMS key ARN, such as arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab (use aws_kms_key.<name>.arn, not an alias or key id); got \"${coalesce(var.log_kms_key_arn, "null")}\"."
  }
}

variable "tags" {
  description = "Tags applied to every taggable resource the module creates."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "old_key_action" {
  description = "What happens to the superseded key after cleanup_wait_duration: \"delete\" it, or \"deactivate\" it and delete it at the start of the next rotation (an undo window of one schedule period)."
  type        = string
  default     = "delete"
  nullable    = false

  validation {
    condition     = contains(["delete", "deactivate"], var.old_key_action)
    error_message = "old_key_action must be \"delete\" or \"deactivate\"; got \"${var.old_key_action}\"."
  }
}

variable "keep_inactive_keys" {
  description = "Whether a user's inactive access key that this rotator did not create (one deactivated for an incident's investigation, say) is kept: the user is then refused (InactiveKeyKeptError) until the key is deleted by hand. By default such a key is deleted to make room for the new key, and the run's result and logs name it."
  type        = bool
  default     = false
  nullable    = false
}

variable "key_verification_timeout" {
  description = "How long the rotator waits for AWS to accept a new key (IAM takes seconds to propagate one) before it gives up, deletes the key and keeps the old one: \"30s\", \"2m\" (s or m), at most 10m."
  type        = string
  default     = "60s"
  nullable    = false

  validation {
    # 1s to 600s, or 1m to 10m.
    condition     = can(regex("^(([1-9]|[1-9][0-9]|[1-5][0-9][0-9]|600)s|([1-9]|10)m)$", var.key_verification_timeout))
    error_message = "key_verification_timeout must be a whole number of seconds or minutes, from \"1s\" to \"10m\", such as \"60s\"; got \"${var.key_verification_timeout}\"."
  }
}

variable "max_concurrency" {
  description = "How many users are rotated at the same time (IAM's API rate limits are per account)."
  type        = number
  default     = 10
  nullable    = false

  validation {
    condition     = var.max_concurrency >= 1 && var.max_concurrency <= 40 && floor(var.max_concurrency) == var.max_concurrency
    error_message = "max_concurrency must be a whole number from 1 to 40; got ${var.max_concurrency}."
  }
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic every alarm notifies (alarm_names output): runs that left users not rotated in 2 of the last 3 runs, a stuck run, a run the schedule could not start, throttled or failed functions, a listed user's key older than twice the schedule plus a day. Null: the alarms exist but notify no one."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_sns_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]+$", var.alarm_sns_topic_arn))
    error_message = "alarm_sns_topic_arn must be an SNS topic ARN, such as arn:aws:sns:eu-west-1:123456789012:alerts (use aws_sns_topic.<name>.arn); got \"${coalesce(var.alarm_sns_topic_arn, "null")}\"."
  }
}

variable "kms_key_arn" {
  description = "ARN of a customer-managed KMS key that encrypts the secrets. The handler policy (output and attachment) then includes kms:Decrypt on it. Null: Secrets Manager's AWS-managed key."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN, such as arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab (use aws_kms_key.<name>.arn, not an alias or key id); got \"${coalesce(var.kms_key_arn, "null")}\"."
  }
}

variable "user_tag_key" {
  description = "Null: the rotator's IAM permissions name each listed user's ARN, which fits about 450 to 1,400 users at a declared path (depending on name length; half as many with path \"*\"). Set: they cover exactly the users tagged `<user_tag_key> = <name>` (an iam:ResourceTag condition), at any number of users; tag every listed user so, or its rotation fails (UserNotTaggedError) and it keeps its old key. Whoever may tag users can then bring one into reach: safe only with the users-list check (issue 24, item 1)."
  type        = string
  default     = null

  validation {
    condition     = var.user_tag_key == null || (can(regex("^[A-Za-z0-9 _.:/=+@-]{1,128}$", var.user_tag_key)) && !startswith(lower(coalesce(var.user_tag_key, "-")), "aws:"))
    error_message = "user_tag_key must be an IAM tag key: 1 to 128 letters, digits, spaces or _.:/=+-@, not starting with \"aws:\"; got \"${coalesce(var.user_tag_key, "null")}\"."
  }
}

variable "role_path" {
  description = "IAM path of every role the module creates (its functions', its state machines' and its schedule's), such as \"/service-roles/\"."
  type        = string
  default     = "/"
  nullable    = false

  validation {
    condition     = can(regex("^/([!-~]{0,510}/)?$", var.role_path))
    error_message = "role_path must be an IAM path: \"/\", or up to 512 printable ASCII characters without spaces that begin and end with \"/\", such as \"/service-roles/\"; got \"${var.role_path}\"."
  }
}

variable "role_permissions_boundary_arn" {
  description = "ARN of a managed policy set as the permissions boundary of every role the module creates. Null: no boundary."
  type        = string
  default     = null

  validation {
    condition     = var.role_permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/[!-~]+$", var.role_permissions_boundary_arn))
    error_message = "role_permissions_boundary_arn must be the ARN of an IAM managed policy, such as arn:aws:iam::123456789012:policy/boundary (use aws_iam_policy.<name>.arn, not its name); got \"${coalesce(var.role_permissions_boundary_arn, "null")}\"."
  }
}

variable "usage_check" {
  description = "Before the clean-up retires a user's old key, it reads when the old and the new key were last used (iam:GetAccessKeyLastUsed, whose dates are whole minutes): the old key is retired only when it is not seen in use since the hand-off. While it is, the clean-up checks again every `interval`, up to `max_wait`; then it fails the user, keeping both keys (the new key was delivered: it is the third party's, whether or not it uses it yet). `margin` widens every comparison, towards \"in use\". `max_wait` null: as long as fits before the next scheduled run, at most 1h; \"0s\" (or a schedule too short for a re-check): the first check decides alone, by the same rules. `enabled = false`: the old key is retired after cleanup_wait_duration, unchecked. Durations as \"90s\", \"5m\", \"1h\"."
  type = object({
    enabled  = optional(bool, true)
    margin   = optional(string, "2m")
    interval = optional(string, "5m")
    max_wait = optional(string)
  })
  default  = {}
  nullable = false

  validation {
    condition     = can(regex("^[0-9]+[smhd]$", var.usage_check.margin)) && can(regex("^[1-9][0-9]*[smhd]$", var.usage_check.interval))
    error_message = "usage_check: margin must be a whole number (0 allowed) and interval a positive whole number, each followed by s, m, h or d, such as { margin = \"2m\", interval = \"5m\" }; got margin \"${coalesce(var.usage_check.margin, "null")}\" and interval \"${coalesce(var.usage_check.interval, "null")}\"."
  }

  validation {
    condition     = var.usage_check.max_wait == null || can(regex("^[0-9]+[smhd]$", var.usage_check.max_wait))
    error_message = "usage_check: max_wait must be a whole number followed by s, m, h or d, such as \"30m\" (\"0s\": check once, never wait), or null to wait as long as fits before the next run; got \"${coalesce(var.usage_check.max_wait, "null")}\"."
  }
}
