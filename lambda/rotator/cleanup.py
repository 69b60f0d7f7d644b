"""CleanUpBatch state, after the run's one wait: for each user of a batch whose new key was handed
off, retires (deletes or deactivates) the keys the new one superseded, then deletes the secret; for
each user whose hand-off had an unknown outcome, keeps both keys, deletes the secret and fails the
user saying which key is which. Returns the batch's final summary. The third parties have the new
keys: nothing here rolls back. Safe to run twice."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Tuple

from botocore.exceptions import ClientError

from rotator.common import (
    bind_event,
    capped,
    check_user_exists,
    client,
    delete_secret,
    error_code,
    log_event,
    logger,
    read_record,
    secret_name,
)
from rotator.payloads import BatchSummary, Rotation
from rotator.report import explain

_log = logger(__name__)
# (status, reason, action) of one user
Outcome = Tuple[str, str, str]


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bind_event(event)
    batch, rotation = event["batch"], event["rotation"]
    if batch.get("status") != "HANDED_OFF":
        return batch  # failed as a whole: none of its users was handed off
    summary: BatchSummary = batch["summary"]
    iam, secrets = client("iam"), client("secretsmanager")
    action = os.environ.get("OLD_KEY_ACTION", "delete")
    handed_off, uncertain = summary["handedOff"], summary["uncertain"]

    def clean_up(username: str) -> Outcome:
        return _clean_up(iam, secrets, username, rotation, action, username in uncertain)

    # Bounded like the hand-offs: IAM's rate limits are per account.
    with ThreadPoolExecutor(max_workers=int(os.environ.get("MAX_CONCURRENCY", "10"))) as pool:
        outcomes = dict(zip(handed_off + uncertain, pool.map(clean_up, handed_off + uncertain)))
    for username, (status, why, done) in outcomes.items():
        if status == "ROTATED":
            summary["rotated"].append(username)
            continue
        summary["failed"].append(username)
        handed_off_reason = summary["details"].pop(username, "")
        explain(summary, username, why or handed_off_reason or "see the batch's logs", done or None)
    summary["handedOff"], summary["uncertain"] = [], []
    log_event(_log, "batch cleaned up", rotated=summary["rotated"], failed=summary["failed"])
    return dict(summary)


def _clean_up(
    iam: Any, secrets: Any, username: str, rotation: Rotation, action: str, uncertain: bool
) -> Outcome:
    name = secret_name(username)
    record = read_record(secrets, name)
    if record is None or record["Rotation"]["Id"] != rotation["id"]:
        # An earlier attempt of this step finished the user: the secret goes last.
        return ("ROTATED", "", "") if not uncertain else ("FAILED", "", "see the earlier clean-up's logs")
    new_key = record["AccessKeyId"]
    old_keys = [k for k in record["Rotation"]["ActiveKeyIdsBefore"] if k != new_key]
    if uncertain:
        # The third party may hold either key. Its secret has served: the new key stays with IAM.
        delete_secret(secrets, name)
        log_event(_log, "both keys kept", username=username, access_key_ids=old_keys + [new_key])
        return (
            "FAILED",
            "",
            f"the hand-off's outcome is unknown, so both keys were kept: {', '.join(old_keys) or '(none)'} "
            f"(old) and {new_key} (new). Ask the third party which key it uses, delete the other "
            f"(aws iam delete-access-key --user-name '{username}' --access-key-id <key id>), then rotate "
            "again",
        )
    try:
        for key_id in old_keys:
            _retire(iam, username, key_id, action)
    except Exception as error:  # reported as data: the run names the user and what to remove
        return (
            "FAILED",
            capped(
                f"{getattr(error, 'response', {}).get('Error', {}).get('Code') or type(error).__name__}: "
                f"The third party has the new key {new_key}; the old keys {json.dumps(old_keys)} remain: "
                f"remove them by hand. {error}",
                500,
            ),
            "",
        )
    finally:
        # The third party has the new key: the secret has served, whatever happens to the old key.
        delete_secret(secrets, name)
    log_event(_log, "secret deleted", username=username, secret_name=name)
    return ("ROTATED", "", "")


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
        check_user_exists(iam, username, [key_id])
        log_event(_log, "old key already gone", username=username, access_key_id=key_id)
        return
    log_event(_log, f"old key {action}d", username=username, access_key_id=key_id)
