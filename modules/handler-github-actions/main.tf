module "function" {
  source = "../handler-function"

  name        = var.name
  description = "Hands each new IAM access key to GitHub Actions secrets."
  handler     = "handoff.github_actions.handler"
  # PyNaCl's compiled code runs on one instruction set: one zip per architecture.
  package          = var.function.architecture == "arm64" ? "${path.module}/handler-arm64.zip" : "${path.module}/handler.zip"
  token_secret_arn = var.token_secret_arn
  function         = var.function
  environment = {
    HANDLER_SETTINGS = jsonencode({
      api_url         = var.api_url
      target          = var.target
      repository      = var.repository
      environment     = var.environment
      organization    = var.organization
      visibility      = var.visibility
      key_id_name     = var.names.key_id
      secret_key_name = var.names.secret_key
    })
    TOKEN_SECRET_ARN = var.token_secret_arn
  }
}
