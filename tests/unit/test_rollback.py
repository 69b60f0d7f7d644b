from datetime import datetime, timezone

from rotator import rollback, rotate

from .conftest import key_ids, rotation

ERROR = {"Error": "RuntimeError", "Cause": '{"errorMessage": "third party said no"}'}


def test_deletes_the_new_key_and_secret_and_keeps_the_old_key(iam, secrets, context):
    iam.create_user(UserName="homer")
    old = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    rotated = rotate.handler({"user": {"username": "homer"}, "rotation": rotation()}, context)

    for _ in range(2):  # safe to repeat
        result = rollback.handler({**rotated, "error": ERROR}, context)
    assert key_ids(iam, "homer") == {old: "Active"}
    assert secrets.list_secrets()["SecretList"] == []
    assert result["status"] == "FAILED" and result["error"] == "RuntimeError"


def test_leaves_another_rotations_key_and_secret_alone(iam, secrets, context):
    iam.create_user(UserName="homer")
    rotate.handler({"user": {"username": "homer"}, "rotation": rotation("other")}, context)
    before = key_ids(iam, "homer")

    result = rollback.handler(
        {"user": {"username": "homer"}, "rotation": rotation(), "error": ERROR}, context
    )
    assert key_ids(iam, "homer") == before
    assert [s["Name"] for s in secrets.list_secrets()["SecretList"]] == ["rotator/homer"]
    assert result["rolledBackAccessKeyIds"] == []


def test_removes_a_key_a_crashed_attempt_never_stored(iam, secrets, context):
    iam.create_user(UserName="homer")
    old = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    record, _ = rotate._lock(
        secrets,
        "rotator/homer",
        "homer",
        rotation(),
        iam.list_access_keys(UserName="homer")["AccessKeyMetadata"],
        {"Id": "dead", "At": datetime.now(timezone.utc).isoformat(), "Deadline": "unused"},
    )
    orphan = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]

    result = rollback.handler(
        {"user": {"username": "homer"}, "rotation": rotation(), "error": ERROR}, context
    )
    assert result["rolledBackAccessKeyIds"] == [orphan]
    assert key_ids(iam, "homer") == {old: "Active"}


def test_a_refusal_without_a_cause_rolls_back_too(iam, secrets, context):
    """SendTaskFailure's cause is optional: an acknowledged hand-off refused with an error alone."""
    iam.create_user(UserName="bart")
    rotated = rotate.handler({"user": {"username": "bart"}, "rotation": rotation()}, context)

    result = rollback.handler({**rotated, "error": {"Error": "KeyRejected", "Cause": None}}, context)

    assert key_ids(iam, "bart") == {}
    assert (result["error"], result["cause"]) == ("KeyRejected", "")
