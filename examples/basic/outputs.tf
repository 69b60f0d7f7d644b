output "state_machine_arn" {
  description = "ARN of the rotation state machine."
  value       = module.rotator.state_machine_arn
}

output "users_parameter_path" {
  description = "SSM parameter path under which the users list is stored."
  value       = module.rotator.users_parameter_path
}

output "secret_name_prefix" {
  description = "Prefix of every secret the rotator creates."
  value       = module.rotator.secret_name_prefix
}

output "usernames" {
  description = "The demo users whose keys are rotated."
  value       = [for u in aws_iam_user.demo : u.name]
}
