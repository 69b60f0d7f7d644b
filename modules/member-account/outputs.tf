output "role_arns" {
  description = "ARN of each member role the rotator assumes in this account, by the rotator function that assumes it: rotate, rollback, cleanup, check."
  value       = { for function, role in aws_iam_role.this : function => role.arn }
}

output "role_names" {
  description = "Name of each member role (`<name>-member-<function>`), by function as in role_arns (the rotator's `member_role_names` output)."
  value       = { for function, role in aws_iam_role.this : function => role.name }
}

output "trusted_role_arns" {
  description = "The rotator's function role that may assume each member role, by function as in role_arns. Each role trusts the rotator's account on the condition that aws:PrincipalArn is that role's ARN, so it keeps working when the rotator's role is re-created, and the rotator's roles need not exist when this module is applied."
  value       = local.rotator_role_arns
}
