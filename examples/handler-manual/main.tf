provider "aws" {
  region = var.region
}

module "handler" {
  source = "../../modules/handler-manual"

  name     = "${var.name}-handler"
  function = { runtime = var.lambda_runtime }
}

module "rotator" {
  source = "../../"

  name                    = var.name
  users                   = [for u in var.usernames : { username = u }]
  credentials_handler_arn = module.handler.function_arn
  # A person needs time: until the workflow's acknowledged mode, the old key is removed when
  # cleanup_wait_duration has passed, whether or not the third party has the new one.
  schedule_duration     = "30d"
  cleanup_wait_duration = "2d"
  lambda_runtime        = var.lambda_runtime
}
