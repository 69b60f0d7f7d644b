"""RotateKey state: takes the user's rotation lock, creates the new access key, stores it in the
user's secret and checks that AWS accepts it.

Safe to run twice: a second attempt of the same rotation resumes from what the first one stored.
It never undoes itself: on failure RollBack, the workflow's next state, removes what the rotation
created. Returns key ids and the secret's name only; the secret access key never leaves this function
except into Secrets Manager.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta
from typing import Any, Callable

from botocore.exceptions import ClientError

from rotator.common import (
    CLOCK_SKEW,
    HALF_DELIVERED_TAG,
    AlreadyRotatedError,
    AttemptInProgressError,
    InactiveKeyKeptError,
    KeyNotUsableError,
    RotationError,
    RotationInProgressError,
    SecretPendingDeletionError,
    StaleRotationError,
    TwoActiveKeysError,
    UserNotTaggedError,
    UserPathMismatchError,
    bind_event,
    client,
    delete_keys,
    delete_secret,
    deleted_on,
    error_code,
    iam_client,
    in_flight_tag,
    keys_created_by,
    list_keys,
    log_event,
    logger,
    mark_in_flight,
    member_account,
    now,
    read_record,
    secret_name,
    secret_tags,
    user_out_of_reach,
    verified_keys,
)

_log = logger(__name__)
# Errors STS gives for a key that IAM has not yet propagated.
_NOT_YET_VALID = {
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "AuthFailure",
    "UnrecognizedClientException",
}
# How long a resumed attempt waits for a live earlier attempt to store its key before it gives up
# (and the workflow retries it later).
_TWIN_WAIT = timedelta(seconds=20)


class _Healed(Exception):
    """A stale lock was finished or undone and released: start again from the user's keys."""


class _Adopted(Exception):
    """A half-written hand-off's lock, taken over by this rotation to resume that hand-off."""

    def __init__(self, record: dict) -> None:
        super().__init__()
        self.record = record


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bind_event(event)
    try:
        return _rotate(event, context)
    except _Healed:
        return _rotate(event, context)


def _rotate(event: dict[str, Any], context: Any) -> dict[str, Any]:
    user, rotation = event["user"], event["rotation"]
    username = user["username"]
    # A user of a member account is reached through its member role; its secret stays here.
    account = member_account(user, rotation)
    iam, secrets = iam_client(account), client("secretsmanager")
    name = secret_name(username, account)
    attempt = _attempt(context)

    def heal(held: dict) -> None:
        if _resume_half_delivered(secrets, name, username, held, rotation):
            raise _Adopted(held)
        if _heal(iam, secrets, name, username, held):
            raise _Healed()

    # Before anything else: the user found is the one declared, at its path.
    _check_path(iam, username, user.get("path", "/"), account)
    try:
        record, keys, fresh = _take_lock(iam, secrets, name, username, account, rotation, attempt, heal)
    except _Adopted as adopted:
        # Before anything else, the same key again, to the same place: the handlers' writes are
        # idempotent, and the pair becomes whole.
        mark_in_flight(iam, username)
        record, keys, fresh = adopted.record, [], True
    if not fresh:
        previous_died = event.get("previousAttemptDied", False)
        record, keys = _resume(iam, secrets, name, username, record, attempt, previous_died)
    if "AccessKeyId" not in record:
        _create(iam, secrets, name, username, record, keys, attempt)
    _verify(username, record["AccessKeyId"], record["SecretAccessKey"], account)
    # A twin attempt may have replaced the key meanwhile: hand off only what the secret holds now.
    held = read_record(secrets, name)
    if held is None or held.get("AccessKeyId") != record["AccessKeyId"]:
        raise AttemptInProgressError(
            f"The secret {name} of user {username} changed while this attempt verified key "
            f"{record['AccessKeyId']}; the next attempt resumes from what it holds now."
        )
    # Tagged again now that the lock is taken, however many attempts it took: a rotation that released
    # the user between this one's first tag and its lock removed the tag after its secret. The key's
    # mark of origin goes with it, so that an early use of the key is known to be this rotator's check.
    mark_in_flight(iam, username, verified=record["AccessKeyId"])
    before = record["Rotation"]
    return {
        "user": user,
        "rotation": rotation,
        "newAccessKeyId": record["AccessKeyId"],
        "secretName": name,
        # Reported in the run's result: an inactive key may have been kept on purpose.
        "deletedInactiveKeyIds": [k for k in before["KeyIdsBefore"] if k not in before["ActiveKeyIdsBefore"]],
    }


