output "function_arn" {
  description = "ARN of the handler's Lambda function: the rotator's credentials_handler_arn."
  value       = module.function.function_arn
}

output "role_name" {
  description = "Name of the handler's IAM role. This handler never reads the rotator's secrets: leave the rotator's credentials_handler_role_name unset, and grant the people who hand keys over the rotator's credentials_handler_policy_json instead."
  value       = module.function.role_name
}

output "function_name" {
  description = "Name of the handler's Lambda function."
  value       = module.function.function_name
}

output "topic_arn" {
  description = "ARN of the SNS topic announcing each hand-off: subscribe the people (or the ticketing system) who hand keys over."
  value       = aws_sns_topic.this.arn
}
