output "state_machine_arn" {
  description = "Start an execution of it to rotate now (input {} for every user, or {\"username\": \"...\"})."
  value       = module.rotator.state_machine_arn
}

output "handler_function_arn" {
  description = "ARN of the handler's Lambda function."
  value       = module.handler.function_arn
}
