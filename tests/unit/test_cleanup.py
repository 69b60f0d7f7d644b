import json

from rotator import cleanup

from .conftest import key_ids


def event(old, new):
    return {"username": "homer", "newAccessKeyId": new, "oldAccessKeyIds": old, "secretName": "rotator/homer"}


def test_deletes_the_superseded_key_and_the_secret(iam, secrets, context):
    iam.create_user(UserName="homer")
    old = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    new = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    secrets.create_secret(Name="rotator/homer", SecretString=json.dumps({"AccessKeyId": new}))

    result = cleanup.handler(event([old], new), context)
    assert result["status"] == "ROTATED" and result["oldKeyAction"] == "delete"
    assert key_ids(iam, "homer") == {new: "Active"}
    assert secrets.list_secrets()["SecretList"] == []


def test_deactivate_keeps_the_old_key_inactive(iam, secrets, context, monkeypatch):
    monkeypatch.setenv("OLD_KEY_ACTION", "deactivate")
    iam.create_user(UserName="homer")
    old = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    new = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    cleanup.handler(event([old], new), context)
    assert key_ids(iam, "homer") == {old: "Inactive", new: "Active"}


def test_keeps_keys_it_did_not_supersede_and_tolerates_a_second_run(iam, secrets, context):
    iam.create_user(UserName="homer")
    new = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    made_by_hand = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    for _ in range(2):
        cleanup.handler(event(["AKIAGONEGONEGONE0000", new], new), context)
    assert set(key_ids(iam, "homer")) == {new, made_by_hand}
