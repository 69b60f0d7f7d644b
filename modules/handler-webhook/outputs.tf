output "function_arn" {
  description = "ARN of the handler's Lambda function: the rotator's credentials_handler_arn."
  value       = module.function.function_arn
}

output "role_name" {
  description = "Name of the handler's IAM role: the rotator's credentials_handler_role_name (the rotator grants it read access to its secrets)."
  value       = module.function.role_name
}

output "function_name" {
  description = "Name of the handler's Lambda function."
  value       = module.function.function_name
}
