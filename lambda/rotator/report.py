"""Report state, of a batch and of the run. A batch's Report fails the batch, naming each failed
user and why, when any user failed; otherwise it returns the batch's summary. The run's Report
adds the batches up, and fails the run the same way when any batch failed."""

from __future__ import annotations

import json
import re
from typing import Any

from rotator.common import RotationFailedError, log_event, logger

_log = logger(__name__)

# Step Functions keeps at most 32,768 characters of an error's cause.
_MAX_MESSAGE = 30_000
_MAX_REASON = 500
_FAILED = re.compile(r"^(\d+) of (\d+) users not rotated: (.*)$", re.DOTALL)


def _message_of(cause: str) -> str:
    """The message inside a cause: a Lambda error's JSON, or a failed child execution's
    description whose own cause is one."""
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


def _reason(result: dict) -> str:
    cause = _message_of(result.get("cause") or "")
    reason = f"{result.get('error')}: {cause}" if cause else str(result.get("error"))
    return reason if len(reason) <= _MAX_REASON else reason[: _MAX_REASON - 1] + "…"


def _fail(failed: int, users: int, reasons: list[str]) -> None:
    message = f"{failed} of {users} users not rotated: " + "; ".join(reasons)
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 40] + "… (the rest in the batches' executions)"
    raise RotationFailedError(message)


def report_batch(results: list[dict], unlisted: list[str]) -> dict[str, Any]:
    results = results + [
        {
            "username": name,
            "status": "SKIPPED",
            "error": "UserNotListed",
            "cause": "removed from the users list",
        }
        for name in unlisted
    ]
    by_status: dict[str, list[str]] = {}
    for result in results:
        by_status.setdefault(result["status"], []).append(result["username"])
    summary = {
        "users": len(results),
        **{status.lower(): names for status, names in sorted(by_status.items())},
    }
    summary["details"] = {r["username"]: _reason(r) for r in results if r["status"] != "ROTATED"}
    log_event(_log, "run summary", **summary)
    failed = [r for r in results if r["status"] == "FAILED"]
    if failed:
        _fail(len(failed), len(results), [f"{r['username']} ({_reason(r)})" for r in failed])
    return summary


def report_run(batches: list[dict]) -> dict[str, Any]:
    summary: dict[str, Any] = {"users": 0, "batches": len(batches)}
    failed, reasons = 0, []
    for batch in batches:
        if batch["status"] == "SUCCEEDED":
            part = batch["summary"]
            summary["users"] += part["users"]
            for key, value in part.items():
                if isinstance(value, list):
                    summary.setdefault(key, []).extend(value)
                elif isinstance(value, dict):
                    summary.setdefault(key, {}).update(value)
            continue
        usernames = batch["usernames"]
        summary["users"] += len(usernames)
        message = _message_of(batch.get("cause") or "")
        match = _FAILED.match(message)
        if match:
            failed += int(match.group(1))
            reasons.append(match.group(3))
        else:
            # The batch failed as a whole (it could not start or load its users).
            failed += len(usernames)
            reasons.append(f"{', '.join(usernames)} ({_reason(batch)})")
    log_event(_log, "run summary", failed=failed, **summary)
    if failed:
        _fail(failed, summary["users"], reasons)
    return summary


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "batches" in event:
        return report_run(event["batches"])
    return report_batch(event["results"], event.get("unlisted") or [])
