import json
import uuid

import boto3
import pytest
from moto import mock_aws

REGION = "us-east-1"


@pytest.fixture
def aws_env(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    # Executions stay RUNNING unless asked otherwise (the emulated AWS of other tests executes them).
    with mock_aws(config={"stepfunctions": {"execute_state_machine": False}}):
        yield


@pytest.fixture
def iam(aws_env):
    return boto3.client("iam", region_name=REGION)


@pytest.fixture
def secrets(aws_env):
    return boto3.client("secretsmanager", region_name=REGION)


@pytest.fixture
def ssm(aws_env):
    return boto3.client("ssm", region_name=REGION)


class Context:
    """A Lambda invocation's context: each has its own request id."""

    function_name = "unit-test"

    def __init__(self):
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self):
        return 30_000


@pytest.fixture
def context():
    return Context()


def all_text(value) -> str:
    return json.dumps(value, default=str)


@pytest.fixture(autouse=True)
def prefix(monkeypatch):
    monkeypatch.setenv("SECRET_NAME_PREFIX", "rotator/")
    monkeypatch.setenv("KEY_VERIFICATION_TIMEOUT_SECONDS", "5")
    monkeypatch.setenv("IN_FLIGHT_TAG", "iam-credentials-rotator/rotator=rotating")


def rotation(run_id="run-1", **extra):
    return {
        "id": run_id,
        "executionArn": f"arn:aws:states:us-east-1:123456789012:execution:rotator:{run_id}",
        **extra,
    }


def key_ids(iam, username):
    return {
        k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=username)["AccessKeyMetadata"]
    }


def write_users_list(ssm, monkeypatch, parameters: dict, path: str = "/rotator/users") -> str:
    """Does what `terraform apply` does with the users list: writes each parameter (name -> value, a
    string or JSON-encoded), and the list it wrote ("<id>=<sha256 of the value>,...") into the
    rotation state machine's definition, which LoadUsers and the staleness check read (issue 24).
    Returns the list, as ListUsers' parameters hold it."""
    import hashlib

    values = {n: v if isinstance(v, str) else json.dumps(v) for n, v in parameters.items()}
    for name, value in values.items():
        ssm.put_parameter(Name=name, Type="String", Value=value, Overwrite=True)
    listed = ",".join(
        sorted(f"{n[len(path) + 1:]}={hashlib.sha256(v.encode()).hexdigest()}" for n, v in values.items())
    )
    definition = {
        "StartAt": "ListUsers",
        "States": {"ListUsers": {"Type": "Pass", "Parameters": {"listedUsers": listed}, "End": True}},
    }
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = f"arn:aws:states:{REGION}:123456789012:stateMachine:rotator"
    try:
        sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(definition))
    except sfn.exceptions.StateMachineDoesNotExist:
        sfn.create_state_machine(
            name="rotator",
            definition=json.dumps(definition),
            roleArn="arn:aws:iam::123456789012:role/rotator-state-machine",
        )
    monkeypatch.setenv("ROTATION_STATE_MACHINE_ARN", arn)
    monkeypatch.setenv("USERS_PARAMETER_PATH", path)
    return listed