def _take_lock(
    iam: Any,
    secrets: Any,
    name: str,
    username: str,
    account: str | None,
    rotation: dict,
    attempt: dict,
    heal: Callable[[dict], None],
) -> tuple[dict, list[dict], bool]:
    keys = _keys_in_reach(iam, username, account)
    refusal = _refusal(username, rotation, keys) or _quarantined(iam, username, keys)
    if refusal is not None:
        # Refused before taking the lock (nothing to undo), unless a rotation holds it: another one
        # (whose new key makes the user look refused) is reported as such; this one's own earlier
        # attempt is resumed.
        held = read_record(secrets, name)
        if held is None:
            raise refusal
        if held["Rotation"]["Id"] != rotation["id"]:
            _refuse(username, name, held, heal)
    # Before the lock: RollBack and CleanUp reach the user by this tag, even if `users` stops naming it.
    mark_in_flight(iam, username)
    # With nothing to do between taking the lock and creating the key, the lock is marked "creating"
    # at once: one call less on the common path.
    create_now = all(k["Status"] == "Active" for k in keys)
    creating = {**attempt, "KeyIds": [k["AccessKeyId"] for k in keys]} if create_now else None
    record, fresh = _lock(secrets, name, username, rotation, keys, creating, heal)
    return record, keys, fresh


def _attempt(context: Any) -> dict[str, str]:
    """This invocation: its id, and when Lambda ends it at the latest."""
    started = now()
    deadline = started + timedelta(milliseconds=context.get_remaining_time_in_millis())
    return {"Id": context.aws_request_id, "At": started.isoformat(), "Deadline": deadline.isoformat()}


def _check_path(iam: Any, username: str, declared: str, account: str | None) -> None:
    """Refuses a user found at another IAM path than its entry in `users` declares ("/" by default;
    "*" accepts any), before anything is created: the users list names one exact user (issue 24).
    A user that does not exist is left to the calls that follow, which say so."""
    if declared == "*":
        return
    try:
        found = iam.get_user(UserName=username)["User"].get("Path", "/")
    except ClientError as error:
        if error_code(error) == "NoSuchEntity":
            return
        raise
    if found != declared:
        where = f" of account {account}" if account else ""
        raise UserPathMismatchError(
            f"User {username}{where} is at path {found}, not at path {declared} as its entry in users "
            f'declares; nothing was changed. Set path = "{found}" in its entry (or "*" for any path) if '
            "this is the user meant."
        )


def _keys_in_reach(iam: Any, username: str, account: str | None) -> list[dict]:
    """The user's keys; the first call on the user, so a user out of the rotator's reach fails here,
    before anything is created."""
    try:
        return list_keys(iam, username)
    except ClientError as error:
        tag = os.environ.get("USER_TAG")
        if error_code(error) != "AccessDenied" or not (tag or account):
            raise
        if not tag:
            raise user_out_of_reach(str(account), username, error) from error
        key, _, value = tag.partition("=")
        where = f" (in account {account})" if account else ""
        raise UserNotTaggedError(
            f"User {username}{where} is out of this rotator's reach: tag it {key} = {value} (user_tag_key). {error}"
        ) from error


def _lock(
    secrets: Any,
    name: str,
    username: str,
    rotation: dict,
    keys: list[dict],
    creating: dict | None,
    heal: Callable[[dict], None] = lambda held: None,
) -> tuple[dict, bool]:
    """Creates the user's secret as this rotation's lock, or finds this rotation's own from an
    earlier attempt. Returns (record, True if taken now)."""
    record: dict[str, Any] = {
        "UserName": username,
        "Rotation": {
            "Id": rotation["id"],
            "ExecutionArn": rotation["executionArn"],
            "StartedAt": now().isoformat(),
            "KeyIdsBefore": [k["AccessKeyId"] for k in keys],
            "ActiveKeyIdsBefore": [k["AccessKeyId"] for k in keys if k["Status"] == "Active"],
        },
    }
    if creating:
        record["Rotation"]["Creating"] = creating
    arguments = {
        "Name": name,
        "Description": f"Access key of IAM user {username} being rotated; read by its credentials handler.",
        "SecretString": json.dumps(record),
        # Leftovers of any instance can be found by this tag, whatever happens to the instance.
        "Tags": [{"Key": "iam-credentials-rotator", "Value": os.environ.get("ROTATOR_NAME", "")}],
    }
    if os.environ.get("KMS_KEY_ID"):
        arguments["KmsKeyId"] = os.environ["KMS_KEY_ID"]
    for attempt in range(6):
        try:
            secrets.create_secret(**arguments)
            log_event(_log, "lock taken", username=username, secret_name=name, rotation=rotation["id"])
            return record, True
        except ClientError as error:
            # AWS refuses a name scheduled for deletion with InvalidRequestException (moto: exists).
            if error_code(error) not in ("InvalidRequestException", "ResourceExistsException"):
                raise
        held = read_record(secrets, name)
        if held is None:  # released meanwhile, or being deleted
            _wait_out_deletion(secrets, name, username, attempt)
            continue
        if held["Rotation"]["Id"] == rotation["id"]:
            log_event(_log, "resuming", username=username, rotation=rotation["id"])
            return held, False
        _refuse(username, name, held, heal)
    raise RuntimeError(f"could not create secret {name}: it kept being deleted and recreated")


