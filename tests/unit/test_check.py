import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core.exceptions import ServiceException
from moto.iam.models import IAMBackend, iam_backends

from rotator import check
from rotator.common import UsersListTamperedError

from .conftest import REGION, write_users_list

NOW = datetime.now(timezone.utc)


@pytest.fixture
def listed(ssm, iam, monkeypatch):
    """homer and marge in one stored part, ned (with an IAM path) in another, and a listed user
    who does not exist."""
    parts = {
        "/rotator/users/000": [{"username": "homer"}, {"username": "marge", "metadata": "m"}],
        "/rotator/users/001": [{"username": "ned"}, {"username": "ghost"}],
    }
    write_users_list(ssm, monkeypatch, parts)
    for user in ["homer", "marge"]:
        iam.create_user(UserName=user)
    iam.create_user(UserName="ned", Path="/team/")
    iam.create_user(UserName="unlisted")
    monkeypatch.setenv("USERS_PARAMETER_PATH", "/rotator/users")
    monkeypatch.setenv("METRIC_NAMESPACE", "IAMCredentialsRotator")
    monkeypatch.setenv("ROTATOR_NAME", "rotator")


def key(iam, user, age_days, active=True):
    key_id = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    if not active:
        iam.update_access_key(UserName=user, AccessKeyId=key_id, Status="Inactive")
    (record,) = [
        k
        for k in iam_backends["123456789012"]["global"].get_user(user).access_keys
        if k.access_key_id == key_id
    ]
    record.create_date -= timedelta(days=age_days)
    return key_id


def readings():
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    points = cloudwatch.get_metric_statistics(
        Namespace="IAMCredentialsRotator",
        MetricName="OldestAccessKeyAge",
        Dimensions=[{"Name": "Rotator", "Value": "rotator"}],
        StartTime=NOW - timedelta(hours=1),
        EndTime=NOW + timedelta(hours=1),
        Period=7200,
        Statistics=["Maximum", "SampleCount"],
    )["Datapoints"]
    return [(p["Maximum"], p["SampleCount"], p["Unit"]) for p in points]


def test_publishes_the_age_of_the_oldest_active_key_of_the_listed_users(iam, listed, context):
    key(iam, "homer", 3)
    oldest = key(iam, "ned", 40)
    key(iam, "marge", 100, active=False)  # an undo window, not a key in use
    key(iam, "marge", 1)
    key(iam, "unlisted", 400)

    result = check.handler({}, context)

    assert result["username"] == "ned" and result["accessKeyId"] == oldest
    assert 40 * 86400 <= result["oldestKeyAgeSeconds"] < 40 * 86400 + 60
    assert result["users"] == 4 and result["missingUsers"] == ["ghost"]
    assert readings() == [(result["oldestKeyAgeSeconds"], 1, "Seconds")]


def test_publishes_zero_when_no_listed_user_has_an_active_key(iam, listed, context):
    key(iam, "homer", 100, active=False)

    result = check.handler({}, context)

    assert result["oldestKeyAgeSeconds"] == 0 and result["username"] is None
    assert readings() == [(0, 1, "Seconds")]


class AccessDenied(ServiceException):
    code = "AccessDenied"
    message = "not authorized to perform: iam:ListAccessKeys"


def test_publishes_nothing_when_it_cannot_read_a_users_keys(iam, listed, context, monkeypatch):
    """An untagged user (with user_tag_key) is out of the check's reach: it fails, so the alarm
    sees no reading and fires, rather than reporting the others' keys as all there is."""
    key(iam, "homer", 1)
    list_access_keys = IAMBackend.list_access_keys

    def refuse_marge(self, user_name):
        if user_name == "marge":
            raise AccessDenied()
        return list_access_keys(self, user_name)

    monkeypatch.setattr(IAMBackend, "list_access_keys", refuse_marge)

    with pytest.raises(ClientError, match="AccessDenied"):
        check.handler({}, context)
    assert readings() == []


@pytest.mark.parametrize("change", ["deleted", "added", "rewritten"])
def test_publishes_nothing_when_the_users_list_is_not_the_one_terraform_wrote(
    ssm, iam, listed, context, change
):
    """Issue 24: deleting the parameters must not make the check publish an age of 0 (or of fewer
    users' keys) and clear the alarm while the listed users' keys age."""
    key(iam, "homer", 400)
    if change == "deleted":
        for name in ["/rotator/users/000", "/rotator/users/001"]:
            ssm.delete_parameter(Name=name)
    elif change == "added":
        ssm.put_parameter(
            Name="/rotator/users/002", Type="String", Value=json.dumps({"username": "unlisted"})
        )
    else:
        ssm.put_parameter(
            Name="/rotator/users/001", Type="String", Value=json.dumps([{"username": "ned"}]), Overwrite=True
        )
    with pytest.raises(
        UsersListTamperedError, match=f"/rotator/users/00[012] was {change} outside Terraform"
    ):
        check.handler({}, context)
    assert readings() == []
