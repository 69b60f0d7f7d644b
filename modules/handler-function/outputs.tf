output "function_arn" {
  description = "ARN of the handler's Lambda function."
  value       = aws_lambda_function.this.arn
}

output "function_name" {
  description = "Name of the handler's Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "role_name" {
  description = "Name of the handler's IAM role."
  value       = aws_iam_role.this.name
}

output "role_arn" {
  description = "ARN of the handler's IAM role."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "Name of the handler's CloudWatch Logs log group."
  value       = aws_cloudwatch_log_group.this.name
}