def _wait_out_deletion(secrets: Any, name: str, username: str, attempt: int) -> None:
    """The last rotation's secret is still being deleted (deletion without recovery takes a few
    seconds), or someone deleted it by hand with a recovery window (7 days at least; DescribeSecret's
    DeletedDate is when it goes): then say so, and the fix."""
    deleted = deleted_on(secrets, name)
    if deleted is None:
        return
    if deleted > now() + timedelta(days=1):
        raise SecretPendingDeletionError(
            f"The secret {name} of user {username} was deleted with a recovery window and cannot be created "
            f"again until it goes ({deleted.isoformat()}); nothing was changed. It may hold a rotation's "
            f"lock: restore it to see (aws secretsmanager restore-secret --secret-id '{name}'), or, if no "
            f"rotation of the user is under way, delete it for good: aws secretsmanager delete-secret "
            f"--secret-id '{name}' --force-delete-without-recovery"
        )
    time.sleep(2**attempt)


def _refuse(username: str, name: str, held: dict, heal: Callable[[dict], None] = lambda held: None) -> None:
    """Refuses the user while another rotation holds its lock. A lock left by an execution that ended
    is healed when how far that rotation got allows it (`_heal`); otherwise both keys are kept and the
    user refused, naming them."""
    holder, tag_key = held["Rotation"]["ExecutionArn"], in_flight_tag()[0]
    try:
        status = client("stepfunctions").describe_execution(executionArn=holder)["status"]
    except ClientError as error:
        if error_code(error) != "ExecutionDoesNotExist":
            raise
        status = "gone"
    if status == "RUNNING":
        raise RotationInProgressError(
            f"User {username} is being rotated by execution {holder}; this run leaves the user alone."
        )
    heal(held)
    new = held.get("AccessKeyId", "(none stored)")
    old = ", ".join(k for k in held["Rotation"]["ActiveKeyIdsBefore"] if k != new) or "(none)"
    raise StaleRotationError(
        f"User {username} was left mid-rotation by execution {holder} ({status}), after its key may have "
        f"been handed off: both keys are kept, {old} (old) and {new} (new), and its secret {name}. Ask the "
        f"third party which key it uses and delete the other (aws iam delete-access-key --user-name "
        f"'{username}' --access-key-id <key id>): the user's next rotation then finishes that one, removes "
        f"the secret and the tag {tag_key}, and rotates the user."
    )


def _resume_half_delivered(secrets: Any, name: str, username: str, held: dict, rotation: dict) -> bool:
    """A lock the clean-up kept after a half-written hand-off is taken over, its key kept, while its
    time lasts (True); after that its secret is deleted and the user refused, both keys kept."""
    until = secret_tags(secrets, name).get(HALF_DELIVERED_TAG)
    if until is None:
        return False
    new = held["AccessKeyId"]
    old = ", ".join(k for k in held["Rotation"]["ActiveKeyIdsBefore"] if k != new) or "(none)"
    if now() >= datetime.fromisoformat(until):
        delete_secret(secrets, name)
        raise StaleRotationError(
            f"User {username}'s half-written hand-off was not resumed before {until}: its secret {name} is now "
            f"deleted, and both keys are kept, {old} (old) and {new} (new). Ask the third party which key it "
            f"uses and delete the other (aws iam delete-access-key --user-name '{username}' --access-key-id "
            "<key id>), then rotate again."
        )
    previous = held["Rotation"]
    held["Rotation"] = {
        "Id": rotation["id"],
        "ExecutionArn": rotation["executionArn"],
        "StartedAt": now().isoformat(),
        "ResumedAt": now().isoformat(),
        "Resumed": previous["ExecutionArn"],
        "KeepUntil": until,
        "KeyIdsBefore": previous["KeyIdsBefore"],
        "ActiveKeyIdsBefore": previous["ActiveKeyIdsBefore"],
    }
    secrets.put_secret_value(SecretId=name, SecretString=json.dumps(held))
    log_event(_log, "half-written hand-off resumed", username=username, access_key_id=new, keep_until=until)
    return True


