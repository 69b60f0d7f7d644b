"""CleanUpBatch state, after the run's one wait: for each user of a batch whose new key was handed
off (or whose hand-off had an unknown outcome), first reads when the old and the new key were last
used (the usage check, unless switched off), then:

| old key used since the hand-off | new key used since | outcome |
| no  | yes | retire the old key (the switch is proven) |
| no  | no  | retire the old key, record "unconfirmed"; after an uncertain hand-off keep both keys |
| yes | yes | pending: checked again after the run's next wait; at the bound, keep both, fail the user |
| yes | no  | pending; at the bound, keep both (the new key was delivered: it is the third party's), fail |

The bound is the last of `USAGE_MAX_ROUNDS` re-checks; with none, the first check is the last.
Before retiring, the new key must still exist and be Active, or the old key is kept. Retiring
deletes or deactivates the keys the new one superseded, then deletes the secret. The new key is
never deleted or deactivated here, and a key shown to be in use is never deleted. Returns the
batch's final summary, or the batch again, marked pending, while some of its users wait for another
check. Safe to run twice."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Tuple

from botocore.exceptions import ClientError

from rotator.common import (
    HALF_DELIVERED_KEEP,
    HALF_DELIVERED_TAG,
    MemberAccountUnreachableError,
    bind_event,
    capped,
    check_user_exists,
    client,
    error_code,
    iam_client,
    list_keys,
    log_event,
    logger,
    now,
    read_record,
    release,
    secret_name,
    split_name,
    verified_keys,
)
from rotator.payloads import BatchSummary, Rotation
from rotator.report import explain

_log = logger(__name__)
# (status, reason, action) of one user; status ROTATED, UNCONFIRMED (rotated), PENDING or FAILED
Outcome = Tuple[str, str, str]


@dataclass
class UsageCheck:
    """The usage check of one clean-up round. AWS documents no delay for last-used data and reports
    its dates in whole minutes: every comparison is made on whole minutes, widened by `margin`."""

    enabled: bool
    margin: timedelta
    # How long the rotator's own use of the new key (RotateKey's check that AWS accepts it) may
    # follow the key's creation: uses up to then are not the third party's.
    verification: timedelta
    final: bool  # the bound is reached: no user stays pending
    # Re-checks after the first check (usage_check.max_wait / interval; zero when max_wait is "0s" or
    # the schedule leaves no room): with none, the first check decides alone, by the same rules.
    rounds: int
    since: datetime | None  # the previous round's time, None in the first round

    @classmethod
    def of(cls, event: dict[str, Any], batch: dict[str, Any]) -> UsageCheck:
        round_ = int((event.get("check") or {}).get("round", 0))
        rounds = int(os.environ.get("USAGE_MAX_ROUNDS", "0"))
        checked_at = batch.get("checkedAt")
        return cls(
            enabled=os.environ.get("USAGE_CHECK", "on") == "on",
            margin=timedelta(seconds=int(os.environ.get("USAGE_MARGIN_SECONDS", "120"))),
            verification=timedelta(seconds=int(os.environ.get("KEY_VERIFICATION_TIMEOUT_SECONDS", "60"))),
            final=round_ >= rounds,
            rounds=rounds,
            since=datetime.fromisoformat(checked_at) if checked_at and round_ > 0 else None,
        )

    def usage(self, iam: Any, username: str, record: dict, old_keys: list[str]) -> tuple[bool, bool]:
        """(an old key was used since the hand-off or the previous check, the new key was used
        since the hand-off), erring towards "used": a key deemed used is never deleted."""
        # A resumed half-written hand-off starts again, and RotateKey checked the key again, then.
        created = datetime.fromisoformat(record["Rotation"].get("ResumedAt") or record["CreateDate"])
        # The new key's creation precedes its hand-off: a use of the old key in between counts as a
        # use after the hand-off, so a busy third party costs one more round, never its key.
        old_since = _minute((self.since or created) - self.margin)
        recent = {}
        for key_id in old_keys:
            used = _last_used(iam, key_id)
            if used is not None and _minute(used) >= old_since:
                recent[key_id] = used
        if recent:
            # Rotated again soon after its previous rotation, the old key's last use may be that
            # rotation's own check of it: only then are the key's creation date and its mark of
            # origin worth their calls. Without the mark (a key made by hand, used at once by the
            # third party) an early use is the third party's.
            born = {k["AccessKeyId"]: k["CreateDate"] for k in list_keys(iam, username)}
            ours = verified_keys(iam, username, present=set(born))
            recent = {
                k: used
                for k, used in recent.items()
                if k not in born or not (k in ours and self._own(born[k], used))
            }
        new_last = _last_used(iam, record["AccessKeyId"])
        return bool(recent), new_last is not None and not self._own(created, new_last)

    def _own(self, created: datetime, used: datetime) -> bool:
        """Whether a key's last use may be the rotator's own check that AWS accepts it, which
        follows the key's creation by at most `verification`."""
        return _minute(used) <= _minute(created + self.verification + self.margin)


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _last_used(iam: Any, key_id: str) -> datetime | None:
    try:
        return iam.get_access_key_last_used(AccessKeyId=key_id)["AccessKeyLastUsed"].get("LastUsedDate")
    except ClientError as error:
        if error_code(error) != "NoSuchEntity":  # a key deleted by hand: no one uses it any more
            raise
        return None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bind_event(event)
    batch, rotation = event["batch"], event["rotation"]
    if batch.get("status") != "HANDED_OFF":
        return batch  # failed as a whole (none of its users was handed off), or already final
    summary: BatchSummary = batch["summary"]
    summary.setdefault("unconfirmed", [])
    secrets = client("secretsmanager")
    action = os.environ.get("OLD_KEY_ACTION", "delete")
    check = UsageCheck.of(event, batch)
    handed_off, uncertain = summary["handedOff"], summary["uncertain"]
    checked_at = now()

    half = set(summary.get("halfDelivered", []))

    def clean_up(name: str) -> Outcome:
        # Names of member accounts' users are "<account>/<username>".
        account, username = split_name(name)
        try:
            iam = iam_client(account)
        except MemberAccountUnreachableError as error:
            return ("FAILED", capped(f"MemberAccountUnreachableError: {error}", 500), "both keys kept")
        return _clean_up(
            iam, secrets, username, account, rotation, action, name in uncertain, check, name in half
        )

    # Bounded like the hand-offs: IAM's rate limits are per account.
    with ThreadPoolExecutor(max_workers=int(os.environ.get("MAX_CONCURRENCY", "10"))) as pool:
        outcomes = dict(zip(handed_off + uncertain, pool.map(clean_up, handed_off + uncertain)))
    pending = [username for username, (status, _, _) in outcomes.items() if status == "PENDING"]
    for username, (status, why, done) in outcomes.items():
        if status == "PENDING":
            continue
        if status in ("ROTATED", "UNCONFIRMED"):
            summary["rotated"].append(username)
            if status == "UNCONFIRMED":
                summary["unconfirmed"].append(username)
            continue
        summary["failed"].append(username)
        handed_off_reason = summary["details"].pop(username, "")
        explain(summary, username, why or handed_off_reason or "see the batch's logs", done or None)
    summary["handedOff"] = [u for u in handed_off if u in pending]
    summary["uncertain"] = [u for u in uncertain if u in pending]
    if pending:
        log_event(_log, "keys still in use: checked again after the next wait", pending=pending)
        # The users still pending, and this check's time, which the next check compares against.
        return {
            "status": "HANDED_OFF",
            "summary": summary,
            "pending": True,
            "checkedAt": checked_at.isoformat(),
        }
    log_event(
        _log,
        "batch cleaned up",
        rotated=summary["rotated"],
        unconfirmed=summary["unconfirmed"],
        failed=summary["failed"],
    )
    return dict(summary)


