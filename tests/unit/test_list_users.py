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


# One parameter per user, as the module stores them (there named by a hash of the username).
PARTS = {"/rotator/users/1": USERS[0], "/rotator/users/2": USERS[1], "/rotator/users/3": USERS[2]}


@pytest.fixture
def parameter(ssm, monkeypatch):
    for name, user in PARTS.items():
        ssm.put_parameter(Name=name, Type="String", Value=json.dumps(user))
    monkeypatch.setenv("USERS_PARAMETER_PATH", "/rotator/users")
    monkeypatch.setenv("BATCH_SIZE", "2")


def test_splits_every_user_into_batches_of_usernames_without_metadata(parameter, context):
    result = list_users.handler({"input": {}, **RUN}, context)
    assert result == {
        "batches": [
            {"parameters": ["/rotator/users/1", "/rotator/users/2"], "usernames": ["homer", "marge"]},
            {"parameters": ["/rotator/users/3"], "usernames": ["ned"]},
        ],
        "rotation": ROTATION,
    }


def test_a_batch_names_every_parameter_its_users_are_in(parameter, context, monkeypatch):
    monkeypatch.setenv("BATCH_SIZE", "3")
    result = list_users.handler({"input": {}, **RUN}, context)
    assert result["batches"] == [
        {
            "parameters": ["/rotator/users/1", "/rotator/users/2", "/rotator/users/3"],
            "usernames": ["homer", "marge", "ned"],
        }
    ]


def test_loads_a_batch_with_metadata_unchanged_and_the_rotation(parameter, context):
    batch = {"parameters": ["/rotator/users/2", "/rotator/users/3"], "usernames": ["marge", "ned"]}
    result = list_users.handler({**batch, "rotation": ROTATION}, context)
    # The rotation once, beside the users: the batch's Map hands it to each user.
    assert result == {"users": USERS[1:], "unlisted": [], "rotation": ROTATION}


def test_a_user_removed_since_the_run_started_is_not_loaded(parameter, context):
    batch = {"parameters": ["/rotator/users/1"], "usernames": ["homer", "bart"]}
    result = list_users.handler({**batch, "rotation": ROTATION}, context)
    assert result == {"users": [USERS[0]], "unlisted": ["bart"], "rotation": ROTATION}


def test_selects_one_user_case_insensitively(parameter, context):
    result = list_users.handler({"input": {"username": "MARGE"}, **RUN}, context)
    assert result["batches"] == [{"parameters": ["/rotator/users/2"], "usernames": ["marge"]}]


def test_passes_the_scheduled_time_on(parameter, context):
    result = list_users.handler({"input": {"scheduledTime": "2026-11-27T10:00:00Z"}, **RUN}, context)
    assert result["rotation"]["scheduledTime"] == "2026-11-27T10:00:00Z"


def test_rejects_a_user_not_in_the_list(parameter, context):
    with pytest.raises(UserNotListedError, match="'bart' is not in the users list"):
        list_users.handler({"input": {"username": "bart"}, **RUN}, context)


def test_a_user_read_twice_is_rotated_once(ssm, parameter, context):
    """Read while `terraform apply` moves a user from one stored part to another."""
    ssm.put_parameter(Name="/rotator/users/002", Type="String", Value=json.dumps([{"username": "HOMER"}]))
    batches = list_users.handler({"input": {}, **RUN}, context)["batches"]
    assert sorted(u.lower() for b in batches for u in b["usernames"]) == ["homer", "marge", "ned"]


def test_reads_the_lists_stored_before_2_0_during_the_upgrade(ssm, context, monkeypatch):
    """Until the upgrade's apply replaces them, users may still be in one JSON array per parameter."""
    ssm.put_parameter(Name="/rotator/users/000", Type="String", Value=json.dumps(USERS[:2]))
    ssm.put_parameter(Name="/rotator/users/3", Type="String", Value=json.dumps(USERS[2]))
    monkeypatch.setenv("USERS_PARAMETER_PATH", "/rotator/users")
    monkeypatch.setenv("BATCH_SIZE", "10")
    (batch,) = list_users.handler({"input": {}, **RUN}, context)["batches"]
    assert batch == {
        "parameters": ["/rotator/users/000", "/rotator/users/3"],
        "usernames": ["homer", "marge", "ned"],
    }
    loaded = list_users.handler({**batch, "rotation": ROTATION}, context)
    assert loaded == {"users": USERS, "unlisted": [], "rotation": ROTATION}
