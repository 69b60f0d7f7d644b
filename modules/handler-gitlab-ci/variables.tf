variable "name" {
  description = "Name of the handler's Lambda function, IAM role and log group."
  type        = string
  default     = "credentials-handler-gitlab-ci"
  nullable    = false
}

variable "token_secret_arn" {
  description = "ARN of the Secrets Manager secret holding a GitLab access token with the api scope and at least the Maintainer role on the project, or Owner on the group (the plain string, or JSON with a `token` field). The handler may read this secret only; never put the token itself in a variable."
  type        = string
  nullable    = false
}

variable "target" {
  description = "Whose CI/CD variables: a project's or a group's (a user's metadata may override it: target=...)."
  type        = string
  default     = "project"
  nullable    = false

  validation {
    condition     = contains(["project", "group"], var.target)
    error_message = "target must be one of \"project\", \"group\"; got \"${var.target}\"."
  }
}

variable "project" {
  description = "Project (numeric id or full path, group/project) of a project target; null when each user's metadata names it (project=...)."
  type        = string
  default     = null
}

variable "group" {
  description = "Group (numeric id or full path) of a group target; null when each user's metadata names it (group=...)."
  type        = string
  default     = null
}

variable "environment_scope" {
  description = "Environment scope of the variables (\"*\": every environment)."
  type        = string
  default     = "*"
  nullable    = false
}

variable "masked" {
  description = "Mask the values in job logs, for a variable this handler creates. An existing variable keeps its own setting (and every other attribute)."
  type        = bool
  default     = true
  nullable    = false
}

variable "protected" {
  description = "Expose the values only to pipelines on protected branches and tags, for a variable this handler creates. An existing variable keeps its own setting (and every other attribute)."
  type        = bool
  default     = false
  nullable    = false
}

variable "names" {
  description = "Names of the two CI/CD variables holding the key id and the secret key (a user's metadata may override them: key_id_name=...;secret_key_name=...)."
  type = object({
    key_id     = optional(string, "AWS_ACCESS_KEY_ID")
    secret_key = optional(string, "AWS_SECRET_ACCESS_KEY")
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for n in [var.names.key_id, var.names.secret_key] : can(regex("^[A-Za-z_][A-Za-z0-9_]*$", n))]) && var.names.key_id != var.names.secret_key
    error_message = "names.key_id and names.secret_key must be two different names of letters, digits and underscores, not starting with a digit, such as AWS_ACCESS_KEY_ID; got \"${var.names.key_id}\" and \"${var.names.secret_key}\"."
  }
}

variable "api_url" {
  description = "GitLab REST API base URL (self-managed: https://<host>/api/v4). Change it only for a self-hosted installation (or a test's fake)."
  type        = string
  default     = "https://gitlab.com/api/v4"
  nullable    = false

  validation {
    condition     = can(regex("^https://[^/\\s]+", var.api_url)) || can(regex("^http://(127\\.0\\.0\\.1|localhost)(:[0-9]+)?(/|$)", var.api_url))
    error_message = "api_url must be an https:// URL such as \"https://gitlab.com/api/v4\" (plain http only to 127.0.0.1 or localhost); got \"${var.api_url}\"."
  }
}

variable "function" {
  description = "The handler's Lambda function: runtime, architecture (x86_64 or arm64), timeout in seconds, the longest one HTTP call may take (seconds, at most half the timeout, so a slow third party gets a clean refusal), log retention in days, the customer-managed KMS key of the token secret (if any), the role's path and permissions boundary, and tags."
  type = object({
    runtime                   = optional(string, "python3.13")
    architecture              = optional(string, "x86_64")
    timeout                   = optional(number, 30)
    http_timeout_seconds      = optional(number, 10)
    log_retention_in_days     = optional(number, 365)
    token_secret_kms_key_arn  = optional(string)
    role_path                 = optional(string, "/")
    role_permissions_boundary = optional(string)
    tags                      = optional(map(string), {})
  })
  default  = {}
  nullable = false
}
