"""RollBack state: a rotation failed before its key was handed off (or the handler refused it).
It owns the undo: deletes every key the rotation created (stored or not) and then its secret; the
user's other keys stay as they were. In acknowledged mode, a refusal or silence after the handler
returned (HandOff marked the secret) undoes nothing: the handler may have written the key, so both
keys are kept and the user fails naming them. Safe to run twice, and a no-op when the user's secret belongs
to another rotation. If a key cannot be deleted, the secret (the lock, naming the key) stays."""

from __future__ import annotations

from typing import Any

from rotator.common import (
    bind_event,
    capped,
    client,
    delete_keys,
    handler_returned,
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
    cause = capped(message_of(event["error"].get("Cause") or ""))  # optional in SendTaskFailure
    if record is not None and record["Rotation"]["Id"] == rotation["id"]:
        # Only then: a member account that cannot be reached took no lock, and has nothing to undo.
        iam = iam_client(account)
        before = record["Rotation"]
        inactive = [
            k for k in before.get("KeyIdsBefore", []) if k not in before.get("ActiveKeyIdsBefore", [])
        ]
        if "AccessKeyId" in record and handler_returned(secrets, name):
            # Acknowledged mode, refused or unanswered after the handler returned: the handler may have
            # written the key (a push handler's store now holds it). Not known to have written nothing,
            # so nothing is rolled back.
            release(iam, secrets, name, username, gone=inactive)
            new, old = record["AccessKeyId"], [
                k for k in before["ActiveKeyIdsBefore"] if k != record["AccessKeyId"]
            ]
            log_event(
                _log,
                "both keys kept: the handler had returned",
                username=username,
                access_key_ids=old + [new],
            )
            there = "" if account is None else f", with credentials of account {account}"
            cause = capped(
                f"{cause + ' ' if cause else ''}The credentials handler had returned, so it may have written the "
                f"new key: nothing was rolled back, both keys were kept: {', '.join(old) or '(none)'} (old) and "
                f"{new} (new). Ask the third party which key it holds, delete the other (aws iam "
                f"delete-access-key --user-name '{username}' --access-key-id <key id>{there}), then rotate again."
            )
        else:
            deleted = keys_created_by(iam, username, record)
            delete_keys(iam, username, deleted)
            release(iam, secrets, name, username, gone=deleted + inactive)
    log_event(
        _log, "rolled back", username=username, deleted_access_key_ids=deleted, error=event["error"]["Error"]
    )
    return {
        "username": username,
        "status": "FAILED",
        "error": event["error"]["Error"],
        "cause": cause,
        "rolledBackAccessKeyIds": deleted,
        "inactiveKeysDeleted": event.get("deletedInactiveKeyIds") or [],
    }
