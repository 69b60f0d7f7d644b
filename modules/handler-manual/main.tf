resource "aws_sns_topic" "this" {
  name              = var.name
  kms_master_key_id = coalesce(var.topic_kms_key_arn, "alias/aws/sns")
  tags              = var.function.tags
}

locals {
  # Publishing to a topic encrypted with a customer-managed key needs that key; alias/aws/sns's
  # key policy already lets SNS use it for the account's principals.
  topic_key = var.topic_kms_key_arn == null ? [] : [{
    sid       = "EncryptMessages"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.topic_kms_key_arn]
  }]
}

module "function" {
  source = "../handler-function"

  name        = var.name
  description = "Announces each new IAM access key on an SNS topic (never the key), for hand-offs done by a person."
  handler     = "handoff.manual.handler"
  package     = "${path.module}/handler.zip"
  function    = var.function
  environment = { TOPIC_ARN = aws_sns_topic.this.arn }
  statements  = concat([{ sid = "Announce", actions = ["sns:Publish"], resources = [aws_sns_topic.this.arn] }], local.topic_key)
}
