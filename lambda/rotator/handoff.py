"""HandOff state: invokes the user's credentials handler with the event of the handler contract,
and discards what the handler returns, so that no return value (whatever its size) can break the
workflow. In acknowledged mode the workflow then waits for the task token's answer. A failed hand-off fails this function with the handler's own error name and message
(capped), which the workflow routes: the handler's code raised (it refused the key), the handler
was throttled (it never ran), or the outcome is unknown (a timeout, a crash, a service error, a
partial delivery), where the third party may hold the new key."""

from __future__ import annotations

import json
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

from rotator.common import (
    HANDLER_RETURNED_TAG,
    account_of_arn,
    bind_event,
    capped,
    client,
    error_code,
    log_event,
    logger,
    now,
    required_env,
)

_log = logger(__name__)
# One attempt per call: the workflow retries with backoff, and a lost response must not re-deliver
# silently. The read timeout outlasts any Lambda function (15 minutes).
_INVOKE_CONFIG = Config(retries={"total_max_attempts": 1}, read_timeout=905, connect_timeout=10)
# Lambda API errors, named as Step Functions names them, so that the workflow's Retry and Catch
# treat a failure to invoke the handler as they would treat a failure to invoke any function.
_SERVICE_ERRORS = {
    "TooManyRequestsException": "Lambda.TooManyRequestsException",
    "ServiceException": "Lambda.ServiceException",
    "EC2ThrottledException": "Lambda.TooManyRequestsException",
}


class HandOffOutcomeUnknownError(Exception):
    """The handler was invoked but no answer came back."""


def _error(name: str, message: str) -> Exception:
    # The Lambda runtime reports an exception's class name as its errorType, which becomes the
    # Step Functions error name: the handler's own error name passes through unchanged.
    return type(name, (Exception,), {})(capped(message))


def handler_event(event: dict[str, Any]) -> dict[str, Any]:
    """The handler contract's event: the user and its account, the secret to read, the user's metadata
    if set and, in acknowledged mode, the task token that confirms or refuses the hand-off."""
    user = event["user"]
    handler_event = {"username": user["username"], "secretName": event["secretName"]}
    handler_event["accountId"] = user.get("accountId") or account_of_arn(event["rotation"]["executionArn"])
    if user.get("metadata") is not None:
        handler_event["metadata"] = user["metadata"]
    if event.get("taskToken"):
        handler_event["taskToken"] = event["taskToken"]
    return handler_event


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bind_event(event)
    payload = handler_event(event)
    username = payload["username"]
    lambda_client = client("lambda", config=_INVOKE_CONFIG)
    try:
        response = lambda_client.invoke(
            FunctionName=required_env("CREDENTIALS_HANDLER_ARN"), Payload=json.dumps(payload).encode()
        )
    except (ReadTimeoutError, ConnectionClosedError) as error:
        # The request was sent: the handler may have run, and written, without our hearing of it.
        # (A connection that could not be opened sent nothing: botocore's EndpointConnectionError,
        # left to fail the hand-off as a refusal.)
        raise HandOffOutcomeUnknownError(f"The credentials handler did not answer: {error}") from None
    except ClientError as error:
        code = error_code(error)
        if code in _SERVICE_ERRORS:
            raise _error(_SERVICE_ERRORS[code], str(error)) from None
        raise
    # Read to the end and drop: the handler's return value is not ours to keep.
    returned = response["Payload"].read()
    if "FunctionError" in response:
        try:
            failure = json.loads(returned)
        except ValueError:
            failure = {}
        if not isinstance(failure, dict):
            failure = {}
        name = str(failure.get("errorType") or "Lambda.Unknown")
        message = str(failure.get("errorMessage") or "the handler failed without an error message")
        log_event(_log, "hand-off failed", username=username, error=name)
        raise _error(name, message)
    if payload.get("taskToken"):
        # An answer may still refuse the key, or none come; the handler has returned, so it may have
        # written the key somewhere: RollBack reads this mark and keeps both keys.
        client("secretsmanager").tag_resource(
            SecretId=payload["secretName"], Tags=[{"Key": HANDLER_RETURNED_TAG, "Value": now().isoformat()}]
        )
    log_event(_log, "handed off", username=username, secret_name=payload["secretName"])
    return {
        "username": username,
        "status": "HANDED_OFF",
        "inactiveKeysDeleted": event.get("deletedInactiveKeyIds") or [],
    }
