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
  # A person needs time: the hand-off is done when they confirm it with the message's command
  # (a refusal, or no answer within two days, deletes the new key and keeps the old one).
  handoff_mode      = "acknowledged"
  handoff_timeout   = "2d"
  schedule_duration = "30d"
  lambda_runtime    = var.lambda_runtime
}