def _heal(iam: Any, secrets: Any, name: str, username: str, held: dict) -> bool:
    """Finishes or undoes the rotation of an execution that ended mid-way, from what its lock shows,
    by the rule that a key that may have been handed off is never deleted. True when the lock was
    released; False when both of the user's keys may be in use (only a person can tell which)."""
    rotation = held["Rotation"]
    new = held.get("AccessKeyId")
    present = {k["AccessKeyId"]: k["Status"] for k in list_keys(iam, username)}
    old = [k for k in rotation["ActiveKeyIdsBefore"] if k != new]
    creating = rotation.get("Creating")
    if new is None:
        if creating and now() < datetime.fromisoformat(creating["Deadline"]) + CLOCK_SKEW:
            return False  # its last attempt may still be running; the next run heals it
        # Never stored, so never handed off: the keys it created are nobody's.
        unstored = keys_created_by(iam, username, held)
        delete_keys(iam, username, unstored)
        how = f"undone: its key was never stored ({', '.join(unstored) or 'none created'} deleted)"
    elif new not in present:
        how = f"its new key {new} is gone"
    elif not any(present.get(k) == "Active" for k in old):
        how = f"finished: its new key {new} is the user's active key"
    else:
        return False
    delete_secret(secrets, name)
    log_event(
        _log,
        "stale lock healed",
        username=username,
        holder=rotation["ExecutionArn"],
        how=how,
        secret_name=name,
    )
    return True


def _resume(
    iam: Any, secrets: Any, name: str, username: str, record: dict, attempt: dict, previous_died: bool
) -> tuple[dict, list[dict]]:
    """An earlier attempt of this rotation took the lock. If it stored its key, carry on with it.
    If it marked the record "creating" without storing a key, nobody holds what it created: delete
    it, once that attempt is provably dead (Lambda said it died, or its deadline passed); while it
    may still be running, give it time to store its key."""
    creating = record["Rotation"].get("Creating")
    if creating and creating["Id"] == attempt["Id"]:
        # This very attempt's lock, whose CreateSecret response was lost and retried: nothing created yet.
        creating = None
    if "AccessKeyId" not in record and creating:
        deadline = datetime.fromisoformat(creating["Deadline"]) + CLOCK_SKEW
        waited_until = now() + _TWIN_WAIT
        while not previous_died and now() < deadline:
            if now() > waited_until:
                raise AttemptInProgressError(
                    f"An earlier attempt ({creating['Id']}) of this rotation of user {username} may still be "
                    f"creating its key (it can run until {creating['Deadline']}); retrying later."
                )
            time.sleep(2)
            record = read_record(secrets, name) or record
            if "AccessKeyId" in record:
                break
        if "AccessKeyId" not in record:
            unstored = keys_created_by(iam, username, record)
            delete_keys(iam, username, unstored)
            record["Rotation"].pop("Creating")
            log_event(_log, "unstored keys deleted", username=username, access_key_ids=unstored)
    keys = list_keys(iam, username)
    if record.get("AccessKeyId") not in {k["AccessKeyId"] for k in keys}:
        record.pop("AccessKeyId", None)
    return record, keys


