variable "rotator_account_id" {
  description = "The 12-digit id of the AWS account where the rotator (the root module) is deployed. Only its functions' roles may assume the member roles, each its own."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[0-9]{12}$", var.rotator_account_id))
    error_message = "rotator_account_id must be an AWS account id, 12 digits such as \"111111111111\"; got \"${var.rotator_account_id}\"."
  }
}

variable "name" {
  description = "The rotator's `name` input, exactly: the member roles are named `<name>-member-<function>` (rotate, rollback, cleanup, check), and each trusts the rotator's role of that function, which the rotator names from it."
  type        = string
  default     = "iam-credentials-rotator"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$", var.name))
    error_message = "name must be the rotator's name: 1 to 40 letters, digits, '-' or '_', starting with a letter or digit; got \"${var.name}\"."
  }
}

variable "role_path" {
  description = "The rotator's `role_path` input, exactly: its functions' roles, which the member roles trust, are under it, and so are the member roles."
  type        = string
  default     = "/"
  nullable    = false

  validation {
    condition     = can(regex("^/([!-~]{0,510}/)?$", var.role_path))
    error_message = "role_path must be an IAM path: \"/\", or up to 512 printable ASCII characters without spaces that begin and end with \"/\", such as \"/service-roles/\"; got \"${var.role_path}\"."
  }
}

variable "usernames" {
  description = "The IAM users of this account whose keys the rotator may rotate, spelled exactly as in IAM (as listed in the rotator's `users` with this account's id). Empty when `user_tag_key` is set."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for u in var.usernames : can(regex("^[\\w+=,.@-]{1,64}$", u))])
    error_message = "usernames: every username must be a valid IAM user name, 1 to 64 characters from letters, digits and _+=,.@- ; these are not: ${join(", ", [for u in var.usernames : jsonencode(u) if !can(regex("^[\\w+=,.@-]{1,64}$", u))])}."
  }
}

variable "user_tag_key" {
  description = "Null: the member roles name each of `usernames` by ARN. Set (as the rotator's `user_tag_key`): it covers exactly the users of this account tagged `<user_tag_key> = <name>`, at any number of users; `usernames` must then be empty."
  type        = string
  default     = null

  validation {
    condition     = var.user_tag_key == null || (can(regex("^[A-Za-z0-9 _.:/=+@-]{1,128}$", var.user_tag_key)) && !startswith(lower(coalesce(var.user_tag_key, "-")), "aws:"))
    error_message = "user_tag_key must be an IAM tag key: 1 to 128 letters, digits, spaces or _.:/=+-@, not starting with \"aws:\"; got \"${coalesce(var.user_tag_key, "null")}\"."
  }

  validation {
    condition     = (var.user_tag_key == null) != (length(var.usernames) == 0)
    error_message = "Set exactly one of usernames (the users by name) and user_tag_key (the users by tag); got ${length(var.usernames)} usernames and user_tag_key ${var.user_tag_key == null ? "null" : "\"${var.user_tag_key}\""}."
  }
}

variable "permissions_boundary_arn" {
  description = "ARN of a managed policy set as the member roles' permissions boundary. Null: no boundary."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags applied to the member roles."
  type        = map(string)
  default     = {}
  nullable    = false
}
