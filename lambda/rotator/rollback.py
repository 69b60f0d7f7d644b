"""RollBack state: a rotation failed before its key was handed off (or the handler failed).
Deletes the key the rotation created and its secret; the user's other keys stay as they were.
Safe to run twice, and a no-op when the user's secret belongs to another rotation."""

from __future__ import annotations

from typing import Any

from rotator.common import client, discard, keys_created_by, log_event, logger, read_record, secret_name

_log = logger(__name__)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    username, rotation = event["username"], event["rotation"]
    iam, secrets = client("iam"), client("secretsmanager")
    name = secret_name(username)
    record = read_record(secrets, name)
    deleted: list[str] = []
    if record is not None and record["Rotation"]["Id"] == rotation["id"]:
        deleted = keys_created_by(iam, username, record)
        discard(iam, secrets, username, name, deleted)
    log_event(
        _log, "rolled back", username=username, deleted_access_key_ids=deleted, error=event["error"]["Error"]
    )
    return {
        "username": username,
        "status": "FAILED",
        "error": event["error"]["Error"],
        "cause": event["error"].get("Cause", ""),
        "rolledBackAccessKeyIds": deleted,
    }
