"""An emulated AWS for the tests and the demo: moto's server, in this process, with
- Step Functions executing state machine definitions,
- Lambda functions run by lambda_runtime.py in a subprocess per invocation, with the function's
  environment (moto would need Docker),
- Wait states and retry back-offs recorded but not slept (the module's durations stay as they are),
- a task's TimeoutSeconds shortened where a test asks (`task_timeouts`), since moto waits them out,
- the Step Functions service integration (startExecution.sync:2) mended (see tests/README.md).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import boto3
import requests
from moto.awslambda.models import LambdaFunction
from moto.server import ThreadedMotoServer
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)
from moto.stepfunctions.responses import StepFunctionResponse

from harness import ACCOUNT_ID, INIT_SECONDS, READ_TIMEOUT_SECONDS, REGION, TIMED_OUT, accounts, provider_gaps
from harness.faults import Faults, install_faults

__all__ = ["ACCOUNT_ID", "REGION", "EmulatedAws", "Invocation"]
_RUNTIME = Path(__file__).with_name("lambda_runtime.py")


def next_whole_second() -> str:
    """The time of a scheduled event firing now, after anything done so far: event times have
    whole seconds, so wait for the next one."""
    target = int(time.time()) + 1
    while time.time() < target:
        time.sleep(target - time.time())
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(target))


def target_input(target: dict, event: dict) -> str:
    """EventBridge's rendering of a target's input: Input, InputTransformer, or the event."""
    if "Input" in target:
        return target["Input"]
    transformer = target.get("InputTransformer")
    if not transformer:
        return json.dumps(event)
    rendered = transformer["InputTemplate"]
    for name, path in transformer.get("InputPathsMap", {}).items():
        value = event
        for part in path.removeprefix("$.").split("."):
            value = value[part]
        # Inside quotes a value goes in raw; elsewhere as JSON.
        rendered = rendered.replace(f'"<{name}>"', json.dumps(str(value))).replace(
            f"<{name}>", json.dumps(value)
        )
    return rendered


@dataclass
class Invocation:
    function_name: str
    event: Any
    result: Any
    errored: bool
    logs: str
    started: float = 0.0
    ended: float = 0.0
    api_calls: list[str] = field(default_factory=list)
    api_targets: list[dict] = field(default_factory=list)  # what each call acted on
    # The handler's own run (no interpreter start, no imports), its CPU time, of which creating boto3
    # clients, and creating them again once warm (harness/lambda_runtime.py).
    duration: float = 0.0
    cpu_seconds: float = 0.0
    client_cpu_seconds: float = 0.0
    warm_client_cpu_seconds: float = 0.0


@dataclass
class EmulatedAws:
    """One moto server per test session; `reset()` between independent stacks is not needed
    because every stack uses its own resource names."""

    port: int = 0
    invocations: list[Invocation] = field(default_factory=list)
    waits: list[int] = field(default_factory=list)
    retry_sleeps: list[float] = field(default_factory=list)
    # Tests can intercept an invocation: return (result, errored) to replace it, or None.
    lambda_hook: Callable[[str, Any], tuple[Any, bool] | None] | None = None
    # Users whose next RotateKey invocation Lambda reports failed (ServiceException) while it goes on
    # running: Step Functions then retries it beside its live twin.
    twins: set[str] = field(default_factory=set)
    # Functions whose next successful invocation's answer Lambda loses: the function ran to the end,
    # Step Functions sees Lambda.ServiceException and retries it (how AWS runs a step twice).
    answers_lost: set[str] = field(default_factory=set)
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    # Tests can change what an invocation returns, after it ran: (function name, event, result) -> result.
    result_hook: Callable[[str, Any, Any], Any] | None = None
    # Tests can act during a Wait state, once its time has (emulatedly) passed: (seconds) -> None.
    wait_hook: Callable[[int], None] | None = None
    # When set, Waits, which are not slept, still move the clock that dates a key's last use (see
    # tests/README.md): a use during a wait is dated as if the wait's time had passed.
    waits_move_last_use_clock: bool = False
    last_use_clock_offset: float = 0.0
    # Tests can shorten a task's TimeoutSeconds, which moto waits out for real: {configured: seconds}.
    task_timeouts: dict[int, int] = field(default_factory=dict)
    # When set, AssumeRole refuses a missing role and a caller its trust policy does not name
    # (harness/accounts.py; moto does neither).
    assume_role_checked: bool = False
    # When set, each function's own-account calls are refused (AccessDenied) unless its role's
    # policies allow them at that moment (harness/iam_policy.py; moto never evaluates policies).
    policies_enforced: bool = False
    _server: ThreadedMotoServer | None = None
    _code_dirs: dict[str, str] = field(default_factory=dict)
    _running: dict[tuple, subprocess.Popen] = field(default_factory=dict)
    # Every secret access key IAM issued, to prove none leaks anywhere.
    issued_secrets: list[str] = field(default_factory=list)
    faults: Faults = field(default_factory=lambda: Faults())
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _tmp: tempfile.TemporaryDirectory | None = None

    @property
    def _tmpdir(self) -> str:
        """Where function code is unpacked and results written, from start() to stop()."""
        assert self._tmp, "EmulatedAws.start() first"
        return self._tmp.name

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> EmulatedAws:
        if not self.port:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
        # The state machine interpreter calls AWS back on localhost:$MOTO_PORT.
        os.environ["MOTO_PORT"] = str(self.port)
        self._tmp = tempfile.TemporaryDirectory(prefix="emulated-lambda-")
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # The interpreter logs every failed state at ERROR; executions' own results say it better.
        logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self.configure()
        self._patch()
        return self

    def configure(self) -> None:
        """Makes moto execute state machine definitions (its default only records executions)."""
        requests.post(
            f"{self.endpoint}/moto-api/config",
            json={"stepfunctions": {"execute_state_machine": True}},
            timeout=10,
        ).raise_for_status()

    def stop(self) -> None:
        if self._server:
            self._server.stop()
        if self._tmp:
            self._tmp.cleanup()

    def client(self, service: str, **credentials: str) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id=credentials.get("aws_access_key_id", "testing"),
            aws_secret_access_key=credentials.get("aws_secret_access_key", "testing"),
        )

    def admin_client(self, service: str, role_arn: str) -> Any:
        """A client acting in another account, as its administrator: moto keeps accounts apart by
        the credentials of an assumed role (and needs no such role to exist)."""
        credentials = self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="test-admin")[
            "Credentials"
        ]
        return self.client(
            service,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
        )

    def access_keys(self, username: str) -> dict[str, str]:
        """The user's access keys: id -> status."""
        keys = self.client("iam").list_access_keys(UserName=username)["AccessKeyMetadata"]
        return {k["AccessKeyId"]: k["Status"] for k in keys}

    def moto_iam_user(self, username: str) -> Any:
        """moto's own record of a user, to compare delivered secrets with the real ones."""
        from moto.iam.models import iam_backends

        return iam_backends[ACCOUNT_ID]["global"].get_user(username)

    def give_key(self, username: str, age_days: float = 0) -> str:
        """Replaces the user's keys by one active key created `age_days` ago (moto's record is backdated:
        IAM cannot be asked for an old key); returns its id."""
        from datetime import timedelta

        iam = self.client("iam")
        for key_id in self.access_keys(username):
            iam.delete_access_key(UserName=username, AccessKeyId=key_id)
        key_id = iam.create_access_key(UserName=username)["AccessKey"]["AccessKeyId"]
        (key,) = self.moto_iam_user(username).access_keys
        key.create_date -= timedelta(days=age_days)
        return key_id

    # --- Step Functions helpers -------------------------------------------------------

    def run_execution(
        self, state_machine_arn: str, payload: Any, name: str | None = None, timeout: float = 120
    ) -> dict:
        """Starts an execution and waits for it to end; returns describe_execution."""
        arn = self.start_execution(state_machine_arn, json.dumps(payload), name)
        return self.wait_execution(arn, timeout)

    def start_execution(self, state_machine_arn: str, payload: str, name: str | None = None) -> str:
        # AWS names an unnamed execution with a UUID; moto names every one "None", so a
        # second unnamed start fails. Do what AWS does.
        return self.client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn, input=payload, name=name or str(uuid.uuid4())
        )["executionArn"]

    def wait_execution(self, execution_arn: str, timeout: float = 120) -> dict:
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {execution_arn} still running after {timeout}s")
            time.sleep(0.2)

    def history(self, execution_arn: str) -> list[dict]:
        """The run's history: the execution's events, then those of the child executions it
        started (a batch of users each), in order."""
        return [event for events in self.histories(execution_arn).values() for event in events]

    def histories(self, execution_arn: str) -> dict[str, list[dict]]:
        """Each execution of the run (the execution and its children) -> its events."""
        own = self._events(execution_arn)
        runs = {execution_arn: own}
        for event in own:
            details = event.get("taskSubmittedEventDetails", {})
            if event["type"] == "TaskSubmitted" and details.get("resourceType") == "states":
                child = json.loads(details["output"])["ExecutionArn"]
                runs.update(self.histories(child))
        return runs

    def _events(self, execution_arn: str) -> list[dict]:
        sfn = self.client("stepfunctions")
        events, token = [], None
        while True:
            page = sfn.get_execution_history(
                executionArn=execution_arn, **({"nextToken": token} if token else {})
            )
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                return events

    def fire_schedule(self, name: str, event_time: str | None = None) -> list[str]:
        """Does what EventBridge Scheduler does when the schedule `name` comes due, or what
        EventBridge does when the rule `name` fires (moto does neither); see _fire_rule()."""
        scheduler = self.client("scheduler")
        try:
            schedule = scheduler.get_schedule(Name=name)
        except scheduler.exceptions.ResourceNotFoundException:
            return self._fire_rule(name, event_time)
        return self._fire_scheduler_schedule(schedule, event_time)

    def _fire_scheduler_schedule(self, schedule: dict, event_time: str | None) -> list[str]:
        """A DISABLED schedule starts nothing. Otherwise its Step Functions target starts with the
        target's Input, Scheduler's context attributes filled in
        (https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html),
        with the target's role: the role must allow states:StartExecution on the target."""
        if schedule["State"] == "DISABLED":
            return []
        target = schedule["Target"]
        attributes = {
            "<aws.scheduler.schedule-arn>": schedule["Arn"],
            "<aws.scheduler.scheduled-time>": event_time or next_whole_second(),
            "<aws.scheduler.execution-id>": str(uuid.uuid4()),
            "<aws.scheduler.attempt-number>": "1",
        }
        payload = target.get("Input", "{}")
        for attribute, value in attributes.items():
            payload = payload.replace(attribute, value)
        from harness.iam_policy import allows, role_policies

        policies = role_policies(self.client("iam"), target["RoleArn"].rsplit("/", 1)[1])
        if not allows(policies, "states:StartExecution", target["Arn"]):
            raise AssertionError(f"the schedule's role may not start {target['Arn']}: Scheduler would fail")
        return [self.start_execution(target["Arn"], payload)]

    def _fire_rule(self, rule_name: str, event_time: str | None = None) -> list[str]:
        """Does what EventBridge does when the rule fires (moto never fires schedules): starts
        each target with its input, or with its input transformer applied to the scheduled event;
        a disabled rule starts nothing. A Lambda target is invoked only if its resource policy lets this rule invoke it, and is
        awaited (EventBridge invokes it asynchronously), so its outcome is in `invocations` on
        return. Returns the started executions' ARNs."""
        event: dict[str, Any] = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT_ID,
            "time": event_time or next_whole_second(),
            "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule_name}"],
            "detail": {},
        }
        if self.client("events").describe_rule(Name=rule_name)["State"] == "DISABLED":
            return []
        targets = self.client("events").list_targets_by_rule(Rule=rule_name)["Targets"]
        for target in targets:
            if ":lambda:" in target["Arn"] and self._rule_may_invoke(event["resources"][0], target["Arn"]):
                self.client("lambda").invoke(FunctionName=target["Arn"], Payload=target_input(target, event))
        return [
            self.start_execution(t["Arn"], target_input(t, event)) for t in targets if ":states:" in t["Arn"]
        ]

    def _rule_may_invoke(self, rule_arn: str, function_arn: str) -> bool:
        """Whether the function's resource-based policy lets EventBridge invoke it for this rule
        (without it, AWS drops the event: the invocation fails and the rule counts a failure)."""
        try:
            policy = json.loads(self.client("lambda").get_policy(FunctionName=function_arn)["Policy"])
        except self.client("lambda").exceptions.ResourceNotFoundException:
            return False
        return any(
            statement.get("Effect") == "Allow"
            and statement.get("Principal", {}).get("Service") == "events.amazonaws.com"
            and statement.get("Action") in ("lambda:InvokeFunction", "lambda:*")
            and statement.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn") == rule_arn
            for statement in policy["Statement"]
        )

    def run_schedule(self, name: str, event_time: str | None = None, timeout: float = 120) -> list[dict]:
        """fire_schedule(), then the described executions once they end."""
        return [self.wait_execution(arn, timeout) for arn in self.fire_schedule(name, event_time)]

    # --- patches ----------------------------------------------------------------------

    def _patch(self) -> None:
        emulator = self

        def invoke_lambda(function: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
            return emulator._invoke(function, event)

        LambdaFunction._invoke_lambda = invoke_lambda  # type: ignore[method-assign,assignment]

        original_wait = WaitFunction._wait_interval

        def wait_interval(self: WaitFunction, env: Any, wait_seconds: int) -> None:
            with emulator._lock:
                emulator.waits.append(wait_seconds)
                if emulator.waits_move_last_use_clock:
                    emulator.last_use_clock_offset += wait_seconds
            if emulator.wait_hook:
                emulator.wait_hook(wait_seconds)
            original_wait(self, env, 0)

        WaitFunction._wait_interval = wait_interval  # type: ignore[method-assign]
        eval_seconds = TimeoutSeconds._eval_seconds

        def timeout_seconds(self: TimeoutSeconds, env: Any) -> int:
            configured = eval_seconds(self, env)
            return emulator.task_timeouts.get(configured, configured)

        TimeoutSeconds._eval_seconds = timeout_seconds  # type: ignore[method-assign]
        retrier_decl.time = SimpleNamespace(sleep=emulator.retry_sleeps.append)  # type: ignore[assignment]
        _mend_sfn_integration()
        _mend_send_task_failure()
        provider_gaps.install()
        _terminal_errors_escape_states_all()
        _date_last_uses_by(lambda: emulator.last_use_clock_offset)
        install_faults(emulator)
        accounts.install(lambda: emulator.assume_role_checked)

    def crash(self, function_suffix: str, username: str) -> None:
        """Kills the running invocation of a function for a user, as a crashed runtime would die."""
        with self._lock:
            procs = [
                p
                for (name, user), p in self._running.items()
                if name.endswith(function_suffix) and user == username
            ]
        for proc in procs:
            proc.kill()

    def _code_dir(self, code: bytes) -> str:
        digest = hashlib.sha256(code).hexdigest()
        with self._lock:
            if digest not in self._code_dirs:
                target = Path(self._tmpdir) / digest
                zipfile.ZipFile(io.BytesIO(code)).extractall(target)
                self._code_dirs[digest] = str(target)
            return self._code_dirs[digest]

    def _invoke(self, function: LambdaFunction, event: Any) -> tuple[str, bool, str]:
        if isinstance(event, (str, bytes)):
            event = json.loads(event or "{}")
        event = {} if event is None else event
        started = time.time()
        hooked = self.lambda_hook(function.function_name, event) if self.lambda_hook else None
        user = _username_of(event)
        if hooked is None and function.function_name.endswith("-rotate") and user in self.twins:
            self.twins.discard(user)
            # The live twin's own invocation is recorded too, so its logs are scanned like any other.
            threading.Thread(target=self._run_recorded, args=(function, event), daemon=True).start()
            self.held.wait(60)
            hooked = {"errorType": "Lambda.ServiceException", "errorMessage": "Service error."}, True
        if hooked is not None:
            result, errored = hooked
            self._record(Invocation(function.function_name, event, result, errored, "", started, time.time()))
            return json.dumps(result), errored, ""
        result, errored, logs = self._run_recorded(function, event, started)
        with self._lock:
            lost = not errored and function.function_name in self.answers_lost
            self.answers_lost.discard(function.function_name if lost else "")
        if lost:
            result, errored = {"errorType": "Lambda.ServiceException", "errorMessage": "Service error."}, True
        return json.dumps(result), errored, logs

    def _run_recorded(
        self, function: LambdaFunction, event: Any, started: float | None = None
    ) -> tuple[Any, bool, str]:
        started = started or time.time()
        result, errored, logs, calls, targets, timing = self._run(function, event)
        if self.result_hook:
            result = self.result_hook(function.function_name, event, result)
        invocation = Invocation(
            function.function_name,
            event,
            result,
            errored,
            logs,
            started,
            time.time(),
            calls,
            targets,
            *timing,
        )
        self._record(invocation)
        return result, errored, logs

    def _record(self, invocation: Invocation) -> None:
        with self._lock:
            self.invocations.append(invocation)

    def _run(
        self, function: LambdaFunction, event: Any
    ) -> tuple[Any, bool, str, list[str], list[dict], tuple[float, ...]]:
        code_dir = self._code_dir(function.code_bytes)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            # boto3 sends every call to the emulator, so the function code needs no test branch.
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(function.timeout),
            # What the runtime sets from the function's LoggingConfig.
            **_log_settings(provider_gaps.logging_config(function)),
            # Harness only: skip boto3's retry back-off sleeps (the retries still happen).
            "EMULATOR_NO_RETRY_BACKOFF": "1",
            **({"EMULATOR_ENFORCE_POLICIES": "1"} if self.policies_enforced else {}),
            **(
                {"EMULATOR_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT_SECONDS)}
                if self.faults.pending("InvokeAnswerLate", _username_of(event))
                else {}
            ),
            **(function.environment_vars or {}),
        }
        with tempfile.NamedTemporaryFile(dir=self._tmpdir, suffix=".json", delete=False) as out:
            result_file = out.name
        assert function.handler, f"{function.function_name}: a zip function has a handler"
        proc = subprocess.Popen(
            [sys.executable, str(_RUNTIME), code_dir, function.handler, result_file],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        running = (function.function_name, _username_of(event))
        with self._lock:
            self._running[running] = proc
        timed_out = False
        try:
            # The runtime ends the invocation at its timeout, counted from the end of its init phase
            # (as AWS does); this bound is for an init phase that never ends.
            logs, _ = proc.communicate(json.dumps(event), timeout=float(function.timeout) + INIT_SECONDS)
            timed_out = proc.returncode == TIMED_OUT
        except subprocess.TimeoutExpired:
            proc.kill()
            logs, _ = proc.communicate()
            timed_out = True
        finally:
            with self._lock:
                self._running.pop(running, None)
        if timed_out:
            message = f"Task timed out after {float(function.timeout):.2f} seconds"
            os.unlink(result_file)
            return (
                {"errorMessage": message, "errorType": "Sandbox.Timedout"},
                True,
                logs,
                [],
                [],
                (float(function.timeout), 0.0, 0.0, 0.0),
            )
        try:
            with open(result_file) as result_in:
                written = json.load(result_in)
        except (OSError, ValueError):
            return (
                {"errorMessage": logs[-2000:], "errorType": "Runtime.ExitError"},
                True,
                logs,
                [],
                [],
                (0.0,) * 4,
            )
        finally:
            os.unlink(result_file)
        timing = tuple(
            written.get(key, 0.0)
            for key in ("duration", "cpu_seconds", "client_cpu_seconds", "warm_client_cpu_seconds")
        )
        return (
            written["result"],
            proc.returncode != 0,
            logs,
            written["api_calls"],
            written["api_targets"],
            timing,
        )


def _terminal_errors_escape_states_all() -> None:
    """moto's States.ALL matches every error; AWS's does not match States.DataLimitExceeded nor
    States.Runtime (terminal errors): they fail the execution whatever the Catch says."""
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )

    if getattr(ErrorEqualsDecl, "_mended", False):
        return
    terminal = {StatesErrorNameType.StatesStatesDataLimitExceeded, StatesErrorNameType.StatesRuntime}
    evaluate = ErrorEqualsDecl._eval_body

    def eval_body(self, env):
        error_name = env.stack[-1]
        if isinstance(error_name, StatesErrorName) and error_name.typ in terminal:
            env.stack.pop()
            env.stack.append(error_name in self.error_names)
            return
        evaluate(self, env)

    ErrorEqualsDecl._eval_body = eval_body  # type: ignore[method-assign]
    ErrorEqualsDecl._mended = True  # type: ignore[attr-defined]


def _date_last_uses_by(offset: Callable[[], float]) -> None:
    """moto dates a key's last use by the wall clock; the harness skips the Waits' time, so it adds
    the seconds waited (when a test asks for it) to keep uses during and after a wait later than
    those before it by what AWS would see."""
    from datetime import timedelta

    from moto.iam import models as iam_models

    if getattr(iam_models, "_dated_by_harness", False):
        return
    mark = iam_models.mark_account_as_visited

    def mark_account_as_visited(account_id: str, access_key: str, service: str, region: str) -> None:
        mark(account_id, access_key, service, region)
        for partition in iam_models.PARTITION_NAMES:
            key = iam_models.iam_backends[account_id][partition].access_keys.get(access_key)
            if key is not None and key.last_used is not None and offset():
                key.last_used._timestamp += timedelta(seconds=offset())

    iam_models.mark_account_as_visited = mark_account_as_visited
    iam_models._dated_by_harness = True  # type: ignore[attr-defined]


def _log_settings(logging_config: dict) -> dict[str, str]:
    """The runtime's environment for the function's LoggingConfig: AWS_LAMBDA_LOG_FORMAT, and in JSON
    format AWS_LAMBDA_LOG_LEVEL (ApplicationLogLevel)."""
    settings = {"AWS_LAMBDA_LOG_FORMAT": logging_config.get("LogFormat", "Text").upper()}
    if settings["AWS_LAMBDA_LOG_FORMAT"] == "JSON":
        settings["AWS_LAMBDA_LOG_LEVEL"] = logging_config.get("ApplicationLogLevel", "INFO")
    return settings


def _username_of(event: Any) -> str | None:
    """The user an invocation is about: handler events name it, the rotator's states nest it."""
    if not isinstance(event, dict):
        return None
    user = event.get("user")
    return user.get("username") if isinstance(user, dict) else event.get("username")


def _mend_sfn_integration() -> None:
    """moto 5.2.5 passes the ASL's parameters to boto3 as written (StateMachineArn, Input, Name)
    and reads boto3's responses as if they were written so (ExecutionArn, Output): each raises
    a KeyError. Translate both ways, as AWS's own integration does."""
    if getattr(StateTaskServiceSfn, "_mended", False):
        return
    normalise_parameters = StateTaskServiceSfn._normalise_parameters
    normalise_response = StateTaskServiceSfn._normalise_response

    def parameters(self, parameters, boto_service_name=None, service_action_name=None):
        normalise_parameters(self, parameters, boto_service_name, service_action_name)
        if service_action_name is None:
            for key in list(parameters):
                parameters[key[0].lower() + key[1:]] = parameters.pop(key)

    def response(self, response, boto_service_name=None, service_action_name=None):
        if isinstance(response, dict):
            for key in list(response):
                response[key[0].upper() + key[1:]] = response.pop(key)
        normalise_response(self, response, boto_service_name, service_action_name)

    StateTaskServiceSfn._normalise_parameters = parameters  # type: ignore[method-assign]
    StateTaskServiceSfn._normalise_response = response  # type: ignore[method-assign]
    StateTaskServiceSfn._mended = True  # type: ignore[attr-defined]


def _mend_send_task_failure() -> None:
    """moto 5.2.5 drops SendTaskFailure's cause (its parser backend takes one): pass it on, as AWS
    does into the failed task's error output."""
    from moto.core.responses import EmptyResult

    def send_task_failure(self: StepFunctionResponse) -> Any:
        self.stepfunction_backend.send_task_failure(  # type: ignore[call-arg]
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    StepFunctionResponse.send_task_failure = send_task_failure  # type: ignore[method-assign]
