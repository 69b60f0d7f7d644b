output "role_arn" {
  description = "ARN of the member role the rotator assumes in this account."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the member role (the rotator's `member_role_name` output)."
  value       = aws_iam_role.this.name
}

output "trusted_role_arns" {
  description = "The rotator's function roles that may assume the member role (they must exist before this module is applied: real IAM refuses a trust policy naming a role that does not exist)."
  value       = local.rotator_role_arns
}
