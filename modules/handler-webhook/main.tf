module "function" {
  source = "../handler-function"

  name             = var.name
  description      = "Hands each new IAM access key to an HTTPS endpoint (POST, JSON)."
  handler          = "handoff.webhook.handler"
  package          = "${path.module}/handler.zip"
  token_secret_arn = var.token_secret_arn
  function         = var.function
  environment = {
    HANDLER_SETTINGS = jsonencode({
      url              = var.url
      auth             = var.auth
      signature_header = var.signature_header
    })
    TOKEN_SECRET_ARN = var.token_secret_arn
  }
}
