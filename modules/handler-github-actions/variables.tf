variable "name" {
  description = "Name of the handler's Lambda function, IAM role and log group."
  type        = string
  default     = "credentials-handler-github-actions"
  nullable    = false
}

variable "token_secret_arn" {
  description = "ARN of the Secrets Manager secret holding a GitHub token allowed to write the target's Actions secrets (fine-grained: repository \"Secrets\" or \"Environments\" write, or organization \"Secrets\" write) (the plain string, or JSON with a `token` field). The handler may read this secret only; never put the token itself in a variable."
  type        = string
  nullable    = false
}

variable "target" {
  description = "Where the secrets go: a repository's Actions secrets, a repository environment's secrets, or an organization's Actions secrets (a user's metadata may override it: target=...)."
  type        = string
  default     = "repository"
  nullable    = false

  validation {
    condition     = contains(["repository", "environment", "organization"], var.target)
    error_message = "target must be one of \"repository\", \"environment\", \"organization\"; got \"${var.target}\"."
  }
}

variable "repository" {
  description = "Repository (owner/name) of a repository or environment target; null when each user's metadata names it (repository=owner/name)."
  type        = string
  default     = null
}

variable "environment" {
  description = "Environment of an environment target; null when each user's metadata names it (environment=name)."
  type        = string
  default     = null
}

variable "organization" {
  description = "Organization of an organization target; null when each user's metadata names it (organization=login)."
  type        = string
  default     = null
}

variable "visibility" {
  description = "Which repositories of the organization may use an organization secret this handler creates: \"private\" (private and internal ones) or \"all\". An existing secret keeps the visibility (and selected repositories) an admin set."
  type        = string
  default     = "private"
  nullable    = false

  validation {
    condition     = contains(["private", "all"], var.visibility)
    error_message = "visibility must be \"private\" or \"all\"; got \"${var.visibility}\"."
  }
}

variable "names" {
  description = "Names of the two Actions secrets holding the key id and the secret key (a user's metadata may override them: key_id_name=...;secret_key_name=...)."
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
  description = "GitHub REST API base URL (GitHub Enterprise Server: https://<host>/api/v3). Change it only for a self-hosted installation (or a test's fake)."
  type        = string
  default     = "https://api.github.com"
  nullable    = false

  validation {
    condition     = can(regex("^https://[^/\\s]+", var.api_url)) || can(regex("^http://(127\\.0\\.0\\.1|localhost)(:[0-9]+)?(/|$)", var.api_url))
    error_message = "api_url must be an https:// URL such as \"https://api.github.com\" (plain http only to 127.0.0.1 or localhost); got \"${var.api_url}\"."
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

  validation {
    condition     = contains(["python3.8", "python3.9", "python3.10", "python3.11", "python3.12", "python3.13"], var.function.runtime)
    error_message = "function.runtime must be python3.8 to python3.13, the runtimes whose compiled cffi backend (needed by PyNaCl) the handler's zip ships; got \"${var.function.runtime}\"."
  }
}
