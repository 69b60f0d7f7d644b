"""Ready-made credentials handlers for the IAM credentials rotator: one module per third party,
sharing `core`. Each Terraform module under modules/handler-* ships the modules it needs."""
