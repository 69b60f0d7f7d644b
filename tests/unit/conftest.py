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
