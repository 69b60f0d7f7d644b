"""RollBack state: a rotation failed before its key was handed off (or the handler refused it).
It owns the undo: deletes every key the rotation created (stored or not) and then its secret; the
user's other keys stay as they were. Safe to run twice, and a no-op when the user's secret belongs
to another rotation. If a key cannot be deleted, the secret (the lock, naming the key) stays."""

from __future__ import annotations

from typing import Any

from rotator.common import (
    bind_event,
    capped,
    client,
    delete_keys,
    iam_client,
    keys_created_by,
    log_event,
    logger,
    member_account,
    message_of,
    read_record,
    release,
    secret_name,
)

_log = logger(__name__)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bind_event(event)
    username, rotation = event["user"]["username"], event["rotation"]
    account = member_account(event["user"], rotation)
    secrets = client("secretsmanager")
    name = secret_name(username, account)
    record = read_record(secrets, name)
    deleted: list[str] = []
    if record is not None and record["Rotation"]["Id"] == rotation["id"]:
        # Only then: a member account that cannot be reached took no lock, and has nothing to undo.
        iam = iam_client(account)
        deleted = keys_created_by(iam, username, record)
        delete_keys(iam, username, deleted)
        release(iam, secrets, name, username, gone=deleted)
    log_event(
        _log, "rolled back", username=username, deleted_access_key_ids=deleted, error=event["error"]["Error"]
    )
    return {
        "username": username,
        "status": "FAILED",
        "error": event["error"]["Error"],
        # SendTaskFailure's cause is optional (acknowledged mode).
        "cause": capped(message_of(event["error"].get("Cause") or "")),
        "rolledBackAccessKeyIds": deleted,
    }