def _clean_up(
    iam: Any,
    secrets: Any,
    username: str,
    account: str | None,
    rotation: Rotation,
    action: str,
    uncertain: bool,
    check: UsageCheck,
    half: bool = False,
) -> Outcome:
    name = secret_name(username, account)
    # A member account's user's keys are deleted there: say so in the commands the report gives.
    there = "" if account is None else f", with credentials of account {account}"
    record = read_record(secrets, name)
    if record is None or record["Rotation"]["Id"] != rotation["id"]:
        # An earlier attempt of this step finished the user: the secret goes last.
        return ("ROTATED", "", "") if not uncertain else ("FAILED", "", "see the earlier clean-up's logs")
    new_key = record["AccessKeyId"]
    old_keys = [k for k in record["Rotation"]["ActiveKeyIdsBefore"] if k != new_key]
    # Keys gone with this rotation, whose marks of origin go with the in-flight tag: the inactive keys
    # RotateKey deleted, and (below) the old keys deleted here.
    gone = [k for k in record["Rotation"].get("KeyIdsBefore", []) if k not in old_keys + [new_key]]
    # Without the check, nothing is known of either key's use: as if neither were used.
    old_used, new_used = check.usage(iam, username, record, old_keys) if check.enabled else (False, False)
    log_event(
        _log,
        "usage checked",
        username=username,
        old_key_used=old_used,
        new_key_used=new_used,
        final=check.final,
    )
    if old_used and not check.final:
        return ("PENDING", "", "")
    if half and not new_used:
        # The third party holds part of the new key (its id, say) and only the secret holds the rest:
        # the secret is kept, for a bounded time, and the next run resumes the hand-off with it.
        until = record["Rotation"].get("KeepUntil") or (now() + HALF_DELIVERED_KEEP).isoformat()
        secrets.tag_resource(SecretId=name, Tags=[{"Key": HALF_DELIVERED_TAG, "Value": until}])
        log_event(_log, "half delivered: secret kept", username=username, secret_name=name, keep_until=until)
        left = datetime.fromisoformat(until) - now()
        return (
            "FAILED",
            "",
            f"half delivered: both keys kept, {', '.join(old_keys) or '(none)'} (old) and {new_key} (new), and the "
            f"secret {name}, which holds the only copy of the new key's secret, until {until} "
            f"({left.days} days {left.seconds // 3600} hours left): the user's next run resumes the hand-off "
            f'with it (rotate it on demand once the third party is fixed: {{"username": "{username}"}})',
        )
    if old_used and new_used:
        release(
            iam, secrets, name, username, gone=gone
        )  # the third party holds the new key: the secret has served
        log_event(_log, "both keys kept", username=username, access_key_ids=old_keys + [new_key])
        return (
            "FAILED",
            f"StillInUse: both keys were still in use when the usage check's bound was reached "
            f"({check.rounds} re-checks): {', '.join(old_keys)} (old) and {new_key} (new)",
            "still in use: both kept. Find what still uses the old key, switch it to the new one, "
            f"then delete the old key (aws iam delete-access-key --user-name '{username}' "
            f"--access-key-id <old key id>{there})",
        )
    if old_used:
        # The third party still uses the old key and was never seen on the new one. The new key was
        # delivered (or may have been): it is the third party's now, wherever it went (a push
        # handler's store replaced its value), so neither key may go.
        release(iam, secrets, name, username, gone=gone)
        log_event(
            _log,
            "both keys kept: still on the old key",
            username=username,
            access_key_ids=old_keys + [new_key],
        )
        return (
            "FAILED",
            f"NeverSwitched: the old key {', '.join(old_keys)} was still in use and the new key {new_key} "
            f"never was when the usage check's bound was reached ({check.rounds} re-checks)",
            f"still on the old key: both kept. The credentials handler delivered {new_key}; find what still "
            "uses the old key (a consumer that reads the key from elsewhere, or a second one sharing the "
            "user), switch it to the new key, then delete the old key "
            f"(aws iam delete-access-key --user-name '{username}' --access-key-id <old key id>{there})",
        )
    if uncertain and not new_used:
        # The third party may hold either key. Its secret has served: the new key stays with IAM.
        release(iam, secrets, name, username, gone=gone)
        log_event(_log, "both keys kept", username=username, access_key_ids=old_keys + [new_key])
        return (
            "FAILED",
            "",
            f"the hand-off's outcome is unknown, so both keys were kept: {', '.join(old_keys) or '(none)'} "
            f"(old) and {new_key} (new). Ask the third party which key it uses, delete the other "
            f"(aws iam delete-access-key --user-name '{username}' --access-key-id <key id>{there}), then rotate "
            "again",
        )
    try:
        # Someone (an operator, a tool removing an "unexpected" second key) may have deactivated or
        # deleted the new key during the wait: then the old key is the user's only working key.
        status = _status(iam, username, new_key, old_keys)
        if status != "Active":
            log_event(_log, "old key kept: new key not active", username=username, access_key_id=new_key)
            return (
                "FAILED",
                f"NewKeyNotActive: the new key {new_key} was {'deactivated' if status else 'deleted'} after "
                f"the hand-off; the old key {', '.join(old_keys) or '(none)'} was kept",
                "the old key kept. Find who "
                + ("deactivated" if status else "deleted")
                + " the new key and why, "
                + (
                    f"reactivate it if the third party uses it (aws iam update-access-key --user-name "
                    f"'{username}' --access-key-id {new_key} --status Active{there}), "
                    if status
                    else ""
                )
                + "then rotate again",
            )
        for key_id in old_keys:
            _retire(iam, username, key_id, action)
            if action == "delete":  # a deactivated key keeps its mark until it is deleted
                gone.append(key_id)
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
        release(iam, secrets, name, username, gone=gone)
    log_event(_log, "secret deleted", username=username, secret_name=name)
    return ("ROTATED", "", "") if new_used or not check.enabled else ("UNCONFIRMED", "", "")


def _status(iam: Any, username: str, key_id: str, old_keys: list[str]) -> str | None:
    """The key's status, None if it is gone; a user gone (renamed) is UserGoneError."""
    try:
        keys = list_keys(iam, username)
    except ClientError as error:
        if error_code(error) != "NoSuchEntity":
            raise
        check_user_exists(iam, username, old_keys)
        raise
    return {k["AccessKeyId"]: k["Status"] for k in keys}.get(key_id)


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
