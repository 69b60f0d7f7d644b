"""Runs one Lambda invocation in this process, like the Python Lambda runtime does.

    python lambda_runtime.py <code dir> <module.function> <result file>  < event.json

Prints the function's logs to stdout and writes to <result file> as JSON {"result": ..., "api_calls":
[...], "api_targets": [...], "duration": s, "cpu_seconds": s, "client_cpu_seconds": s,
"warm_client_cpu_seconds": s}: the function's result, or the runtime's error object ({"errorMessage",
"errorType", "stackTrace"}), the AWS API calls it made ("service:Operation") and, for each, the
parameters that name what it acts on (never values such as a SecretString); then, for the benchmark's
model, the seconds the handler itself ran (not the interpreter's start nor the imports), the CPU seconds
it used (all threads), of those the CPU seconds spent creating boto3 clients, and the CPU seconds the
same clients take to create again, warm.
"""

import contextlib
import importlib
import json
import os
import sys
import threading
import time
import traceback
import uuid
from pathlib import Path

# What an API call acts on, for the least-privilege checks.
_TARGET_PARAMETERS = {
    "UserName",
    "SecretId",
    "Name",
    "Names",
    "Path",
    "executionArn",
    "stateMachineArn",
    "FunctionName",
    "Namespace",
    "AccessKeyId",
    "RoleArn",
    "Tags",  # TagUser's, for its tagging conditions
    "TagKeys",
}


class Context:
    def __init__(self, request_id: str) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "function")
        self.function_version = "$LATEST"
        self.aws_request_id = request_id
        self.memory_limit_in_mb = 128
        self._deadline = time.monotonic() + float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"))

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _enforcer():
    """With EMULATOR_ENFORCE_POLICIES set, each own-account call is first checked against the
    function's role as deployed at that moment (harness/iam_policy.py), as IAM would."""
    if not os.environ.get("EMULATOR_ENFORCE_POLICIES"):
        return None
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import boto3

    from harness.iam_policy import enforcer

    # Created before the handler runs, so not counted among the function's own clients.
    return enforcer(boto3.client("iam"), os.environ["AWS_LAMBDA_FUNCTION_NAME"])


def _checked(enforce, checking, call, target):
    if enforce is None:
        return
    checking.on = True
    try:
        enforce(call, target)
    finally:
        checking.on = False


def _time_out() -> None:
    from harness import TIMED_OUT

    sys.stdout.flush()
    os._exit(TIMED_OUT)


