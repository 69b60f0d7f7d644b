"""ListUsers and LoadUsers states. The users list is stored in the SSM parameters under
USERS_PARAMETER_PATH, one per user: a JSON object with the username and, when set, its metadata.

ListUsers (the run) selects the users this run rotates and splits them into batches of usernames,
each naming the parameters that hold its users: the run's state never carries metadata, so it stays
small at any number of users. LoadUsers (a batch) reads the batch's users with their metadata and
the identity of the rotation (the run's execution), which the per-user lock records.

Both check what they read against the list Terraform wrote (issue 24): a parameter added, rewritten
or deleted behind Terraform's back refuses the run (UsersListTamperedError, naming it). ListUsers
has the list in its parameters (the run's definition); LoadUsers reads it from the rotation state
machine's current definition (common.listed_users_of_definition)."""

from __future__ import annotations

from typing import Any

from rotator.common import (
    AmbiguousUserError,
    UserNotListedError,
    account_of_arn,
    bind_event,
    client,
    listed_users,
    listed_users_of_definition,
    log_event,
    logger,
    qualified_name,
    read_users_list,
    refuse_if_tampered,
    required_env,
    users_of,
)

_log = logger(__name__)


def _read_names(ssm: Any, names: list[str]) -> list[tuple[str, list[dict]]]:
    """The batch's parameters, checked against the list Terraform wrote now: one it no longer lists
    and that is gone was removed by `terraform apply` since the run started (its users are reported
    unlisted); one it lists must be there, as Terraform wrote it."""
    path = required_env("USERS_PARAMETER_PATH")
    listed = listed_users_of_definition()
    found: list[dict[str, Any]] = []
    for start in range(0, len(names), 10):  # GetParameters takes at most 10 names
        found += ssm.get_parameters(Names=names[start : start + 10])["Parameters"]
    expected = [
        n[len(path) + 1 :] for n in names if n.startswith(path + "/") and n[len(path) + 1 :] in listed
    ]
    refuse_if_tampered(path, found, listed, expected)
    return sorted(users_of(p) for p in found)


def _batches(
    parts: list[tuple[str, list[dict]]], wanted: str | None, wanted_account: str | None, size: int
) -> list[dict]:
    """Batches of users' names ("<account>/<username>" for a member account's user), each with the
    parameters that hold them; only the wanted user (of the wanted account, if given) when asked."""
    listed = [(name, user) for name, users in parts for user in users]
    # Once each: a user read twice (say, while `terraform apply` moves it between parameters) would
    # otherwise be rotated by two branches of one run at once. IAM names are case-insensitive.
    unique: dict[str, tuple[str, dict]] = {}
    for name, user in listed:
        unique.setdefault(qualified_name(user).lower(), (name, user))
    chosen = list(unique.values())
    if wanted_account is not None:
        chosen = [(n, u) for n, u in chosen if u.get("accountId", "") == wanted_account]
    if wanted is not None:
        # IAM user names are case-insensitive.
        chosen = [(n, u) for n, u in chosen if u["username"].lower() == str(wanted).lower()]
        if len(chosen) > 1:
            accounts = ", ".join(u.get("accountId") or "this account" for _, u in chosen)
            raise AmbiguousUserError(
                f"User {wanted!r} is listed in several accounts ({accounts}); start the run with "
                f'{{"username": "{wanted}", "accountId": "<account id>"}} to rotate one of them.'
            )
    batches = []
    for start in range(0, len(chosen), size):
        chunk = chosen[start : start + size]
        batches.append(
            {
                "parameters": sorted({name for name, _ in chunk}),
                "usernames": [qualified_name(user) for _, user in chunk],
            }
        )
    return batches


def list_batches(event: dict[str, Any]) -> dict[str, Any]:
    run_input = event.get("input") or {}
    path = required_env("USERS_PARAMETER_PATH")
    wanted = run_input.get("username")
    # This account's users carry no account in the list: naming this account is naming none.
    wanted_account = run_input.get("accountId")
    if wanted_account is not None and str(wanted_account) == account_of_arn(event["executionArn"]):
        wanted_account = ""  # this account's users, who carry none
    # The run's own definition holds the list Terraform wrote (event["listedUsers"]).
    parts = read_users_list(client("ssm"), path, listed_users(str(event["listedUsers"])))
    batches = _batches(parts, wanted, wanted_account, int(required_env("BATCH_SIZE")))
    if wanted is not None and not batches:
        where = f" in account {run_input['accountId']}" if run_input.get("accountId") else ""
        raise UserNotListedError(
            f"User {wanted!r}{where} is not in the users list of this rotator "
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
        qualified_name(user): user
        for _, users in _read_names(client("ssm"), event["parameters"])
        for user in users
    }
    users = [by_name[name] for name in dict.fromkeys(event["usernames"]) if name in by_name]
    # Removed from the list since the run started (a `terraform apply` in between): not rotated.
    unlisted = [name for name in event["usernames"] if name not in by_name]
    log_event(_log, "batch loaded", usernames=[qualified_name(u) for u in users], unlisted=unlisted)
    return {"users": users, "unlisted": unlisted, "rotation": event["rotation"]}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bind_event(event)
    return load_users(event) if "usernames" in event else list_batches(event)
