provider "aws" {
  region = var.region
}

module "handler" {
  source = "../../modules/handler-gitlab-ci"

  name             = "${var.name}-handler"
  project          = var.project
  protected        = true
  token_secret_arn = var.token_secret_arn
  function         = { runtime = var.lambda_runtime }
}

module "rotator" {
  source = "../../"

  name                          = var.name
  users                         = [for u in var.usernames : { username = u }]
  credentials_handler_arn       = module.handler.function_arn
  credentials_handler_role_name = module.handler.role_name # the rotator lets the handler read its secrets
  lambda_runtime                = var.lambda_runtime
}
