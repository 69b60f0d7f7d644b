# The Lambda function, role and log group every ready-made handler (modules/handler-*) is made of.
# Internal: the handler modules call it; their users set `function` there.

variable "name" {
  description = "Name of the function, its IAM role and its log group (/aws/lambda/<name>)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.name))
    error_message = "name must be 1 to 64 letters, digits, hyphens or underscores (a Lambda function name); got \"${var.name}\"."
  }
}

variable "description" {
  description = "What the function does, shown in the Lambda console."
  type        = string
  nullable    = false
}

variable "handler" {
  description = "The function's entry point in its zip, e.g. handoff.webhook.handler."
  type        = string
  nullable    = false
}

variable "package" {
  description = "Path of the committed zip holding the function's code."
  type        = string
  nullable    = false
}

variable "environment" {
  description = "Environment variables the function's code reads (names and settings; never a secret)."
  type        = map(string)
  nullable    = false
}

variable "token_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the third party's API token, which the function may read; null when it needs none."
  type        = string
  default     = null

  validation {
    condition     = var.token_secret_arn == null || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.token_secret_arn))
    error_message = "token_secret_arn must be the ARN of a Secrets Manager secret, such as arn:aws:secretsmanager:eu-west-1:123456789012:secret:ci-token-AbCdEf (use aws_secretsmanager_secret.<name>.arn; never the token itself). Got a value that is not such an ARN."
  }
}

variable "statements" {
  description = "Further permissions of the function's role, beyond its logs and the token secret."
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
  }))
  default  = []
  nullable = false
}

variable "function" {
  description = "Settings of the handler's Lambda function, role and logs. See the handler module's input of the same name."
  type = object({
    runtime                   = string
    architecture              = string
    timeout                   = number
    http_timeout_seconds      = number
    log_retention_in_days     = number
    token_secret_kms_key_arn  = string
    role_path                 = string
    role_permissions_boundary = string
    tags                      = map(string)
  })
  nullable = false

  validation {
    condition     = can(regex("^python3\\.[0-9]+$", var.function.runtime))
    error_message = "function.runtime must be a Python Lambda runtime such as \"python3.13\"; got \"${var.function.runtime}\"."
  }
  validation {
    condition     = contains(["x86_64", "arm64"], var.function.architecture)
    error_message = "function.architecture must be \"x86_64\" or \"arm64\" (Lambda's instruction sets); got \"${var.function.architecture}\"."
  }
  validation {
    condition     = var.function.timeout >= 5 && var.function.timeout <= 900
    error_message = "function.timeout must be between 5 and 900 seconds (a Lambda timeout); got ${var.function.timeout}."
  }
  validation {
    condition     = var.function.http_timeout_seconds >= 1 && var.function.http_timeout_seconds * 2 <= var.function.timeout
    error_message = "function.http_timeout_seconds must be at least 1 and at most half of function.timeout, so that a slow third party makes the handler refuse the key cleanly instead of the function timing out; got ${var.function.http_timeout_seconds} with a timeout of ${var.function.timeout}."
  }
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.function.log_retention_in_days)
    error_message = "function.log_retention_in_days must be one of CloudWatch Logs' retention periods (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653); got ${var.function.log_retention_in_days}."
  }
  validation {
    condition     = can(regex("^/(.*/)?$", var.function.role_path))
    error_message = "function.role_path must start and end with \"/\", such as \"/\" or \"/handlers/\"; got \"${var.function.role_path}\"."
  }
}
