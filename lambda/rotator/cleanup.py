"""CleanUp state: after the grace period, deletes the keys the new one superseded and the secret."""

from __future__ import annotations

from typing import Any

from rotator.common import client, log_event, logger

_log = logger(__name__)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    username = event["username"]
    new_key_id = event["newAccessKeyId"]
    iam = client("iam")
    deleted = []
    # Only the keys that were active when this rotation started: a key created since then
    # (by hand, or by anything else) is not this rotation's to delete.
    for key_id in event["oldAccessKeyIds"]:
        if key_id == new_key_id:
            continue
        try:
            iam.delete_access_key(UserName=username, AccessKeyId=key_id)
        except iam.exceptions.NoSuchEntityException:
            log_event(_log, "old key already gone", username=username, access_key_id=key_id)
            continue
        deleted.append(key_id)
        log_event(_log, "old key deleted", username=username, access_key_id=key_id)

    secrets = client("secretsmanager")
    try:
        secrets.delete_secret(SecretId=event["secretName"], ForceDeleteWithoutRecovery=True)
    except secrets.exceptions.ResourceNotFoundException:
        log_event(_log, "secret already gone", username=username, secret_name=event["secretName"])
    else:
        log_event(_log, "secret deleted", username=username, secret_name=event["secretName"])
    return {"username": username, "accessKeyId": new_key_id, "deletedAccessKeyIds": deleted}
