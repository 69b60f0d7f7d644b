"""Staleness check, started by its own schedule twice a day: publishes the age of the oldest active
access key among the listed users, for the staleness alarm.

AWS/States metrics cannot tell that rotation stopped at monthly or quarterly schedules (an alarm
looks back at most 7 days), and a user whose rotation keeps failing fails every run without ever
looking "stopped". A key's age says both. When this check fails, it publishes nothing, and the
alarm treats the missing datapoint as breaching. It reads the users list as the runs do, checked
against the list Terraform wrote (issue 24): a list with parameters deleted (or added, or rewritten)
behind Terraform's back fails the check, rather than publish the age of fewer users' keys (0 for
none) and clear the alarm while the listed users' keys age."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from rotator.common import (
    bind_event,
    client,
    error_code,
    iam_client,
    listed_users_of_definition,
    log_event,
    logger,
    now,
    qualified_name,
    read_users_list,
    required_env,
)

_log = logger(__name__)

METRIC_NAME = "OldestAccessKeyAge"


def oldest_active_key(iam: Any, usernames: list[str]) -> tuple[dict | None, list[str]]:
    """The oldest active key among the users' (inactive ones are an undo window, not in use), and
    the users IAM does not know."""
    oldest, missing = None, []
    for username in usernames:
        try:
            # A user holds at most two keys: one page.
            keys = iam.list_access_keys(UserName=username)["AccessKeyMetadata"]
        except ClientError as error:
            # Each run already fails naming such a user; it has no key to grow old. Any other
            # error (access denied to an untagged user) fails the check, so that the alarm fires.
            if error_code(error) != "NoSuchEntity":
                raise
            missing.append(username)
            continue
        for key in keys:
            if key["Status"] == "Active" and (oldest is None or key["CreateDate"] < oldest["CreateDate"]):
                oldest = key
    return oldest, missing


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bind_event(event)
    users = [
        user
        for _, part in read_users_list(
            client("ssm"), required_env("USERS_PARAMETER_PATH"), listed_users_of_definition()
        )
        for user in part
    ]
    # Each account's users with its own IAM: a member account that cannot be reached fails the
    # check (MemberAccountUnreachableError names it), so that the alarm fires.
    by_account: dict[str | None, list[str]] = {}
    for user in users:
        by_account.setdefault(user.get("accountId"), []).append(user["username"])
    oldest, missing = None, []
    for account, usernames in by_account.items():
        found, gone = oldest_active_key(iam_client(account), usernames)
        missing += [qualified_name({"username": u, "accountId": account}) for u in gone]
        if found is not None and (oldest is None or found["CreateDate"] < oldest["CreateDate"]):
            oldest = {
                **found,
                "UserName": qualified_name({"username": found["UserName"], "accountId": account}),
            }
    checked_at = now()
    # No active key anywhere: nothing is getting old.
    age = 0 if oldest is None else max(0, int((checked_at - oldest["CreateDate"]).total_seconds()))
    client("cloudwatch").put_metric_data(
        Namespace=required_env("METRIC_NAMESPACE"),
        MetricData=[
            {
                "MetricName": METRIC_NAME,
                "Dimensions": [{"Name": "Rotator", "Value": required_env("ROTATOR_NAME")}],
                "Timestamp": checked_at,
                "Value": age,
                "Unit": "Seconds",
            }
        ],
    )
    result = {
        "oldestKeyAgeSeconds": age,
        "username": oldest and oldest["UserName"],
        "accessKeyId": oldest and oldest["AccessKeyId"],
        "users": len(users),
        "missingUsers": missing,
    }
    log_event(_log, "oldest active key", **result)
    return result
