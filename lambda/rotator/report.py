"""Report state, of a batch and of the run. A batch's Report fails the batch, naming each failed
user and why, when any user failed; otherwise it returns the batch's summary. The run's Report
adds the batches up, and fails the run the same way when any batch failed."""

from __future__ import annotations

import json
import re
from typing import Any

from rotator.common import RotationFailedError, log_event, logger

_log = logger(__name__)

# Step Functions keeps at most 32,768 characters of an error's cause. What a batch hands the run
# (a failed batch's cause with its input, about 7 KB of usernames; or a summary with its details)
# reaches the run's state, which holds at most 256 KB for its (at most 10) batches: keep each
# below 20 KB.
_MAX_RUN_MESSAGE = 30_000
_MAX_BATCH_MESSAGE = 8_000
_MAX_BATCH_DETAILS = 8_000
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


def _fail(failed: int, users: int, reasons: list[str], limit: int) -> None:
    message = f"{failed} of {users} users not rotated: " + "; ".join(reasons)
    if len(message) > limit:
        message = message[: limit - 60] + "… (more in the executions of the batches)"
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
    # What the run keeps of each batch stays bounded: the details up to a budget; "omitted" counts
    # the rest, which the batch's own log line keeps.
    details: dict[str, str] = {}
    left = _MAX_BATCH_DETAILS
    not_rotated = [r for r in results if r["status"] != "ROTATED"]
    for result in not_rotated:
        reason = _reason(result)
        left -= len(result["username"]) + len(reason) + 8
        if left < 0:
            break
        details[result["username"]] = reason
    summary = {
        "users": len(results),
        "rotated": by_status.get("ROTATED", []),
        "skipped": by_status.get("SKIPPED", []),
        "details": details,
        "omitted": len(not_rotated) - len(details),
    }
    log_event(_log, "batch summary", **summary, all_details={r["username"]: _reason(r) for r in not_rotated})
    failed = [r for r in results if r["status"] == "FAILED"]
    if failed:
        _fail(
            len(failed), len(results), [f"{r['username']} ({_reason(r)})" for r in failed], _MAX_BATCH_MESSAGE
        )
    return summary


def report_run(batches: list[dict]) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "users": 0,
        "batches": len(batches),
        "rotated": [],
        "skipped": [],
        "details": {},
        "omitted": 0,
    }
    failed, reasons = 0, []
    for batch in batches:
        if batch["status"] == "SUCCEEDED":
            part = batch["summary"]
            summary["users"] += part["users"]
            summary["rotated"] += part["rotated"]
            summary["skipped"] += part["skipped"]
            summary["details"].update(part["details"])
            summary["omitted"] += part["omitted"]
            continue
        summary["users"] += batch["users"]
        message = _message_of(batch.get("cause") or "")
        match = _FAILED.match(message)
        if match:
            failed += int(match.group(1))
            reasons.append(match.group(3))
        else:
            # The batch failed as a whole (it could not start or load its users); its input names them.
            failed += batch["users"]
            reasons.append(f"the {batch['users']} users of batch {batch['index'] + 1} ({_reason(batch)})")
    log_event(_log, "run summary", failed=failed, **summary)
    if failed:
        _fail(failed, summary["users"], reasons, _MAX_RUN_MESSAGE)
    return summary


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "batches" in event:
        return report_run(event["batches"])
    return report_batch(event["results"], event.get("unlisted") or [])
