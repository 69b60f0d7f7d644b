variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name of the rotator; the handler is named <name>-handler."
  type        = string
  default     = "rotator-hcp-terraform"
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
  description = "ARN of the Secrets Manager secret holding an HCP Terraform team or user API token allowed to manage the workspace's variables (create it, and put the token in it, outside Terraform so the token stays out of the state)."
  type        = string
}

variable "workspace_id" {
  description = "Id (ws-...) of the workspace whose sensitive environment variables receive the key."
  type        = string
  default     = "ws-0000000000000000"
}
