variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name of the rotator; the handler is named <name>-handler."
  type        = string
  default     = "rotator-manual"
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
