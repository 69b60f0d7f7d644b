from datetime import datetime, timezone

import pytest
from moto.core.exceptions import AccessDeniedError
from moto.iam.exceptions import LimitExceededException
from moto.iam.models import IAMBackend

from rotator import rollback, rotate
from rotator.common import InFlightTagDeniedError, UserTagLimitError

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


def in_flight(iam, username):
    tags = iam.list_user_tags(UserName=username)["Tags"]
    return {t["Key"]: t["Value"] for t in tags if t["Key"].startswith("iam-credentials-rotator/")}


def test_the_user_wears_its_in_flight_tag_from_the_lock_until_the_roll_back(iam, secrets, context):
    """RollBack's grant names the tag, not the user: it must be there whenever a lock is."""
    iam.create_user(UserName="homer", Tags=[{"Key": "team", "Value": "springfield"}])
    rotated = rotate.handler({"user": {"username": "homer"}, "rotation": rotation()}, context)
    # With the new key's mark of origin, once verified (issue 22).
    mark = f"iam-credentials-rotator/rotator/{rotated['newAccessKeyId']}"
    assert in_flight(iam, "homer") == {"iam-credentials-rotator/rotator": "rotating", mark: "verified"}

    rollback.handler({**rotated, "error": ERROR}, context)
    assert in_flight(iam, "homer") == {}
    assert iam.list_user_tags(UserName="homer")["Tags"] == [{"Key": "team", "Value": "springfield"}]


@pytest.fixture
def fifty_tags_at_most(monkeypatch):
    """IAM refuses a 51st tag on a user (LimitExceeded; AWS documents 50 tags per user); moto accepts it."""
    tag_user = IAMBackend.tag_user

    def limited(self, name, tags):
        kept = {t["Key"] for t in self.tagger.list_tags_for_resource(self.get_user(name).arn)["Tags"]}
        if len(kept | {t["Key"] for t in tags}) > 50:
            raise LimitExceededException("Cannot exceed quota for TagsPerUser: 50")
        return tag_user(self, name, tags)

    monkeypatch.setattr(IAMBackend, "tag_user", limited)


def test_a_user_with_fifty_tags_is_refused_before_anything_is_created(
    iam, secrets, context, fifty_tags_at_most
):
    iam.create_user(UserName="marge", Tags=[{"Key": f"t{i}", "Value": "v"} for i in range(50)])
    old = iam.create_access_key(UserName="marge")["AccessKey"]["AccessKeyId"]

    with pytest.raises(UserTagLimitError, match="Remove one of the user's tags"):
        rotate.handler({"user": {"username": "marge"}, "rotation": rotation()}, context)
    assert key_ids(iam, "marge") == {old: "Active"}
    assert secrets.list_secrets()["SecretList"] == []


def test_a_user_with_room_for_the_in_flight_tag_only_is_rotated_without_the_keys_mark(
    iam, secrets, context, fifty_tags_at_most
):
    """The mark of origin is the 51st tag: left out, so an early use of the key counts as the third
    party's (erring towards keeping a key), and the rotation goes on."""
    iam.create_user(UserName="bart", Tags=[{"Key": f"t{i}", "Value": "v"} for i in range(49)])
    iam.create_access_key(UserName="bart")
    rotated = rotate.handler({"user": {"username": "bart"}, "rotation": rotation()}, context)
    assert rotated["newAccessKeyId"] in key_ids(iam, "bart")
    assert in_flight(iam, "bart") == {"iam-credentials-rotator/rotator": "rotating"}


def test_a_role_that_may_not_tag_the_user_is_refused_naming_the_fix(iam, secrets, context, monkeypatch):
    """A permissions boundary without iam:TagUser, or a member role from before the in-flight tag."""
    iam.create_user(UserName="lisa")
    old = iam.create_access_key(UserName="lisa")["AccessKey"]["AccessKeyId"]

    def denied(self, name, tags):
        raise AccessDeniedError("arn:aws:sts::123456789012:assumed-role/rotator-rotate/x", "iam:TagUser")

    monkeypatch.setattr(IAMBackend, "tag_user", denied)
    with pytest.raises(InFlightTagDeniedError, match="role_permissions_boundary_arn.*modules/member-account"):
        rotate.handler({"user": {"username": "lisa"}, "rotation": rotation()}, context)
    assert key_ids(iam, "lisa") == {old: "Active"}
    assert secrets.list_secrets()["SecretList"] == []
