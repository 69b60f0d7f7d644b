import json

import pytest

from rotator import list_users
from rotator.common import UserNotListedError

USERS = [
    {"username": "homer"},
    {"username": "marge", "metadata": 'ci=circleci;ctx="prod" <&> é ✓'},
    {"username": "ned"},
]


@pytest.fixture
def parameter(ssm, monkeypatch):
    ssm.put_parameter(Name="/rotator/users", Type="String", Value=json.dumps(USERS))
    monkeypatch.setenv("USERS_PARAMETER_NAME", "/rotator/users")


def test_returns_every_user_with_metadata_unchanged(parameter, context):
    assert list_users.handler({}, context) == {"users": USERS}


def test_selects_one_user_case_insensitively(parameter, context):
    assert list_users.handler({"username": "MARGE"}, context) == {"users": [USERS[1]]}


def test_rejects_a_user_not_in_the_list(parameter, context):
    with pytest.raises(UserNotListedError, match="'bart' is not in the users list"):
        list_users.handler({"username": "bart"}, context)
