"""Summaries of batches and of the run, as data. A batch's Summarize (after its hand-offs) and its
clean-up (after the run's wait) describe what happened to each of its users, within a size budget;
the run's Report adds the batches up and fails the run, naming each failed user and why, when any
user failed. Only the run fails: batches never do because a user did."""

from __future__ import annotations

from typing import Any, Iterable

from rotator.common import (
    RotationFailedError,
    bind_event,
    capped,
    client,
    log_event,
    logger,
    message_of,
    now,
    qualified_name,
    required_env,
)
from rotator.payloads import BatchSummary, UserResult

_log = logger(__name__)

# Step Functions keeps at most 32,768 characters of an error's cause, and at most 256 KB of state.
# The run's state holds every batch's summary (at most 10 batches of 100 users): each gives its
# usernames (at most 6.5 KB) and its reasons within a budget, so the run stays under 160 KB.
_MAX_RUN_MESSAGE = 30_000
_MAX_BATCH_DETAILS = 8_000
_MAX_REASON = 500
# Published by every run that reaches its report, 0 included, for the failure alarm (alarms.tf).
FAILED_USERS_METRIC = "FailedUsers"


def reason(error: str | None, cause: str | None) -> str:
    message = message_of(cause or "")
    return capped(f"{error}: {message}" if message else str(error), _MAX_REASON)


def new_summary(users: int) -> BatchSummary:
    return {
        "users": users,
        "handedOff": [],
        "uncertain": [],
        "rotated": [],
        "skipped": [],
        "failed": [],
        "details": {},
        "actions": {},
        "omitted": 0,
    }


def _spent(summary: BatchSummary) -> int:
    return sum(len(k) + len(v) + 8 for k, v in (*summary["details"].items(), *summary["actions"].items()))


def explain(summary: BatchSummary, username: str, why: str, action: str | None = None) -> None:
    """Records why a user was not rotated (and what was done about it), within the budget."""
    cost = len(username) + len(why) + 8 + (len(username) + len(action) + 8 if action else 0)
    if _spent(summary) + cost > _MAX_BATCH_DETAILS:
        summary["omitted"] += 1
        log_event(_log, "reason omitted from the summary", username=username, reason=why, action=action)
        return
    summary["details"][username] = why
    if action:
        summary["actions"][username] = action


def summarize_batch(
    results: list[UserResult], unlisted: list[str], users: list[dict] | None = None
) -> BatchSummary:
    """After the batch's hand-offs: who the clean-up takes over, who was skipped or failed, and why.
    A Map state's results are in its items' order: each result's user, from the batch's users, names
    a member account's user as "<account>/<username>"."""
    summary = new_summary(len(results) + len(unlisted))
    names = [qualified_name(u) for u in users] if users and len(users) == len(results) else None
    for index, result in enumerate(results):
        status = result["status"]
        username = names[index] if names else result["username"]
        key = {"HANDED_OFF": "handedOff", "UNCERTAIN": "uncertain", "SKIPPED": "skipped"}.get(
            status, "failed"
        )
        summary[key].append(username)  # type: ignore[literal-required]
        if result.get("halfDelivered"):
            summary.setdefault("halfDelivered", []).append(username)
        if result.get("inactiveKeysDeleted"):
            summary.setdefault("inactiveKeysDeleted", {})[username] = result["inactiveKeysDeleted"]
        if status != "HANDED_OFF":
            explain(summary, username, reason(result.get("error"), result.get("cause")))
    for username in unlisted:
        summary["skipped"].append(username)
        explain(summary, username, "UserNotListed: removed from the users list")
    log_event(_log, "batch handed off", **{k: v for k, v in summary.items() if k != "details"})
    return summary


def _grouped(entries: Iterable[tuple[str, str, str | None]]) -> list[str]:
    """'u1, u2 (reason)', and what was done about it, per distinct reason, in order of first
    appearance: at scale many users fail for one reason."""
    groups: dict[tuple[str, str | None], list[str]] = {}
    for username, why, action in entries:
        groups.setdefault((why, action), []).append(username)
    return [
        f"{', '.join(names)} ({why})" + (f": {action}" if action else "")
        for (why, action), names in groups.items()
    ]


def publish_failed_users(failed: int) -> None:
    """The run's count of users not rotated: the failure alarm's datapoint, one per run. A run
    that cannot publish it fails (the alarm then counts the run itself)."""
    client("cloudwatch").put_metric_data(
        Namespace=required_env("METRIC_NAMESPACE"),
        MetricData=[
            {
                "MetricName": FAILED_USERS_METRIC,
                "Dimensions": [{"Name": "Rotator", "Value": required_env("ROTATOR_NAME")}],
                "Timestamp": now(),
                "Value": failed,
                "Unit": "Count",
            }
        ],
    )


def report_run(batches: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "users": 0,
        "batches": len(batches),
        "rotated": [],
        "skipped": [],
        "failed": [],
        "details": {},
        "omitted": 0,
    }
    entries: list[tuple[str, str, str | None]] = []
    whole: list[str] = []  # batches that failed as a whole
    for index, batch in enumerate(batches):
        status = batch.get("status")
        if status == "CLEANUP_FAILED" and batch["batch"].get("status") == "FAILED":
            batch = {**batch["batch"], "status": "FAILED"}  # nothing of it was handed off
            status = "FAILED"
        if status == "FAILED":
            names = batch["usernames"]
            summary["users"] += len(names)
            summary["failed"] += names
            whole.append(
                f"the {len(names)} users of batch {index + 1} ({reason(batch.get('error'), batch.get('cause'))})"
            )
            continue
        part: BatchSummary = batch["batch"]["summary"] if status == "CLEANUP_FAILED" else batch  # type: ignore[assignment]
        if status == "CLEANUP_FAILED":
            # The clean-up of the whole batch failed: its handed-off users keep both keys.
            why = f"{batch.get('error')}: the clean-up failed; the old key and the secret may remain"
            for username in part["handedOff"] + part["uncertain"]:
                part["failed"].append(username)
                explain(part, username, why)
        summary["users"] += part["users"]
        for key in ("rotated", "skipped", "failed"):
            summary[key] += part[key]
        if part.get("unconfirmed"):
            # Rotated, but neither key was seen in use: the switch is not proven.
            summary.setdefault("unconfirmed", []).extend(part["unconfirmed"])
        if part.get("inactiveKeysDeleted"):
            summary.setdefault("inactiveKeysDeleted", {}).update(part["inactiveKeysDeleted"])
        summary["details"].update(part["details"])
        summary["omitted"] += part["omitted"]
        for username in part["failed"]:
            why = part["details"].get(username, "the reason is in the batch's logs")
            entries.append((username, why, part["actions"].get(username)))
    log_event(_log, "run summary", **summary)
    failed = len(summary["failed"])
    publish_failed_users(failed)
    if failed:
        text = f"{failed} of {summary['users']} users not rotated: " + "; ".join(whole + _grouped(entries))
        if summary.get("inactiveKeysDeleted"):
            deleted = ", ".join(f"{u} ({' '.join(k)})" for u, k in summary["inactiveKeysDeleted"].items())
            text += f". Inactive keys deleted to make room for new ones: {deleted}"
        if len(text) > _MAX_RUN_MESSAGE:
            text = (
                text[: _MAX_RUN_MESSAGE - 120]
                + "… (the rest: every user's reason is in the batches' outputs)"
            )
        raise RotationFailedError(text)
    return summary


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bind_event(event)
    if "batches" in event:
        return report_run(event["batches"])
    return dict(summarize_batch(event["results"], event.get("unlisted") or [], event.get("users")))