def _create(
    iam: Any, secrets: Any, name: str, username: str, record: dict, keys: list[dict], attempt: dict
) -> None:
    # An inactive key is no one's working key; it only takes the slot the new key needs. It may have
    # been kept on purpose: the log and the run's result name it (keep_inactive_keys refuses instead).
    for key in keys:
        if key["Status"] != "Active":
            delete_keys(iam, username, [key["AccessKeyId"]])
            log_event(
                _log, "inactive key deleted to make room", username=username, access_key_id=key["AccessKeyId"]
            )
    rotation = record["Rotation"]
    if rotation.get("Creating", {}).get("Id") != attempt["Id"]:
        # The keys there now: any other key found later was created by this attempt's call.
        present = [k["AccessKeyId"] for k in keys if k["Status"] == "Active"]
        rotation["Creating"] = {**attempt, "KeyIds": present}
        secrets.put_secret_value(SecretId=name, SecretString=json.dumps(record))
    response = iam.create_access_key(UserName=username)
    new_key = response["AccessKey"]
    if response["ResponseMetadata"].get("RetryAttempts"):
        # A retried CreateAccessKey may have created a key whose response was lost: nobody holds it.
        lost = [k for k in keys_created_by(iam, username, record) if k != new_key["AccessKeyId"]]
        delete_keys(iam, username, lost)
        log_event(_log, "keys of lost responses deleted", username=username, access_key_ids=lost)
    record.update(
        AccessKeyId=new_key["AccessKeyId"],
        SecretAccessKey=new_key["SecretAccessKey"],
        UserName=new_key["UserName"],
        CreateDate=new_key["CreateDate"].isoformat(),
    )
    log_event(_log, "key created", username=username, access_key_id=record["AccessKeyId"])
    secrets.put_secret_value(SecretId=name, SecretString=json.dumps(record))
    log_event(_log, "secret stored", username=username, access_key_id=record["AccessKeyId"], secret_name=name)


def _refusal(username: str, rotation: dict, keys: list[dict]) -> RotationError | None:
    """Why this rotation must not create a key for the user, if it must not."""
    active = [k for k in keys if k["Status"] == "Active"]
    scheduled = rotation.get("scheduledTime")
    if scheduled:
        due = datetime.fromisoformat(scheduled.replace("Z", "+00:00"))
        newer = [k["AccessKeyId"] for k in active if k["CreateDate"] >= due]
        if newer:
            return AlreadyRotatedError(
                f"User {username} already has key {newer[0]}, created after this scheduled run was due "
                f"({scheduled}); not rotating twice."
            )
    if len(active) > 1:
        return TwoActiveKeysError(
            f"User {username} has two active access keys ({', '.join(k['AccessKeyId'] for k in active)}); "
            "the rotator cannot tell which one the third party uses, so it changed nothing. Delete or "
            "deactivate the key that is not in use, then run the rotation again."
        )
    return None


def _quarantined(iam: Any, username: str, keys: list[dict]) -> RotationError | None:
    """With keep_inactive_keys, an inactive key the rotator did not create (one deactivated for an
    incident's investigation, say) is not deleted to free its slot: the user is refused instead."""
    inactive = [k["AccessKeyId"] for k in keys if k["Status"] != "Active"]
    if not inactive or os.environ.get("KEEP_INACTIVE_KEYS") != "true":
        return None
    foreign = [k for k in inactive if k not in verified_keys(iam, username)]
    if not foreign:
        return None
    return InactiveKeyKeptError(
        f"User {username} has the inactive key {', '.join(foreign)}, which this rotator did not create, and "
        "keep_inactive_keys forbids deleting it to make room for the new key; nothing was changed. Delete "
        f"it once it is no longer needed (aws iam delete-access-key --user-name '{username}' "
        f"--access-key-id {foreign[0]}), then rotate again."
    )


def _verify(username: str, access_key_id: str, secret_access_key: str, account: str | None) -> None:
    """Waits until AWS accepts the new key (IAM takes seconds to propagate it), up to a bound."""
    timeout = float(os.environ.get("KEY_VERIFICATION_TIMEOUT_SECONDS", "60"))
    sts = client("sts", aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key)
    deadline, delay = time.monotonic() + timeout, 1.0
    while True:
        try:
            arn = sts.get_caller_identity()["Arn"]
            break
        except ClientError as error:
            if error_code(error) not in _NOT_YET_VALID:
                raise
            if time.monotonic() + delay > deadline:
                raise KeyNotUsableError(
                    f"AWS still refused the new key {access_key_id} of user {username} "
                    f"({error_code(error)}) after {timeout:.0f} s; it was deleted and the old key kept."
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
    # A member account's key must authenticate in that account (its ARN's fifth field).
    if not arn.lower().endswith("/" + username.lower()) or (account and arn.split(":")[4] != account):
        raise KeyNotUsableError(
            f"The new key {access_key_id} authenticates as {arn}, not as user {username}."
        )
    log_event(_log, "key verified", username=username, access_key_id=access_key_id)
