"""RotateKey state: takes the user's rotation lock, creates the new access key, stores it in the
user's secret and checks that AWS accepts it.

Safe to run twice: a second attempt of the same rotation resumes from what the first one stored.
Returns key ids and the secret's name only; the secret access key never leaves this function
except into Secrets Manager.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from rotator.common import (
    AlreadyRotatedError,
    KeyNotUsableError,
    RotationInProgressError,
    StaleRotationError,
    TwoActiveKeysError,
    UserNotTaggedError,
    client,
    delete_keys,
    discard,
    error_code,
    keys_created_by,
    log_event,
    logger,
    now,
    read_record,
    secret_name,
)

_log = logger(__name__)
# Errors STS gives for a key that IAM has not yet propagated.
_NOT_YET_VALID = {
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "AuthFailure",
    "UnrecognizedClientException",
}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    username, rotation = event["username"], event["rotation"]
    iam, secrets = client("iam"), client("secretsmanager")
    name = secret_name(username)
    keys = _keys_in_reach(iam, username)

    record, fresh = _lock(secrets, name, username, rotation, keys)
    try:
        if fresh:
            _check_can_rotate(username, rotation, keys)
        else:
            if "AccessKeyId" not in record:
                # An earlier attempt died between creating its key and storing it: nobody has that key.
                unstored = keys_created_by(iam, username, record)
                delete_keys(iam, username, unstored)
                log_event(_log, "unstored keys deleted", username=username, access_key_ids=unstored)
            keys = iam.list_access_keys(UserName=username)["AccessKeyMetadata"]
        if record.get("AccessKeyId") not in {k["AccessKeyId"] for k in keys}:
            record.pop("AccessKeyId", None)
            # An inactive key is no one's working key; it only takes the slot the new key needs.
            for key in keys:
                if key["Status"] != "Active":
                    iam.delete_access_key(UserName=username, AccessKeyId=key["AccessKeyId"])
                    log_event(
                        _log, "inactive key deleted", username=username, access_key_id=key["AccessKeyId"]
                    )
            new_key = iam.create_access_key(UserName=username)["AccessKey"]
            record.update(
                AccessKeyId=new_key["AccessKeyId"],
                SecretAccessKey=new_key["SecretAccessKey"],
                UserName=new_key["UserName"],
                CreateDate=new_key["CreateDate"].isoformat(),
            )
            log_event(_log, "key created", username=username, access_key_id=record["AccessKeyId"])
            secrets.put_secret_value(SecretId=name, SecretString=json.dumps(record))
            log_event(
                _log,
                "secret stored",
                username=username,
                access_key_id=record["AccessKeyId"],
                secret_name=name,
            )
        _verify(username, record["AccessKeyId"], record["SecretAccessKey"])
    except Exception:
        # Nothing was handed off: remove what this rotation created, keep the user's keys.
        discard(iam, secrets, username, name, [record["AccessKeyId"]] if "AccessKeyId" in record else [])
        log_event(_log, "rotation undone", username=username, access_key_id=record.get("AccessKeyId"))
        raise

    handler_event = {"username": username, "secretName": name}
    if event.get("metadata") is not None:
        handler_event["metadata"] = event["metadata"]
    return {
        "username": username,
        "rotation": rotation,
        "newAccessKeyId": record["AccessKeyId"],
        "oldAccessKeyIds": record["Rotation"]["ActiveKeyIdsBefore"],
        "secretName": name,
        "handlerEvent": handler_event,
    }


def _keys_in_reach(iam: Any, username: str) -> list[dict]:
    """The user's keys; the first call on the user, so a user out of the rotator's reach fails here,
    before anything is created."""
    try:
        return iam.list_access_keys(UserName=username)["AccessKeyMetadata"]
    except ClientError as error:
        tag = os.environ.get("USER_TAG")
        if error_code(error) != "AccessDenied" or not tag:
            raise
        key, _, value = tag.partition("=")
        raise UserNotTaggedError(
            f"User {username} is out of this rotator's reach: tag it {key} = {value} (user_tag_key). {error}"
        ) from error


def _lock(secrets: Any, name: str, username: str, rotation: dict, keys: list[dict]) -> tuple[dict, bool]:
    """Creates the user's secret as this rotation's lock, or finds this rotation's own from an
    earlier attempt. Returns (record, True if taken now)."""
    record = {
        "UserName": username,
        "Rotation": {
            "Id": rotation["id"],
            "ExecutionArn": rotation["executionArn"],
            "StartedAt": now().isoformat(),
            "KeyIdsBefore": [k["AccessKeyId"] for k in keys],
            "ActiveKeyIdsBefore": [k["AccessKeyId"] for k in keys if k["Status"] == "Active"],
        },
    }
    arguments = {
        "Name": name,
        "Description": f"Access key of IAM user {username} being rotated; read by its credentials handler.",
        "SecretString": json.dumps(record),
    }
    if os.environ.get("KMS_KEY_ID"):
        arguments["KmsKeyId"] = os.environ["KMS_KEY_ID"]
    for attempt in range(6):
        try:
            secrets.create_secret(**arguments)
            log_event(_log, "lock taken", username=username, secret_name=name, rotation=rotation["id"])
            return record, True
        except ClientError as error:
            if error_code(error) == "InvalidRequestException" and "scheduled for deletion" in str(error):
                time.sleep(2**attempt)  # the last rotation's secret is still being deleted
                continue
            if error_code(error) != "ResourceExistsException":
                raise
        held = read_record(secrets, name)
        if held is None:
            continue  # released meanwhile
        if held["Rotation"]["Id"] == rotation["id"]:
            log_event(_log, "resuming", username=username, rotation=rotation["id"])
            return held, False
        _refuse(username, name, held)
    raise RuntimeError(f"could not create secret {name}: it kept being deleted and recreated")


def _refuse(username: str, name: str, held: dict) -> None:
    holder = held["Rotation"]["ExecutionArn"]
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
    raise StaleRotationError(
        f"User {username} was left mid-rotation by execution {holder} ({status}): secret {name} still holds "
        f"key {held.get('AccessKeyId', '(none created)')}. Check which of the user's keys the third party "
        f"uses, delete the other, then delete the secret: aws secretsmanager delete-secret --secret-id "
        f"'{name}' --force-delete-without-recovery"
    )


def _check_can_rotate(username: str, rotation: dict, keys: list[dict]) -> None:
    active = [k for k in keys if k["Status"] == "Active"]
    scheduled = rotation.get("scheduledTime")
    if scheduled:
        due = datetime.fromisoformat(scheduled.replace("Z", "+00:00"))
        newer = [k["AccessKeyId"] for k in active if k["CreateDate"] >= due]
        if newer:
            raise AlreadyRotatedError(
                f"User {username} already has key {newer[0]}, created after this scheduled run was due "
                f"({scheduled}); not rotating twice."
            )
    if len(active) > 1:
        raise TwoActiveKeysError(
            f"User {username} has two active access keys ({', '.join(k['AccessKeyId'] for k in active)}); "
            "the rotator cannot tell which one the third party uses, so it changed nothing. Delete or "
            "deactivate the key that is not in use, then run the rotation again."
        )


def _verify(username: str, access_key_id: str, secret_access_key: str) -> None:
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
    if not arn.lower().endswith("/" + username.lower()):
        raise KeyNotUsableError(
            f"The new key {access_key_id} authenticates as {arn}, not as user {username}."
        )
    log_event(_log, "key verified", username=username, access_key_id=access_key_id)
