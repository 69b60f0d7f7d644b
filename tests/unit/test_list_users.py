import json

import pytest

from rotator import list_users
from rotator.common import UserNotListedError, UsersListTamperedError

from .conftest import write_users_list

USERS = [
    {"username": "homer"},
    {"username": "marge", "metadata": 'ci=circleci;ctx="prod" <&> é ✓'},
    {"username": "ned"},
]
RUN = {
    "executionName": "run-1",
    "executionArn": "arn:aws:states:us-east-1:123456789012:execution:rotator:run-1",
    "listedUsers": "",  # the list Terraform wrote: set by write_users_list
}
ROTATION = {"id": "run-1", "executionArn": RUN["executionArn"]}


# One parameter per user, as the module stores them (there named by a hash of the username).
PARTS = {"/rotator/users/1": USERS[0], "/rotator/users/2": USERS[1], "/rotator/users/3": USERS[2]}


@pytest.fixture
def parameter(ssm, monkeypatch):
    RUN["listedUsers"] = write_users_list(ssm, monkeypatch, PARTS)
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


def test_a_user_read_twice_is_rotated_once(ssm, parameter, context, monkeypatch):
    """Two parameters Terraform wrote name the same user (case aside)."""
    RUN["listedUsers"] = write_users_list(
        ssm, monkeypatch, {**PARTS, "/rotator/users/002": [{"username": "HOMER"}]}
    )
    batches = list_users.handler({"input": {}, **RUN}, context)["batches"]
    assert sorted(u.lower() for b in batches for u in b["usernames"]) == ["homer", "marge", "ned"]


def test_reads_the_lists_stored_before_2_0_during_the_upgrade(ssm, context, monkeypatch):
    """Until the upgrade's apply replaces them, users may still be in one JSON array per parameter."""
    RUN["listedUsers"] = write_users_list(
        ssm, monkeypatch, {"/rotator/users/000": USERS[:2], "/rotator/users/3": USERS[2]}
    )
    monkeypatch.setenv("BATCH_SIZE", "10")
    (batch,) = list_users.handler({"input": {}, **RUN}, context)["batches"]
    assert batch == {
        "parameters": ["/rotator/users/000", "/rotator/users/3"],
        "usernames": ["homer", "marge", "ned"],
    }
    loaded = list_users.handler({**batch, "rotation": ROTATION}, context)
    assert loaded == {"users": USERS, "unlisted": [], "rotation": ROTATION}


# Issue 24: the list is checked against the one Terraform wrote on every read.


@pytest.mark.parametrize("reader", ["ListUsers", "LoadUsers"])
def test_a_parameter_rewritten_outside_terraform_refuses_the_read_naming_it(ssm, parameter, context, reader):
    """ssm:PutParameter alone: marge's metadata now names another destination."""
    marge = {"username": "marge", "metadata": "repository=attacker/loot"}
    ssm.put_parameter(Name="/rotator/users/2", Type="String", Value=json.dumps(marge), Overwrite=True)
    event = (
        {"input": {}, **RUN}
        if reader == "ListUsers"
        else {"parameters": ["/rotator/users/2"], "usernames": ["marge"], "rotation": ROTATION}
    )
    with pytest.raises(UsersListTamperedError, match="^/rotator/users/2 was rewritten outside Terraform"):
        list_users.handler(event, context)


def test_a_value_rewritten_to_the_same_user_with_other_spacing_is_refused_too(ssm, parameter, context):
    """The digest is of the exact value: no parse can tell an equivalent rewrite from an attack."""
    ssm.put_parameter(Name="/rotator/users/1", Type="String", Value='{"username":  "homer"}', Overwrite=True)
    with pytest.raises(UsersListTamperedError, match="/rotator/users/1 was rewritten"):
        list_users.handler({"input": {}, **RUN}, context)


def test_a_parameter_added_outside_terraform_refuses_the_run_naming_it(ssm, parameter, context):
    ssm.put_parameter(Name="/rotator/users/evil", Type="String", Value=json.dumps({"username": "admin"}))
    with pytest.raises(UsersListTamperedError, match="^/rotator/users/evil was added outside Terraform"):
        list_users.handler({"input": {}, **RUN}, context)
    # Even a run for another, listed user: the list as a whole is not the one Terraform wrote.
    with pytest.raises(UsersListTamperedError, match="/rotator/users/evil was added"):
        list_users.handler({"input": {"username": "homer"}, **RUN}, context)


def test_a_parameter_added_outside_terraform_and_named_in_a_batch_is_refused(ssm, parameter, context):
    """A batch started by hand (states:StartExecution) naming a parameter Terraform did not write."""
    ssm.put_parameter(Name="/rotator/users/evil", Type="String", Value=json.dumps({"username": "admin"}))
    batch = {"parameters": ["/rotator/users/1", "/rotator/users/evil"], "usernames": ["homer", "admin"]}
    with pytest.raises(UsersListTamperedError, match="^/rotator/users/evil was added outside Terraform"):
        list_users.handler({**batch, "rotation": ROTATION}, context)


def test_a_parameter_deleted_outside_terraform_refuses_the_run_naming_it(ssm, parameter, context):
    ssm.delete_parameter(Name="/rotator/users/3")
    with pytest.raises(UsersListTamperedError, match="^/rotator/users/3 was deleted outside Terraform"):
        list_users.handler({"input": {}, **RUN}, context)
    batch = {"parameters": ["/rotator/users/3"], "usernames": ["ned"]}
    with pytest.raises(UsersListTamperedError, match="^/rotator/users/3 was deleted outside Terraform"):
        list_users.handler({**batch, "rotation": ROTATION}, context)


def test_every_parameter_deleted_is_not_an_empty_list(ssm, parameter, context):
    for name in PARTS:
        ssm.delete_parameter(Name=name)
    with pytest.raises(UsersListTamperedError) as refused:
        list_users.handler({"input": {}, **RUN}, context)
    assert [f"{n} was deleted outside Terraform" in str(refused.value) for n in PARTS] == [True] * 3


def test_a_user_removed_by_terraform_since_the_run_started_is_unlisted_not_refused(
    ssm, parameter, context, monkeypatch
):
    """`terraform apply` removed ned (its parameter and its line of the definition) after ListUsers ran."""
    ssm.delete_parameter(Name="/rotator/users/3")
    write_users_list(ssm, monkeypatch, {n: u for n, u in PARTS.items() if n != "/rotator/users/3"})
    batch = {"parameters": ["/rotator/users/2", "/rotator/users/3"], "usernames": ["marge", "ned"]}
    result = list_users.handler({**batch, "rotation": ROTATION}, context)
    assert result == {"users": [USERS[1]], "unlisted": ["ned"], "rotation": ROTATION}


def test_an_empty_list_terraform_wrote_is_read_as_empty(ssm, context, monkeypatch):
    RUN["listedUsers"] = write_users_list(ssm, monkeypatch, {})
    monkeypatch.setenv("BATCH_SIZE", "2")
    assert list_users.handler({"input": {}, **RUN}, context)["batches"] == []
