"""Lambda functions of the IAM credentials rotator: one module per workflow state."""
