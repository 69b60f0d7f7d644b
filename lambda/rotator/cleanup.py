"""CleanUp state: after the grace period, deletes (or deactivates) the keys the new one
superseded, then the secret. Safe to run twice."""

from __future__ import annotations

import os
from typing import Any

from botocore.exceptions import ClientError

from rotator.common import client, delete_secret, error_code, log_event, logger

_log = logger(__name__)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    username = event["username"]
    new_key_id = event["newAccessKeyId"]
    action = os.environ.get("OLD_KEY_ACTION", "delete")
    iam = client("iam")
    try:
        # Only the keys that were active when this rotation started: a key created since then
        # (by hand, or by anything else) is not this rotation's to remove.
        for key_id in event["oldAccessKeyIds"]:
            if key_id != new_key_id:
                _retire(iam, username, key_id, action)
    finally:
        # The third party has the new key: the secret has served, whatever happens to the old key.
        delete_secret(client("secretsmanager"), event["secretName"])
        log_event(_log, "secret deleted", username=username, secret_name=event["secretName"])
    return {
        "username": username,
        "status": "ROTATED",
        "accessKeyId": new_key_id,
        "oldAccessKeyIds": event["oldAccessKeyIds"],
        "oldKeyAction": action,
    }


def _retire(iam: Any, username: str, key_id: str, action: str) -> None:
    try:
        if action == "deactivate":
            # Kept for one schedule period as an undo; the next rotation deletes it.
            iam.update_access_key(UserName=username, AccessKeyId=key_id, Status="Inactive")
        else:
            iam.delete_access_key(UserName=username, AccessKeyId=key_id)
    except ClientError as error:
        if error_code(error) != "NoSuchEntity":
            raise
        log_event(_log, "old key already gone", username=username, access_key_id=key_id)
        return
    log_event(_log, f"old key {action}d", username=username, access_key_id=key_id)
