"""ListUsers state: reads the users parameter and returns the users this run rotates, each with
the identity of this rotation (the execution), which the per-user lock records."""

from __future__ import annotations

import json
from typing import Any

from rotator.common import UserNotListedError, client, log_event, logger, required_env

_log = logger(__name__)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    run_input = event.get("input") or {}
    parameter = required_env("USERS_PARAMETER_NAME")
    value = client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"]
    users = json.loads(value)
    wanted = run_input.get("username")
    if wanted is not None:
        # IAM user names are case-insensitive.
        users = [u for u in users if u["username"].lower() == str(wanted).lower()]
        if not users:
            raise UserNotListedError(
                f"User {wanted!r} is not in the users list of this rotator "
                f"(SSM parameter {parameter}); add it to the module's `users` input first."
            )
    rotation = {"id": event["executionName"], "executionArn": event["executionArn"]}
    if run_input.get("scheduledTime"):
        rotation["scheduledTime"] = run_input["scheduledTime"]
    log_event(_log, "users selected", usernames=[u["username"] for u in users], rotation=rotation)
    return {"users": [{**user, "rotation": rotation} for user in users]}
