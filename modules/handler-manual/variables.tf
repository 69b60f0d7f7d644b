variable "name" {
  description = "Name of the handler's Lambda function, IAM role, log group and SNS topic."
  type        = string
  default     = "credentials-handler-manual"
  nullable    = false
}

variable "topic_kms_key_arn" {
  description = "Customer-managed KMS key encrypting the SNS topic; null uses the AWS-managed key alias/aws/sns."
  type        = string
  default     = null

  validation {
    condition     = var.topic_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.topic_kms_key_arn))
    error_message = "topic_kms_key_arn must be a KMS key ARN such as arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab (aws_kms_key.<name>.arn), or null; got \"${coalesce(var.topic_kms_key_arn, "null")}\"."
  }
}

variable "function" {
  description = "The handler's Lambda function: runtime, architecture (x86_64 or arm64), timeout in seconds, log retention in days, the role's path and permissions boundary, and tags (http_timeout_seconds and token_secret_kms_key_arn are unused: this handler calls only SNS)."
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
