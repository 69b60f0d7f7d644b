import json

import pytest

from rotator import list_users
from rotator.common import UserNotListedError

USERS = [
    {"username": "homer"},
    {"username": "marge", "metadata": 'ci=circleci;ctx="prod" <&> é ✓'},
    {"username": "ned"},
]
RUN = {
    "executionName": "run-1",
    "executionArn": "arn:aws:states:us-east-1:123456789012:execution:rotator:run-1",
}
ROTATION = {"id": "run-1", "executionArn": RUN["executionArn"]}


@pytest.fixture
def parameter(ssm, monkeypatch):
    ssm.put_parameter(Name="/rotator/users", Type="String", Value=json.dumps(USERS))
    monkeypatch.setenv("USERS_PARAMETER_NAME", "/rotator/users")


def test_returns_every_user_with_metadata_unchanged_and_the_rotation(parameter, context):
    result = list_users.handler({"input": {}, **RUN}, context)
    assert result == {"users": [{**u, "rotation": ROTATION} for u in USERS]}


def test_selects_one_user_case_insensitively(parameter, context):
    result = list_users.handler({"input": {"username": "MARGE"}, **RUN}, context)
    assert result == {"users": [{**USERS[1], "rotation": ROTATION}]}


def test_passes_the_scheduled_time_on(parameter, context):
    result = list_users.handler({"input": {"scheduledTime": "2026-11-27T10:00:00Z"}, **RUN}, context)
    assert {u["rotation"]["scheduledTime"] for u in result["users"]} == {"2026-11-27T10:00:00Z"}


def test_rejects_a_user_not_in_the_list(parameter, context):
    with pytest.raises(UserNotListedError, match="'bart' is not in the users list"):
        list_users.handler({"input": {"username": "bart"}, **RUN}, context)
