import json

import pytest

from rotator import common, rotate
from rotator.common import TwoActiveKeysError

from .conftest import all_text


@pytest.fixture(autouse=True)
def prefix(monkeypatch):
    monkeypatch.setenv("SECRET_NAME_PREFIX", "rotator/")


def keys(iam, username):
    return {
        k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=username)["AccessKeyMetadata"]
    }


def test_user_without_a_key_gets_one_stored_in_its_secret(iam, secrets, context):
    iam.create_user(UserName="ned", Path="/team/")
    result = rotate.handler({"username": "ned"}, context)

    new_id = result["newAccessKeyId"]
    assert keys(iam, "ned") == {new_id: "Active"}
    assert result["oldAccessKeyIds"] == []
    assert result["secretName"] == f"rotator/ned/{new_id}"
    stored = json.loads(secrets.get_secret_value(SecretId=result["secretName"])["SecretString"])
    assert set(stored) == {"AccessKeyId", "SecretAccessKey", "UserName", "CreateDate"}
    assert stored["AccessKeyId"] == new_id and stored["UserName"] == "ned"
    # The secret goes to Secrets Manager only, never into the state's output.
    assert stored["SecretAccessKey"] not in all_text(result)
    assert "SecretAccessKey" not in all_text(result)
    assert result["handlerEvent"] == {"username": "ned", "secretName": result["secretName"]}


def test_existing_active_key_is_kept_and_reported_as_old(iam, context):
    iam.create_user(UserName="homer")
    old = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    result = rotate.handler({"username": "homer", "metadata": "m"}, context)

    assert result["oldAccessKeyIds"] == [old]
    assert keys(iam, "homer") == {old: "Active", result["newAccessKeyId"]: "Active"}
    assert result["handlerEvent"]["metadata"] == "m"


def test_inactive_key_is_deleted_to_free_the_slot(iam, context):
    iam.create_user(UserName="homer")
    active = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    inactive = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    iam.update_access_key(UserName="homer", AccessKeyId=inactive, Status="Inactive")

    result = rotate.handler({"username": "homer"}, context)
    assert keys(iam, "homer") == {active: "Active", result["newAccessKeyId"]: "Active"}


def test_two_active_keys_change_nothing(iam, secrets, context):
    iam.create_user(UserName="homer")
    before = {iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"] for _ in range(2)}

    with pytest.raises(TwoActiveKeysError, match="two active access keys"):
        rotate.handler({"username": "homer"}, context)
    assert set(keys(iam, "homer")) == before
    assert secrets.list_secrets()["SecretList"] == []


def test_key_is_deleted_when_its_secret_cannot_be_stored(iam, context, monkeypatch):
    iam.create_user(UserName="homer")
    old = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]

    class FailingSecrets:
        def create_secret(self, **kwargs):
            raise RuntimeError("Secrets Manager is down")

    real_client = common.client
    monkeypatch.setattr(
        rotate, "client", lambda s: FailingSecrets() if s == "secretsmanager" else real_client(s)
    )
    with pytest.raises(RuntimeError, match="down"):
        rotate.handler({"username": "homer"}, context)
    assert keys(iam, "homer") == {old: "Active"}


def test_secret_names_stay_valid_for_every_iam_user_name(iam, secrets, context):
    iam.create_user(UserName="a,b+c=d.e@f-g_h")
    result = rotate.handler({"username": "a,b+c=d.e@f-g_h"}, context)
    assert result["secretName"] == f"rotator/a_b+c=d.e@f-g_h/{result['newAccessKeyId']}"
    assert secrets.describe_secret(SecretId=result["secretName"])["Name"] == result["secretName"]
