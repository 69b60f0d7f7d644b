"""Faults injected into the emulated AWS, per user: throttled IAM calls (CreateAccessKey,
DeleteAccessKey, ListAccessKeys), an unreadable users list (per parameter), a new key that STS
refuses for a while, a Lambda that crashes between two AWS calls; the Lambda Invoke API's answers
to the credentials handler's invocation (throttled before it runs, a connection closed after it
ran, an answer that comes after the caller's read timeout); a late release of the user by another run (its in-flight tag removed after this run's lock). moto's backends run in this process, so
the faults are patches on them; the product code sees ordinary AWS errors."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import defaultdict
from typing import Any

from moto.awslambda.responses import LambdaResponse
from moto.core.exceptions import ServiceException
from moto.iam.models import IAMBackend, iam_backends
from moto.secretsmanager.models import SecretsManagerBackend
from moto.ssm.models import SimpleSystemManagerBackend
from moto.sts.models import STSBackend

from harness import READ_TIMEOUT_SECONDS


class Throttling(ServiceException):
    code = "Throttling"
    message = "Rate exceeded"


class ServiceFailure(ServiceException):
    code = "ServiceFailure"
    message = "Request processing has failed because of an unknown error, exception or failure."
    # A 5xx: botocore retries it, and so calls the non-idempotent CreateAccessKey again.
    status_code = 500


class InvalidClientTokenId(ServiceException):
    code = "InvalidClientTokenId"
    message = "The security token included in the request is invalid."


class Faults:
    """`add(operation, username, times)`: the next `times` calls of the operation for that user
    fail (times=None: every call). `calls` counts every call per (operation, username)."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, str | None], int | None] = {}
        self.calls: dict[tuple[str, str | None], int] = defaultdict(int)
        self._lock = threading.Lock()

    def add(self, operation: str, username: str, times: int | None = 1) -> None:
        with self._lock:
            self._pending[(operation, username)] = times

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def pending(self, operation: str, username: str | None) -> bool:
        """Whether the next call of the operation for that user will fail (nothing is taken)."""
        with self._lock:
            return (operation, username) in self._pending

    def take(self, operation: str, username: str | None) -> bool:
        with self._lock:
            self.calls[(operation, username)] += 1
            key = (operation, username)
            if key not in self._pending:
                return False
            left = self._pending[key]
            if left is None:
                return True
            if left <= 1:
                del self._pending[key]
            else:
                self._pending[key] = left - 1
            return True


def _username_of_key(access_key_id: str) -> str | None:
    for account in iam_backends.values():
        for backend in account.values():
            for user in backend.users.values():
                if any(k.access_key_id == access_key_id for k in user.access_keys):
                    return user.name
    return None


def _handler_username(body: Any) -> str | None:
    """The user of a credentials handler's event (top-level "username"; the rotator's own states
    nest it under "user", so they are never matched)."""
    try:
        event = json.loads(body or b"{}")
    except ValueError:
        return None
    return event.get("username") if isinstance(event, dict) else None


def _untag_in_flight(username: str) -> None:
    """What another run's release does last: remove the user's rotator tags."""
    for account in iam_backends.values():
        for backend in account.values():
            user = backend.users.get(username)
            if user is None:
                continue
            keys = [
                k
                for k in backend.tagger.get_tag_dict_for_resource(user.arn)
                if k.startswith("iam-credentials-rotator/")
            ]
            backend.tagger.untag_resource_using_names(user.arn, keys)


