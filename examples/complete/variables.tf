variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Prefix of the names of every resource of this example."
  type        = string
  default     = "rotator-complete"
}

variable "lambda_runtime" {
  description = "Python runtime of the Lambda functions."
  type        = string
  default     = "python3.13"
}

variable "third_party_url" {
  description = "Where the handler POSTs each new key: your third party's API (a placeholder here)."
  type        = string
  default     = "https://third-party.example.com/api/credentials"
}
