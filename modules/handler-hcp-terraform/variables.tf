variable "name" {
  description = "Name of the handler's Lambda function, IAM role and log group."
  type        = string
  default     = "credentials-handler-hcp-terraform"
  nullable    = false
}

variable "token_secret_arn" {
  description = "ARN of the Secrets Manager secret holding an HCP Terraform / Terraform Enterprise API token (team or user) allowed to manage the workspace's or variable set's variables (the plain string, or JSON with a `token` field). The handler may read this secret only; never put the token itself in a variable."
  type        = string
  nullable    = false
}

variable "target" {
  description = "Where the sensitive environment variables go: a workspace or a variable set (a user's metadata may override it: target=...)."
  type        = string
  default     = "workspace"
  nullable    = false

  validation {
    condition     = contains(["workspace", "varset"], var.target)
    error_message = "target must be one of \"workspace\", \"varset\"; got \"${var.target}\"."
  }
}

variable "workspace_id" {
  description = "Workspace id (ws-...) of a workspace target; null when each user's metadata names it (workspace_id=...)."
  type        = string
  default     = null
}

variable "varset_id" {
  description = "Variable set id (varset-...) of a varset target; null when each user's metadata names it (varset_id=...)."
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

variable "address" {
  description = "HCP Terraform or Terraform Enterprise address. Change it only for a self-hosted installation (or a test's fake)."
  type        = string
  default     = "https://app.terraform.io"
  nullable    = false

  validation {
    condition     = can(regex("^https://[^/\\s]+", var.address)) || can(regex("^http://(127\\.0\\.0\\.1|localhost)(:[0-9]+)?(/|$)", var.address))
    error_message = "address must be an https:// URL such as \"https://app.terraform.io\" (plain http only to 127.0.0.1 or localhost); got \"${var.address}\"."
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
