"""ListUsers and LoadUsers states. The users list is stored in the SSM parameters under
USERS_PARAMETER_PATH, one per user: a JSON object with the username and, when set, its metadata.

ListUsers (the run) selects the users this run rotates and splits them into batches of usernames,
each naming the parameters that hold its users: the run's state never carries metadata, so it stays
small at any number of users. LoadUsers (a batch) reads the batch's users with their metadata and
the identity of the rotation (the run's execution), which the per-user lock records."""

from __future__ import annotations

from typing import Any

from rotator.common import (
    UserNotListedError,
    bind_event,
    client,
    log_event,
    logger,
    read_users_list,
    required_env,
    users_of,
)

_log = logger(__name__)


def _read_names(ssm: Any, names: list[str]) -> list[tuple[str, list[dict]]]:
    parts = []
    for start in range(0, len(names), 10):  # GetParameters takes at most 10 names
        found = ssm.get_parameters(Names=names[start : start + 10])["Parameters"]
        parts += [users_of(p) for p in found]
    return sorted(parts)


def _batches(parts: list[tuple[str, list[dict]]], wanted: str | None, size: int) -> list[dict]:
    listed = [(name, user["username"]) for name, users in parts for user in users]
    # Once each: a user read twice (say, while `terraform apply` moves it between parameters) would
    # otherwise be rotated by two branches of one run at once. IAM names are case-insensitive.
    unique: dict[str, tuple[str, str]] = {}
    for name, username in listed:
        unique.setdefault(username.lower(), (name, username))
    listed = list(unique.values())
    if wanted is not None:
        # IAM user names are case-insensitive.
        listed = [(name, username) for name, username in listed if username.lower() == str(wanted).lower()]
    batches = []
    for start in range(0, len(listed), size):
        chunk = listed[start : start + size]
        batches.append(
            {
                "parameters": sorted({name for name, _ in chunk}),
                "usernames": [username for _, username in chunk],
            }
        )
    return batches


def list_batches(event: dict[str, Any]) -> dict[str, Any]:
    run_input = event.get("input") or {}
    path = required_env("USERS_PARAMETER_PATH")
    wanted = run_input.get("username")
    batches = _batches(read_users_list(client("ssm"), path), wanted, int(required_env("BATCH_SIZE")))
    if wanted is not None and not batches:
        raise UserNotListedError(
            f"User {wanted!r} is not in the users list of this rotator "
            f"(SSM parameters under {path}); add it to the module's `users` input first."
        )
    rotation = {"id": event["executionName"], "executionArn": event["executionArn"]}
    if run_input.get("scheduledTime"):
        rotation["scheduledTime"] = run_input["scheduledTime"]
    log_event(
        _log,
        "users selected",
        users=sum(len(b["usernames"]) for b in batches),
        batches=len(batches),
        rotation=rotation,
    )
    return {"batches": batches, "rotation": rotation}


def load_users(event: dict[str, Any]) -> dict[str, Any]:
    by_name = {
        user["username"]: user
        for _, users in _read_names(client("ssm"), event["parameters"])
        for user in users
    }
    users = [by_name[name] for name in dict.fromkeys(event["usernames"]) if name in by_name]
    # Removed from the list since the run started (a `terraform apply` in between): not rotated.
    unlisted = [name for name in event["usernames"] if name not in by_name]
    log_event(_log, "batch loaded", usernames=[u["username"] for u in users], unlisted=unlisted)
    return {"users": users, "unlisted": unlisted, "rotation": event["rotation"]}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bind_event(event)
    return load_users(event) if "usernames" in event else list_batches(event)
