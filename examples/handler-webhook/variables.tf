variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name of the rotator; the handler is named <name>-handler."
  type        = string
  default     = "rotator-webhook"
}

variable "lambda_runtime" {
  description = "Python runtime of the rotator's and the handler's Lambda functions."
  type        = string
  default     = "python3.13"
}

variable "usernames" {
  description = "Existing IAM users whose keys are rotated and handed over."
  type        = list(string)
  default     = ["ci-deployer"]
}

variable "token_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the HMAC-SHA256 signing key shared with the endpoint (create it, and put the token in it, outside Terraform so the token stays out of the state)."
  type        = string
}

variable "url" {
  description = "HTTPS endpoint that takes each new key."
  type        = string
  default     = "https://vault.example.com/hooks/aws-keys"
}
