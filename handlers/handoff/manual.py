"""For third parties with no API: publishes to an SNS topic which user has a new key and which
secret holds it, and, in acknowledged mode (the event has a task token), the AWS CLI commands that
confirm or refuse the hand-off. Never the key itself: a person with read access to the secret
fetches it."""

from __future__ import annotations

import os
import shlex
from typing import Any

import boto3

from handoff import core


def message(event: dict) -> tuple[str, str]:
    """(subject, body) for one hand-off."""
    username, secret_name = event["username"], event["secretName"]
    lines = [
        f"IAM user {username} has a new access key for its third party.",
        "",
        "Read it (you need secretsmanager:GetSecretValue on this secret):",
        f"  aws secretsmanager get-secret-value --secret-id {shlex.quote(secret_name)}"
        " --query SecretString --output text",
    ]
    if event.get("metadata"):
        lines += ["", f"Metadata: {event['metadata']}"]
    token = event.get("taskToken")
    if token:
        lines += [
            "",
            "Once the third party uses the new key, confirm:",
            f"  aws stepfunctions send-task-success --task-token {shlex.quote(token)} --task-output '{{}}'",
            "",
            "If it cannot take the key, refuse (the new key is then deleted and the old one kept):",
            f"  aws stepfunctions send-task-failure --task-token {shlex.quote(token)}"
            ' --error HandOffRefused --cause "<why>"',
        ]
    else:
        lines += [
            "",
            "The old key is removed after the rotator's cleanup wait: give the third party the new key before then.",
        ]
    return f"New IAM access key for {username}"[:100], "\n".join(lines)


def handler(event: dict, context: Any) -> dict:
    subject, body = message(event)
    sns = boto3.client("sns")
    published = sns.publish(TopicArn=os.environ["TOPIC_ARN"], Subject=subject, Message=body)
    core.log_event(
        "hand-off announced",
        username=event["username"],
        secret_name=event["secretName"],
        acknowledged=bool(event.get("taskToken")),
        message_id=published["MessageId"],
    )
    return {"messageId": published["MessageId"]}
