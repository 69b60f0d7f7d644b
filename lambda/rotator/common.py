"""Helpers shared by the rotator's Lambda functions: clients, logging, the per-user rotation
record, errors."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from contextvars import ContextVar
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# Tolerated difference between the Lambda's clock and IAM's key creation dates.
CLOCK_SKEW = timedelta(seconds=60)

# Standard mode retries throttling and transient errors with exponential backoff and jitter.
_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8})


def client(service: str, config: Config | None = None, **kwargs: Any) -> Any:
    return boto3.client(service, config=_BOTO_CONFIG.merge(config) if config else _BOTO_CONFIG, **kwargs)


# What every log line of the current invocation carries: the run (execution ARN) and the user.
_bound: ContextVar[dict[str, Any]] = ContextVar("log_fields")
CORRELATION_FIELDS = ("execution_arn", "username")


class _Correlation(logging.Filter):
    """Puts the bound run and user on every record of the rotator's loggers, as `extra` fields: Lambda's
    JSON log format (the functions' logging_config) writes each as a field of the line."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in {**dict.fromkeys(CORRELATION_FIELDS), **_bound.get({})}.items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


_CORRELATION = _Correlation()


def logger(name: str) -> logging.Logger:
    """A logger whose records reach Lambda's own handler (its JSON lines, at the function's application
    log level) with the bound run and user."""
    log = logging.getLogger(name)
    if _CORRELATION not in log.filters:
        log.addFilter(_CORRELATION)
    return log


def bind(execution_arn: str | None = None, username: str | None = None, **fields: Any) -> None:
    """Sets what every later line of this invocation carries, replacing what was bound before (a
    warm Lambda environment runs the next invocation in the same process)."""
    _bound.set({"execution_arn": execution_arn, "username": username, **fields})


def bind_event(event: Any) -> None:
    """Binds the run's execution ARN and the user from a state's input, wherever the workflow puts
    them: a run's own input, a batch's or a user's rotation, a user."""
    event = event if isinstance(event, dict) else {}
    rotation = event.get("rotation") if isinstance(event.get("rotation"), dict) else {}
    user = event.get("user") if isinstance(event.get("user"), dict) else event
    bind(
        execution_arn=rotation.get("executionArn") or event.get("executionArn"),
        username=user.get("username"),
    )


def log_event(log: logging.Logger, message: str, **fields: Any) -> None:
    """Logs one line with these fields. Callers pass key ids and names only, never secret values."""
    log.info(message, extra=fields)


def required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"environment variable {name} is not set")
    return value


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def now() -> datetime:
    return datetime.now(timezone.utc)


def secret_name(username: str, account_id: str | None = None) -> str:
    """The user's secret, which is also its rotation lock. IAM names may hold ',' (not allowed in
    secret names) but never '/' (allowed), so mapping one to the other keeps names distinct. A
    member account's user's secret is "<name>@<account>/<username>": any secret-name character
    can follow this account's prefix "<name>/", but '@' cannot follow the name itself (nor end
    another instance's name), so the two never meet."""
    prefix = required_env("SECRET_NAME_PREFIX")
    if account_id is not None:
        prefix = f"{prefix.rstrip('/')}@{account_id}/"
    return prefix + username.replace(",", "/")


# --- Users of member accounts ----------------------------------------------------------------
# A user of another account than the rotator's is named "<account>/<username>" wherever the run
# names users (batches, summaries, the report): IAM names never hold '/'. This account's users keep
# their bare names.


def qualified_name(user: dict[str, Any]) -> str:
    account = user.get("accountId")
    return f"{account}/{user['username']}" if account else str(user["username"])


def split_name(name: str) -> tuple[str | None, str]:
    """(account or None for this account, username) of a name as qualified_name writes it."""
    account, _, username = name.rpartition("/")
    return account or None, username


def account_of_arn(arn: str) -> str:
    return arn.split(":")[4]


