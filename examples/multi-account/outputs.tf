output "state_machine_arn" {
  description = "ARN of the rotation state machine."
  value       = module.rotator.state_machine_arn
}

output "member_account_id" {
  description = "The member account whose demo user the rotator rotates."
  value       = data.aws_caller_identity.member.account_id
}

output "member_role_arn" {
  description = "The role the rotator assumes in the member account."
  value       = module.rotator_member.role_arn
}
