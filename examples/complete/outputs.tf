output "state_machine_arn" {
  description = "ARN of the rotation state machine."
  value       = module.rotator.state_machine_arn
}

output "secret_name_prefix" {
  description = "Prefix of every secret the rotator creates."
  value       = module.rotator.secret_name_prefix
}

output "alarm_names" {
  description = "The rotator's CloudWatch alarms, notifying the alerts topic."
  value       = values(module.rotator.alarm_names)
}

output "alerts_topic_arn" {
  description = "SNS topic the alarms notify: subscribe your on-call to it."
  value       = aws_sns_topic.alerts.arn
}

output "kms_key_arn" {
  description = "KMS key that encrypts the secrets."
  value       = aws_kms_key.secrets.arn
}

output "usernames" {
  description = "The demo users whose keys are rotated."
  value       = [for u in aws_iam_user.demo : u.name]
}