def member_account(user: dict[str, Any], rotation: dict[str, Any]) -> str | None:
    """The user's account when it is not the rotator's own (whose id the run's ARN holds), else None."""
    account = user.get("accountId")
    return account if account and account != account_of_arn(rotation["executionArn"]) else None


class MemberAccountUnreachableError(Exception):
    """The rotator could not assume a member account's role: every user of that account fails
    with this, the other accounts' users go on."""


class UserNotInMemberRoleError(Exception):
    pass


_members: dict[str, tuple[Any, datetime]] = {}
_members_lock = threading.Lock()


def member_role_arn(account_id: str) -> str:
    """The role this function assumes in the member account: each function that acts on users'
    keys has its own there (`<name>-member-<function>`, with only what that function does), and is
    told its ARN, with "{account}" for the account."""
    return required_env("MEMBER_ROLE_ARN").replace("{account}", account_id)


def iam_client(account_id: str | None) -> Any:
    """IAM of the rotator's account (None), or of a member account through this function's own member
    role there, assumed once per account while its credentials last (a batch's users share them)."""
    if account_id is None:
        return client("iam")
    role = member_role_arn(account_id)
    with _members_lock:
        cached = _members.get(role)
        if cached is not None and cached[1] > now() + timedelta(minutes=5):
            return cached[0]
        try:
            credentials = client("sts").assume_role(
                RoleArn=role,
                RoleSessionName=os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "iam-credentials-rotator")[:64],
            )["Credentials"]
        except ClientError as error:
            # "<name>-member-<function>" (or "<name>-member", before issue 24's split).
            rotator = role.rsplit("/", 1)[-1].rpartition("-member")[0]
            raise MemberAccountUnreachableError(
                f"Account {account_id} cannot be reached: assuming role {role} failed "
                f"({error_code(error)}). Apply modules/member-account in account {account_id} with "
                f'name = "{rotator}", rotator_account_id = "{_own_account()}" and the rotator\'s '
                f"role_path (at this version: it creates one role per rotator function). {error}"
            ) from None
        iam = client(
            "iam",
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        _members[role] = (iam, credentials["Expiration"])
        return iam


def _own_account() -> str:
    """Only for an error message: the account of the rotator's own credentials."""
    try:
        return str(client("sts").get_caller_identity()["Account"])
    except ClientError:
        return "<the rotator's account id>"


def user_out_of_reach(account_id: str, username: str, error: ClientError) -> UserNotInMemberRoleError:
    return UserNotInMemberRoleError(
        f"User {username} of account {account_id} is out of the member role's reach "
        f"({member_role_arn(account_id)}): add it to modules/member-account's usernames there "
        f"(or tag it, with user_tag_key). {error}"
    )


def read_record(secrets: Any, name: str) -> dict | None:
    """The user's rotation record (the secret's JSON), or None when no rotation holds the user: no
    secret, or one deleted by hand and waiting out its recovery window (not a lock of ours)."""
    try:
        return json.loads(secrets.get_secret_value(SecretId=name)["SecretString"])
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return None
        if error_code(error) == "InvalidRequestException" and deleted_on(secrets, name):
            return None
        raise


def deleted_on(secrets: Any, name: str) -> datetime | None:
    """When the secret was scheduled for deletion, or None if it is not."""
    try:
        return secrets.describe_secret(SecretId=name).get("DeletedDate")
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return None
        raise


def keys_created_by(iam: Any, username: str, record: dict) -> list[str]:
    """Keys this rotation created. Once stored, the record names its key. Before that (a crash, or a
    lost CreateAccessKey response), they are the keys that were not there when an attempt marked the
    record "creating", just before it called CreateAccessKey. Without that mark no attempt created a
    key: a new key is someone else's."""
    if "AccessKeyId" in record:
        return [record["AccessKeyId"]]
    rotation = record["Rotation"]
    creating = rotation.get("Creating")
    if not creating:
        return []
    if "KeyIds" in creating:  # the keys there when the attempt called CreateAccessKey
        return [
            key["AccessKeyId"]
            for key in list_keys(iam, username)
            if key["AccessKeyId"] not in creating["KeyIds"]
        ]
    since = datetime.fromisoformat(creating["At"]) - CLOCK_SKEW  # a record written before 2.0
    return [
        key["AccessKeyId"]
        for key in list_keys(iam, username)
        if key["AccessKeyId"] not in rotation["KeyIdsBefore"] and key["CreateDate"] >= since
    ]


def list_keys(iam: Any, username: str) -> list[dict]:
    return iam.list_access_keys(UserName=username)["AccessKeyMetadata"]


def delete_keys(iam: Any, username: str, key_ids: list[str]) -> None:
    """Deletes the keys; one already gone is fine, a user gone is not. Safe to repeat."""
    for key_id in key_ids:
        try:
            iam.delete_access_key(UserName=username, AccessKeyId=key_id)
        except ClientError as error:
            if error_code(error) != "NoSuchEntity":
                raise
            check_user_exists(iam, username, key_ids)


def check_user_exists(iam: Any, username: str, key_ids: list[str]) -> None:
    """NoSuchEntity names a missing key or a missing user alike: ask IAM which."""
    try:
        list_keys(iam, username)
    except ClientError as error:
        if error_code(error) != "NoSuchEntity":
            raise
        raise UserGoneError(
            f"User {username} no longer exists under that name (renamed or deleted during the rotation): "
            f"its keys {', '.join(key_ids)} could not be removed. If it was renamed, delete the key the "
            "third party does not use from the renamed user by hand, and list the new name in `users`."
        ) from None


def in_flight_tag() -> tuple[str, str]:
    """The tag a user wears while this rotator rotates it ("iam-credentials-rotator/<name>" =
    "rotating"): RollBack and CleanUp are granted the user's keys by it, so a rotation under way can
    finish or undo even if `terraform apply` stops listing the user meanwhile."""
    key, _, value = required_env("IN_FLIGHT_TAG").partition("=")
    return key, value


def verified_tag(access_key_id: str) -> str:
    """The tag key that says this rotator created and verified the key: the usage check discounts an
    early use of such a key as the rotator's own check of it, and of no other key."""
    return f"{in_flight_tag()[0]}/{access_key_id}"


def verified_keys(iam: Any, username: str, present: set[str] | None = None) -> set[str]:
    """The user's keys this rotator created and verified (read only when a use needs explaining).
    Given the user's `present` keys, the marks of keys deleted by someone else are removed meanwhile,
    so that they never add up to IAM's 50 tags."""
    prefix = in_flight_tag()[0] + "/"
    tags = iam.list_user_tags(UserName=username)["Tags"]
    marked = {t["Key"][len(prefix) :] for t in tags if t["Key"].startswith(prefix)}
    litter = sorted(marked - present) if present is not None else []
    if litter:
        try:
            iam.untag_user(UserName=username, TagKeys=[verified_tag(k) for k in litter])
        except ClientError as error:
            log_event(logger(__name__), "marks of deleted keys left", username=username, error=str(error))
    return marked


def mark_in_flight(iam: Any, username: str, verified: str | None = None) -> None:
    """Tags the user before its rotation takes the lock, so that whatever the rotation creates stays
    within its undo's reach; once its key is verified, tags it again (a rotation that released the
    user meanwhile may have removed the tag) with the key's mark of origin (`verified_tag`)."""
    key, value = in_flight_tag()
    tags = [{"Key": key, "Value": value}]
    if verified:
        tags.append({"Key": verified_tag(verified), "Value": "verified"})
    try:
        iam.tag_user(UserName=username, Tags=tags)
    except ClientError as error:
        if verified and error_code(error) == "LimitExceeded":
            # No room for the mark: an early use of this key will count as the third party's, which
            # only errs towards keeping a key.
            mark_in_flight(iam, username)
            return
        if error_code(error) == "AccessDenied":
            raise InFlightTagDeniedError(
                f"This rotator may not tag user {username} ({key} = {value}), which it does while it rotates a "
                "user; nothing was changed. Let iam:TagUser and iam:UntagUser through role_permissions_boundary_arn, "
                f"and, for a user of a member account, apply modules/member-account there at this version. {error}"
            ) from error
        if error_code(error) != "LimitExceeded":
            raise
        raise UserTagLimitError(
            f"User {username} has as many tags as IAM allows (50), and this rotator tags a user while it "
            f"rotates it ({key} = {value}, removed at the end) so that its undo and clean-up keep their "
            f"permissions; nothing was changed. Remove one of the user's tags. {error}"
        ) from error


def release(iam: Any, secrets: Any, name: str, username: str, gone: list[str] | None = None) -> None:
    """Ends the user's rotation: deletes its secret (the lock), then the user's in-flight tag, and
    the marks of origin of the keys that are `gone` (in the same call). The tag goes last, so no
    lock is ever left without it. The rotation's outcome is decided by then: if the tag cannot be
    removed, it is logged and left (it only keeps RollBack's and CleanUp's reach over a user until
    the user's next rotation removes it)."""
    key, _ = in_flight_tag()
    delete_secret(secrets, name)
    try:
        iam.untag_user(UserName=username, TagKeys=[key, *(verified_tag(k) for k in gone or [])])
    except ClientError as error:
        log_event(logger(__name__), "in-flight tag left", username=username, tag_key=key, error=str(error))


# Put on a user's secret by CleanUp after a half-written hand-off (PartiallyDeliveredError): the secret
# holds the only copy of the new secret key, kept until the tag's date for the next run to resume the
# hand-off with; the lifetime is bounded, from the first half-written hand-off, however many resume.
HALF_DELIVERED_TAG = "iam-credentials-rotator:half-delivered-keep-until"
HALF_DELIVERED_KEEP = timedelta(days=7)


def secret_tags(secrets: Any, name: str) -> dict[str, str]:
    try:
        tags = secrets.describe_secret(SecretId=name).get("Tags") or []
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        return {}
    return {t["Key"]: t["Value"] for t in tags}


# Put on the user's secret by HandOff in acknowledged mode once the credentials handler returned: the
# handler may have written the key, so a later refusal or silence does not roll it back.
HANDLER_RETURNED_TAG = "iam-credentials-rotator:handler-returned"


def handler_returned(secrets: Any, name: str) -> bool:
    return HANDLER_RETURNED_TAG in secret_tags(secrets, name)


def delete_secret(secrets: Any, name: str) -> None:
    try:
        secrets.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise


class RotationError(Exception):
    """A rotation that cannot go on; its class name becomes the Step Functions error name."""


class UserNotListedError(RotationError):
    pass


class UsersListTamperedError(RotationError):
    """The users list differs from the one Terraform wrote: a parameter added, rewritten or deleted
    behind Terraform's back. The run (or the staleness check) is refused, naming each parameter."""


class AmbiguousUserError(RotationError):
    """An on-demand run names a user listed in several accounts without saying which."""


class TwoActiveKeysError(RotationError):
    pass


class RotationInProgressError(RotationError):
    """Another execution is rotating this user: leave it alone."""


class AlreadyRotatedError(RotationError):
    """The user was rotated after this scheduled run was due (an EventBridge retry)."""


class StaleRotationError(RotationError):
    pass


class KeyNotUsableError(RotationError):
    pass


class UserNotTaggedError(RotationError):
    pass


class UserPathMismatchError(RotationError):
    """The user exists at another IAM path than its entry in `users` declares."""


class RotationFailedError(RotationError):
    pass


class UserGoneError(RotationError):
    pass


class AttemptInProgressError(RotationError):
    """An earlier attempt of this rotation may still be creating the key: retry later."""


class SecretPendingDeletionError(RotationError):
    pass


class UserTagLimitError(RotationError):
    pass


class InFlightTagDeniedError(RotationError):
    pass


class InactiveKeyKeptError(RotationError):
    """The user has an inactive key, and keep_inactive_keys forbids deleting it to free its slot."""


def message_of(cause: str) -> str:
    """The message inside a Step Functions cause: a Lambda error's JSON, or a failed child
    execution's description whose own cause is one; else the cause itself."""
    for _ in range(2):
        try:
            parsed = json.loads(cause)
        except (ValueError, TypeError):
            return cause
        if not isinstance(parsed, dict):
            return cause
        if "errorMessage" in parsed:
            return str(parsed["errorMessage"])
        # A .sync child's description, as AWS gives it: Cause (and Status, Input, ...).
        inner = parsed.get("Cause", parsed.get("cause"))
        if not isinstance(inner, str):
            return cause
        cause = inner
    return cause


def capped(text: str, limit: int = 1000) -> str:
    """Step Functions keeps every user's result in its batch's state: keep messages short."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def users_of(parameter: dict[str, Any]) -> tuple[str, list[dict]]:
    """A parameter holds one user's JSON object. Before 2.0 one held a JSON array of users: read both,
    so that a run during the upgrade's apply still finds everyone."""
    value = json.loads(parameter["Value"])
    return parameter["Name"], value if isinstance(value, list) else [value]


def listed_users(text: str) -> dict[str, str]:
    """The list Terraform wrote, "<parameter id>=<sha256 of its value>,...": parameter id -> digest."""
    return dict(entry.split("=", 1) for entry in text.split(",") if entry)


def listed_users_of_definition() -> dict[str, str]:
    """The list Terraform wrote, as the rotation state machine's current definition holds it (ListUsers'
    `listedUsers`): only Terraform's deployer changes a definition (states:UpdateStateMachine), not
    whoever may write the users' parameters. The current one, not a batch's or the run's own copy, so
    that a batch started after a `terraform apply` checks the list that apply wrote."""
    definition = client("stepfunctions").describe_state_machine(
        stateMachineArn=required_env("ROTATION_STATE_MACHINE_ARN")
    )["definition"]
    return listed_users(str(json.loads(definition)["States"]["ListUsers"]["Parameters"]["listedUsers"]))


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def tampered(
    path: str, found: list[dict[str, Any]], listed: dict[str, str], expected: list[str]
) -> list[str]:
    """What differs between the parameters `found` under `path` and the list Terraform wrote (`listed`):
    a parameter it did not write, one whose value is not the one it wrote, and each of the `expected`
    ids (those that should have been found) that is missing."""
    problems = []
    names = {p["Name"] for p in found}
    for parameter in sorted(found, key=lambda p: p["Name"]):
        name = parameter["Name"]
        id_ = name[len(path) + 1 :] if name.startswith(path + "/") else None
        if id_ is None or id_ not in listed:
            problems.append(f"{name} was added outside Terraform")
        elif digest(parameter["Value"]) != listed[id_]:
            problems.append(
                f"{name} was rewritten outside Terraform (its value is not the one Terraform wrote)"
            )
    for id_ in sorted(expected):
        if f"{path}/{id_}" not in names:
            problems.append(f"{path}/{id_} was deleted outside Terraform")
    return problems


def refuse_if_tampered(
    path: str, found: list[dict[str, Any]], listed: dict[str, str], expected: list[str]
) -> None:
    problems = tampered(path, found, listed, expected)
    if problems:
        log_event(logger(__name__), "users list tampered", problems=problems)
        raise UsersListTamperedError(
            capped(
                "; ".join(problems)
                + f". The users list (SSM parameters under {path}) is not the one Terraform wrote, so nothing "
                "was rotated: find who changed it (CloudTrail: ssm:PutParameter, ssm:DeleteParameter), then "
                "run `terraform apply` to write it again.",
                2000,
            )
        )


def read_users_list(ssm: Any, path: str, listed: dict[str, str]) -> list[tuple[str, list[dict]]]:
    """The users list: (parameter name, its users) for every parameter under `path`, by name, once
    checked against the list Terraform wrote (`listed`): any difference refuses the read
    (UsersListTamperedError) before a value is even parsed."""
    found: list[dict[str, Any]] = []
    for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=path, Recursive=False):
        found += page["Parameters"]
    refuse_if_tampered(path, found, listed, list(listed))
    return sorted(users_of(p) for p in found)
