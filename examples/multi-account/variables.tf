variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Prefix of the names of every resource of this example (the rotator's name, also given to the member module)."
  type        = string
  default     = "rotator-multi"
}

variable "username" {
  description = "Name of the demo user created in each account (the same name: the rotator tells them apart by account)."
  type        = string
  default     = "ci-deployer"
}

variable "member_admin_role_arn" {
  description = "A role Terraform may assume in the member account to create the demo user and the member role there, such as arn:aws:iam::222222222222:role/OrganizationAccountAccessRole."
  type        = string
}

variable "lambda_runtime" {
  description = "Python runtime of the Lambda functions."
  type        = string
  default     = "python3.13"
}

variable "third_party_url" {
  description = "Where the handler POSTs each new key (your third party's API). Empty: the handler only logs the key id."
  type        = string
  default     = ""
}
