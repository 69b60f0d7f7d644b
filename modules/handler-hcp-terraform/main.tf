module "function" {
  source = "../handler-function"

  name             = var.name
  description      = "Hands each new IAM access key to HCP Terraform variables."
  handler          = "handoff.hcp_terraform.handler"
  package          = "${path.module}/handler.zip"
  token_secret_arn = var.token_secret_arn
  function         = var.function
  environment = {
    HANDLER_SETTINGS = jsonencode({
      address         = var.address
      target          = var.target
      workspace_id    = var.workspace_id
      varset_id       = var.varset_id
      key_id_name     = var.names.key_id
      secret_key_name = var.names.secret_key
    })
    TOKEN_SECRET_ARN = var.token_secret_arn
  }
}
