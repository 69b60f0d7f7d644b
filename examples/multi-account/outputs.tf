output "state_machine_arn" {
  description = "ARN of the rotation state machine."
  value       = module.rotator.state_machine_arn
}

output "member_account_id" {
  description = "The member account whose demo user the rotator rotates."
  value       = data.aws_caller_identity.member.account_id
}

output "member_role_arns" {
  description = "The roles the rotator assumes in the member account, by the rotator function that assumes each."
  value       = module.rotator_member.role_arns
}
