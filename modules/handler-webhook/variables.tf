variable "name" {
  description = "Name of the handler's Lambda function, IAM role and log group."
  type        = string
  default     = "credentials-handler-webhook"
  nullable    = false
}

variable "token_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the bearer token, or the HMAC-SHA256 signing key, of the endpoint (the plain string, or JSON with a `token` field). The handler may read this secret only; never put the token itself in a variable."
  type        = string
  nullable    = false
}

variable "url" {
  description = "HTTPS URL the handler POSTs each new key to, as JSON (plain http is accepted only to 127.0.0.1 or localhost)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^https://[^/\\s]+", var.url)) || can(regex("^http://(127\\.0\\.0\\.1|localhost)(:[0-9]+)?(/|$)", var.url))
    error_message = "url must be an https:// URL such as \"https://example.com/credentials\" (plain http only to 127.0.0.1 or localhost); got \"${var.url}\"."
  }
}

variable "auth" {
  description = "How the endpoint authenticates the handler: \"bearer\" (header Authorization: Bearer <token>) or \"hmac-sha256\" (header <signature_header>: sha256=<hex HMAC-SHA256 of the body, keyed with the token>)."
  type        = string
  default     = "bearer"
  nullable    = false

  validation {
    condition     = contains(["bearer", "hmac-sha256"], var.auth)
    error_message = "auth must be \"bearer\" or \"hmac-sha256\"; got \"${var.auth}\"."
  }
}

variable "signature_header" {
  description = "Header carrying the body's signature when auth is \"hmac-sha256\"."
  type        = string
  default     = "X-Signature-256"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9-]+$", var.signature_header))
    error_message = "signature_header must be an HTTP header name (letters, digits and hyphens), such as X-Signature-256; got \"${var.signature_header}\"."
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
