"""RotateKey state: creates the user's new access key and stores it in Secrets Manager.

Returns key ids and the secret's name only; the secret access key never leaves this function
except into Secrets Manager.
"""

from __future__ import annotations

import json
from typing import Any

from rotator.common import (
    TwoActiveKeysError,
    client,
    log_event,
    logger,
    required_env,
    secret_name,
)

_log = logger(__name__)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    username = event["username"]
    iam = client("iam")
    keys = iam.list_access_keys(UserName=username)["AccessKeyMetadata"]

    active = [k["AccessKeyId"] for k in keys if k["Status"] == "Active"]
    if len(active) > 1:
        raise TwoActiveKeysError(
            f"User {username} has two active access keys ({', '.join(active)}); the rotator "
            "cannot tell which one the third party uses, so it changed nothing. Delete or "
            "deactivate the key that is not in use, then run the rotation again."
        )
    # An inactive key is no one's working key; it only takes the slot the new key needs.
    for key in keys:
        if key["Status"] != "Active":
            iam.delete_access_key(UserName=username, AccessKeyId=key["AccessKeyId"])
            log_event(_log, "inactive key deleted", username=username, access_key_id=key["AccessKeyId"])

    new_key = iam.create_access_key(UserName=username)["AccessKey"]
    new_key_id = new_key["AccessKeyId"]
    log_event(_log, "key created", username=username, access_key_id=new_key_id)

    name = secret_name(required_env("SECRET_NAME_PREFIX"), username, new_key_id)
    try:
        client("secretsmanager").create_secret(
            Name=name,
            Description=f"New access key {new_key_id} of IAM user {username}, for its credentials handler",
            SecretString=json.dumps(
                {
                    "AccessKeyId": new_key_id,
                    "SecretAccessKey": new_key["SecretAccessKey"],
                    "UserName": new_key["UserName"],
                    "CreateDate": new_key["CreateDate"].isoformat(),
                }
            ),
        )
    except Exception:
        # Without its secret the new key can never be handed off: remove it, keep the old one.
        iam.delete_access_key(UserName=username, AccessKeyId=new_key_id)
        log_event(_log, "secret not stored, new key deleted", username=username, access_key_id=new_key_id)
        raise
    log_event(_log, "secret stored", username=username, access_key_id=new_key_id, secret_name=name)

    handler_event = {"username": username, "secretName": name}
    if event.get("metadata") is not None:
        handler_event["metadata"] = event["metadata"]
    return {
        "username": username,
        "newAccessKeyId": new_key_id,
        "oldAccessKeyIds": active,
        "secretName": name,
        "handlerEvent": handler_event,
    }