def install_faults(emulator: Any) -> None:
    faults: Faults = emulator.faults
    create_access_key = IAMBackend.create_access_key
    delete_access_key = IAMBackend.delete_access_key
    list_access_keys = IAMBackend.list_access_keys
    get_caller_identity = STSBackend.get_caller_identity
    put_secret_value = SecretsManagerBackend.put_secret_value
    get_parameters = SimpleSystemManagerBackend.get_parameters
    create_secret = SecretsManagerBackend.create_secret
    invoke = LambdaResponse.invoke

    def patched_invoke(self: LambdaResponse) -> Any:
        username = _handler_username(self.body)
        if faults.take("InvokeThrottled", username):
            # The Invoke API's own refusal, before the function runs (HTTP 429; AWS Lambda API
            # reference, Invoke: TooManyRequestsException).
            body = {
                "Type": "User",
                "message": "Rate Exceeded.",
                "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
            }
            return 429, {"status": "429", "x-amzn-errortype": "TooManyRequestsException"}, json.dumps(body)
        answer = invoke(self)
        if faults.take("InvokeAnswerLate", username):
            # The function ran (and wrote); its answer comes after the caller's read timeout (the
            # caller's clock runs fast: READ_TIMEOUT_SECONDS in harness/__init__.py).
            time.sleep(2 * READ_TIMEOUT_SECONDS)
        if faults.take("InvokeConnectionClosedAfterRun", username):
            # The function ran (and wrote); the caller's connection drops before the answer.
            connection = self.normalized_request.environ["werkzeug.socket"]
            connection.shutdown(socket.SHUT_RDWR)
        return answer

    def patched_create_secret(self: SecretsManagerBackend, name: str, *args: Any, **kwargs: Any) -> Any:
        created = create_secret(self, name, *args, **kwargs)
        username = name.rsplit("/", 1)[-1]
        if faults.take("ReleasedAfterLock", username):
            _untag_in_flight(username)
        return created

    def patched_create(self: IAMBackend, user_name: str, *args: Any, **kwargs: Any) -> Any:
        if faults.take("CreateAccessKey", user_name):
            raise Throttling()
        key = create_access_key(self, user_name, *args, **kwargs)
        emulator.issued_secrets.append(key.secret_access_key)
        if faults.take("CreateAccessKeyResponseLost", user_name):
            raise ServiceFailure()  # IAM created the key; its response is lost
        return key

    def patched_list(self: IAMBackend, user_name: str) -> Any:
        if faults.take("ListAccessKeys", user_name):
            raise Throttling()
        return list_access_keys(self, user_name)

    def patched_delete(self: IAMBackend, access_key_id: str, user_name: str) -> None:
        if faults.take("DeleteAccessKey", user_name):
            raise Throttling()
        return delete_access_key(self, access_key_id, user_name)

    def patched_identity(self: STSBackend, access_key_id: str, region: str) -> Any:
        if faults.take("GetCallerIdentity", _username_of_key(access_key_id)):
            raise InvalidClientTokenId()
        return get_caller_identity(self, access_key_id, region)

    def patched_put(self: SecretsManagerBackend, secret_id: str, *args: Any, **kwargs: Any) -> Any:
        username = secret_id.rsplit("/", 1)[-1]
        if faults.take("HoldRotateBeforePutSecretValue", username):
            # The attempt stays alive between CreateAccessKey and storing its key, until released.
            emulator.held.set()
            emulator.release.wait(60)
        if faults.take("CrashRotateBeforePutSecretValue", username):
            emulator.crash("-rotate", username)
            raise Throttling()  # the caller is dead by now; this only ends the request
        return put_secret_value(self, secret_id, *args, **kwargs)

    def patched_get_parameters(self: SimpleSystemManagerBackend, names: list[str]) -> Any:
        if any(faults.take("GetParameters", name) for name in names):
            raise Throttling()
        return get_parameters(self, names)

    IAMBackend.create_access_key = patched_create  # type: ignore[method-assign]
    IAMBackend.delete_access_key = patched_delete  # type: ignore[method-assign]
    IAMBackend.list_access_keys = patched_list  # type: ignore[method-assign]
    STSBackend.get_caller_identity = patched_identity  # type: ignore[method-assign]
    SecretsManagerBackend.put_secret_value = patched_put  # type: ignore[method-assign]
    SimpleSystemManagerBackend.get_parameters = patched_get_parameters  # type: ignore[method-assign]
    SecretsManagerBackend.create_secret = patched_create_secret  # type: ignore[method-assign]
    LambdaResponse.invoke = patched_invoke  # type: ignore[method-assign]
