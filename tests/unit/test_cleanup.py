import json

from rotator import cleanup


def test_deletes_the_superseded_key_and_the_secret(iam, secrets, context):
    iam.create_user(UserName="homer")
    old = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    new = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    secrets.create_secret(Name="rotator/homer/" + new, SecretString=json.dumps({"AccessKeyId": new}))

    result = cleanup.handler(
        {
            "username": "homer",
            "newAccessKeyId": new,
            "oldAccessKeyIds": [old],
            "secretName": "rotator/homer/" + new,
        },
        context,
    )
    assert result == {"username": "homer", "accessKeyId": new, "deletedAccessKeyIds": [old]}
    assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName="homer")["AccessKeyMetadata"]] == [new]
    assert secrets.list_secrets()["SecretList"] == []


def test_keeps_keys_it_did_not_supersede_and_tolerates_a_second_run(iam, secrets, context):
    iam.create_user(UserName="homer")
    new = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    made_by_hand = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    event = {
        "username": "homer",
        "newAccessKeyId": new,
        "oldAccessKeyIds": ["AKIAGONEGONEGONE0000", new],
        "secretName": "rotator/x",
    }

    for _ in range(2):
        assert cleanup.handler(event, context)["deletedAccessKeyIds"] == []
    remaining = {k["AccessKeyId"] for k in iam.list_access_keys(UserName="homer")["AccessKeyMetadata"]}
    assert remaining == {new, made_by_hand}
