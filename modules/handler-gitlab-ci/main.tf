module "function" {
  source = "../handler-function"

  name             = var.name
  description      = "Hands each new IAM access key to GitLab CI/CD variables."
  handler          = "handoff.gitlab_ci.handler"
  package          = "${path.module}/handler.zip"
  token_secret_arn = var.token_secret_arn
  function         = var.function
  environment = {
    HANDLER_SETTINGS = jsonencode({
      api_url           = var.api_url
      target            = var.target
      project           = var.project
      group             = var.group
      environment_scope = var.environment_scope
      masked            = var.masked
      protected         = var.protected
      key_id_name       = var.names.key_id
      secret_key_name   = var.names.secret_key
    })
    TOKEN_SECRET_ARN = var.token_secret_arn
  }
}
