"""Report state: ends the run FAILED, naming each failed user and why, when any user failed;
otherwise returns the run's summary."""

from __future__ import annotations

import json
from typing import Any

from rotator.common import RotationFailedError, log_event, logger

_log = logger(__name__)


def _reason(result: dict) -> str:
    cause = result.get("cause") or ""
    try:
        cause = json.loads(cause).get("errorMessage", cause)
    except (ValueError, AttributeError):
        pass
    return f"{result.get('error')}: {cause}" if cause else str(result.get("error"))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    results = event["results"]
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
        raise RotationFailedError(
            f"{len(failed)} of {len(results)} users not rotated: "
            + "; ".join(f"{r['username']} ({_reason(r)})" for r in failed)
        )
    return summary
