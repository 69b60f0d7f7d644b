variable "name" {
  description = "Name of the handler's Lambda function, IAM role and log group."
  type        = string
  default     = "credentials-handler-circleci"
  nullable    = false
}

variable "token_secret_arn" {
  description = "ARN of the Secrets Manager secret holding a CircleCI personal API token of a user allowed to manage the context or project (the plain string, or JSON with a `token` field). The handler may read this secret only; never put the token itself in a variable."
  type        = string
  nullable    = false
}

variable "target" {
  description = "Where the environment variables go: a context (shared by projects) or a project (a user's metadata may override it: target=...)."
  type        = string
  default     = "context"
  nullable    = false

  validation {
    condition     = contains(["context", "project"], var.target)
    error_message = "target must be one of \"context\", \"project\"; got \"${var.target}\"."
  }
}

variable "context_id" {
  description = "Context id (a UUID) of a context target; null when each user's metadata names it (context_id=...)."
  type        = string
  default     = null
}

variable "project_slug" {
  description = "Project slug (<vcs>/<org>/<repo>, e.g. gh/acme/app) of a project target; null when each user's metadata names it (project_slug=...)."
  type        = string
  default     = null
}

variable "names" {
  description = "Names of the two environment variables holding the key id and the secret key (a user's metadata may override them: key_id_name=...;secret_key_name=...)."
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
  description = "CircleCI API v2 base URL (server: https://<host>/api/v2). Change it only for a self-hosted installation (or a test's fake)."
  type        = string
  default     = "https://circleci.com/api/v2"
  nullable    = false

  validation {
    condition     = can(regex("^https://[^/\\s]+", var.api_url)) || can(regex("^http://(127\\.0\\.0\\.1|localhost)(:[0-9]+)?(/|$)", var.api_url))
    error_message = "api_url must be an https:// URL such as \"https://circleci.com/api/v2\" (plain http only to 127.0.0.1 or localhost); got \"${var.api_url}\"."
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
