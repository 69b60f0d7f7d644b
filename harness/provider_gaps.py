"""Calls hashicorp/aws 5.x makes that moto 5.2.5 does not answer, answered here as AWS documents them
(see tests/README.md). Without them the provider retries an HTTP 500 for minutes and an apply looks hung;
with them every plan and apply runs as on AWS. Each mend is installed once, in the server's process."""

from __future__ import annotations

from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.core.responses import ActionResult
from moto.iam.responses import IamResponse
from moto.stepfunctions.responses import StepFunctionResponse

_LOGGING_CONFIG = "_emulated_logging_config"


def install() -> None:
    if getattr(StepFunctionResponse, "_provider_gaps", False):
        return
    _validate_state_machine_definition()
    _list_state_machine_versions()
    _list_service_specific_credentials()
    _keep_lambda_logging_config()
    _calls_take_turns()
    StepFunctionResponse._provider_gaps = True  # type: ignore[attr-defined]


def _validate_state_machine_definition() -> None:
    """ValidateStateMachineDefinition, which the provider calls at every plan of a known definition:
    moto's own ASL parser (it has the operation, its server does not route it) judges the definition,
    as AWS's validator would refuse a definition it cannot run. (moto's own handler of it imports
    LocalStack, which moto does not ship.)"""
    from moto.stepfunctions.parser.asl.static_analyser.express_static_analyser import (
        ExpressStaticAnalyser,
    )
    from moto.stepfunctions.parser.asl.static_analyser.static_analyser import StaticAnalyser

    def validate(self: StepFunctionResponse) -> ActionResult:
        analyser = ExpressStaticAnalyser() if self._get_param("type") == "EXPRESS" else StaticAnalyser()
        try:
            analyser.analyse(self._get_param("definition"))
        except Exception as error:  # the validator's answer is a FAIL result, never an error
            message = f"{type(error).__name__}: {error}"
            diagnostic = {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": message}
            return ActionResult({"result": "FAIL", "diagnostics": [diagnostic], "truncated": False})
        return ActionResult({"result": "OK", "diagnostics": [], "truncated": False})

    StepFunctionResponse.validate_state_machine_definition = validate  # type: ignore[attr-defined]


def _list_state_machine_versions() -> None:
    """ListStateMachineVersions, which the provider reads after creating a state machine: the versions
    moto keeps (published with `publish = true`), newest first, as AWS lists them."""

    def list_versions(self: StepFunctionResponse) -> ActionResult:
        machine = self.stepfunction_backend.describe_state_machine(self._get_param("stateMachineArn"))
        versions = sorted(machine.versions.values(), key=lambda v: v.version, reverse=True)
        return ActionResult(
            {
                "stateMachineVersions": [
                    {"stateMachineVersionArn": v.arn, "creationDate": v.creation_date} for v in versions
                ]
            }
        )

    StepFunctionResponse.list_state_machine_versions = list_versions  # type: ignore[attr-defined]


def _list_service_specific_credentials() -> None:
    """IAM ListServiceSpecificCredentials, which the provider calls before it destroys a user (to delete
    them first): moto keeps none, so the list is empty, as it is for a user who never had one."""

    def list_credentials(self: IamResponse) -> ActionResult:
        self.backend.get_user(self._get_param("UserName"))  # NoSuchEntity for a user that is not there
        return ActionResult({"ServiceSpecificCredentials": []})

    IamResponse.list_service_specific_credentials = list_credentials  # type: ignore[attr-defined]


def _keep_lambda_logging_config() -> None:
    """moto drops a function's LoggingConfig, so every plan after an apply would set it again. AWS
    keeps it, and answers a function created without one with Text format and the function's own log
    group ([LoggingConfig](https://docs.aws.amazon.com/lambda/latest/api/API_LoggingConfig.html))."""
    create = LambdaFunction.__init__
    describe = LambdaFunction.get_configuration
    update = LambdaFunction.update_configuration

    def init(self: LambdaFunction, *args: Any, **kwargs: Any) -> None:
        create(self, *args, **kwargs)
        spec = kwargs["spec"] if "spec" in kwargs else args[1]
        config = {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{self.function_name}"}
        config.update(spec.get("LoggingConfig") or {})
        setattr(self, _LOGGING_CONFIG, config)

    def get_configuration(self: LambdaFunction, *args: Any, **kwargs: Any) -> dict[str, Any]:
        config = describe(self, *args, **kwargs)
        config["LoggingConfig"] = logging_config(self)
        return config

    def update_configuration(self: LambdaFunction, config_updates: dict[str, Any]) -> dict[str, Any]:
        if "LoggingConfig" in config_updates:
            getattr(self, _LOGGING_CONFIG).update(config_updates["LoggingConfig"])
        return update(self, config_updates)

    LambdaFunction.__init__ = init  # type: ignore[method-assign]
    LambdaFunction.get_configuration = get_configuration  # type: ignore[method-assign]
    LambdaFunction.update_configuration = update_configuration  # type: ignore[method-assign]


def _calls_take_turns() -> None:
    """moto's SSM and CloudWatch Logs backends iterate their dictionaries while another request thread
    adds to them: a DescribeParameters beside a PutParameter, or a DescribeLogGroups beside a
    CreateLogGroup, fails with "dictionary changed size during iteration" (HTTP 500). hashicorp/aws 5.x
    reads each new resource back that way while it creates the others, ten at a time. AWS serves both;
    here those calls of each backend take turns."""
    import threading

    from moto.logs.models import LogsBackend
    from moto.ssm.models import SimpleSystemManagerBackend

    racing = {
        SimpleSystemManagerBackend: [
            "describe_parameters",
            "put_parameter",
            "delete_parameter",
            "delete_parameters",
            "get_parameters_by_path",
            "get_parameters",
        ],
        LogsBackend: ["describe_log_groups", "create_log_group", "delete_log_group"],
    }
    for backend, names in racing.items():
        lock = threading.RLock()
        for name in names:
            method = getattr(backend, name)

            def serialised(
                self: Any, *args: Any, _method: Any = method, _lock: Any = lock, **kwargs: Any
            ) -> Any:
                with _lock:
                    return _method(self, *args, **kwargs)

            setattr(backend, name, serialised)


def logging_config(function: LambdaFunction) -> dict[str, Any]:
    """The function's LoggingConfig as AWS holds it (the emulated runtime reads its log format)."""
    return dict(getattr(function, _LOGGING_CONFIG, None) or {"LogFormat": "Text"})


__all__ = ["install", "logging_config"]