def main() -> None:
    code_dir, handler_name, result_file = sys.argv[1:4]
    sys.path.insert(0, code_dir)
    # As in AWS: records reach stdout through the runtime's root handler, in the function's log format.
    sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
    from harness import lambda_logging

    request_id = str(uuid.uuid4())
    lambda_logging.install(request_id)
    if os.environ.get("EMULATOR_READ_TIMEOUT_SECONDS"):
        # Time runs fast for this invocation: a socket timeout longer than any the emulator answers
        # within (HandOff's 905 s read timeout) ends after these seconds (harness.READ_TIMEOUT_SECONDS).
        import socket

        fast, settimeout = float(os.environ["EMULATOR_READ_TIMEOUT_SECONDS"]), socket.socket.settimeout

        def fast_timeout(sock: socket.socket, value: float | None) -> None:
            settimeout(sock, fast if value is not None and value > 60 else value)

        socket.socket.settimeout = fast_timeout  # type: ignore[method-assign,assignment]
    if os.environ.get("EMULATOR_NO_RETRY_BACKOFF"):
        # Like the state machine's waits: retries happen, their sleeps are skipped.
        from botocore.retries import standard

        standard.ExponentialBackoff.delay_amount = lambda self, context: 0
    # Count the function's own AWS API calls (the benchmark reports them per action).
    from botocore.client import BaseClient

    calls, targets = [], []
    make_api_call = BaseClient._make_api_call
    enforce, checking, recording = _enforcer(), threading.local(), threading.Lock()

    def counted(client, operation_name, api_params):
        if getattr(checking, "on", False):  # the harness reading policies, not the function
            return make_api_call(client, operation_name, api_params)
        call = f"{client.meta.service_model.service_name}:{operation_name}"
        target = {k: v for k, v in api_params.items() if k in _TARGET_PARAMETERS}
        credentials = client._request_signer._credentials
        if credentials is not None and credentials.token:
            # Signed with an assumed role's credentials (a member account): the harness tells
            # which account by this key id.
            target["Signer"] = credentials.access_key
        with recording:  # the clean-up calls from several threads
            calls.append(call)
            targets.append(target)
        check = enforce if "Signer" not in target else None  # member accounts' calls: not enforced
        # GetAccessKeyLastUsed names only the key; IAM authorizes it on the user it answers with,
        # so that call is checked once the answer names the user.
        named_by_key = "AccessKeyId" in target and "UserName" not in target
        if not named_by_key:
            _checked(check, checking, call, target)
        response = make_api_call(client, operation_name, api_params)
        if named_by_key and "UserName" in response:
            target["UserName"] = response["UserName"]
            _checked(check, checking, call, target)
        return response

    BaseClient._make_api_call = counted
    # The CPU time the function's client creations take: in this fresh process each loads botocore's
    # data and lazy imports, which a warm Lambda instance has cached; re-created after the handler, the
    # same clients show what a warm invocation pays (the benchmark's model counts that, and the rest as
    # the instance's cold start). CPU time, not wall time: invocations running side by side on this
    # machine's two cores would otherwise count each other's work.
    from botocore.session import Session

    created, client_seconds = [], []
    create_client = Session.create_client

    def timed(session, *args, **kwargs):
        created.append((session, args, kwargs))
        started = time.process_time()
        try:
            return create_client(session, *args, **kwargs)
        finally:
            client_seconds.append(time.process_time() - started)

    Session.create_client = timed
    event = json.load(sys.stdin)
    # Zero when the function failed to import: that invocation's handler never ran.
    started = ended = cpu_started = cpu_ended = 0.0
    try:
        module_name, function_name = handler_name.rsplit(".", 1)
        function = getattr(importlib.import_module(module_name), function_name)
        context = Context(request_id)
        # The invocation's timeout runs from here, as in AWS, where the init phase (the imports) has
        # a limit of its own (harness.INIT_SECONDS).
        deadline = threading.Timer(float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3")), _time_out)
        deadline.daemon = True
        deadline.start()
        # Clients the module created at import belong to the init phase, as in AWS.
        del created[:], client_seconds[:]
        # What Lambda bills as the invocation's duration: the handler's run, not the init phase.
        started, cpu_started = time.monotonic(), time.process_time()
        try:
            result = function(event, context)
        finally:
            ended, cpu_ended = time.monotonic(), time.process_time()
    except Exception as error:  # the runtime reports every error to the caller
        result = {
            "errorMessage": str(error),
            "errorType": type(error).__name__,
            "stackTrace": traceback.format_tb(error.__traceback__),
        }
        traceback.print_exc(file=sys.stdout)
        exit_code = 1
    else:
        exit_code = 0
    Session.create_client = create_client
    warm_started = time.process_time()
    for session, args, kwargs in created:
        # A measurement only: the invocation's outcome is already decided.
        with contextlib.suppress(Exception):
            create_client(session, *args, **kwargs)
    warm_client_seconds = time.process_time() - warm_started
    with open(result_file, "w") as out:
        json.dump(
            {
                "result": result,
                "api_calls": calls,
                "api_targets": targets,
                "duration": ended - started,
                "cpu_seconds": cpu_ended - cpu_started,
                "client_cpu_seconds": sum(client_seconds),
                "warm_client_cpu_seconds": warm_client_seconds,
            },
            out,
        )
    sys.stdout.flush()
    sys.exit(exit_code)


if __name__ == "__main__":
    main()
