import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.secretsmanager.exceptions import InvalidRequestException
from moto.secretsmanager.models import SecretsManagerBackend

from rotator import common, handoff, rollback, rotate
from rotator.common import (
    AlreadyRotatedError,
    KeyNotUsableError,
    RotationInProgressError,
    StaleRotationError,
    TwoActiveKeysError,
    UserNotTaggedError,
    UserPathMismatchError,
)

from .conftest import Context, all_text, key_ids, rotation


def secret(secrets, name):
    return json.loads(secrets.get_secret_value(SecretId=name)["SecretString"])


def test_user_without_a_key_gets_one_stored_in_its_secret(iam, secrets, context):
    iam.create_user(UserName="ned", Path="/team/")
    result = rotate.handler({"user": {"username": "ned", "path": "/team/"}, "rotation": rotation()}, context)

    new_id = result["newAccessKeyId"]
    assert key_ids(iam, "ned") == {new_id: "Active"}
    assert result["secretName"] == "rotator/ned"
    stored = secret(secrets, "rotator/ned")
    assert {"AccessKeyId", "SecretAccessKey", "UserName", "CreateDate"} <= set(stored)
    assert stored["AccessKeyId"] == new_id and stored["UserName"] == "ned"
    assert stored["Rotation"]["Id"] == "run-1" and stored["Rotation"]["ActiveKeyIdsBefore"] == []
    # The secret goes to Secrets Manager only, never into the state's output.
    assert stored["SecretAccessKey"] not in all_text(result)
    assert "SecretAccessKey" not in all_text(result)
    assert handoff.handler_event(result) == {
        "username": "ned",
        "secretName": "rotator/ned",
        "accountId": "123456789012",  # the rotator's own, from the run's ARN
    }


def test_existing_active_key_is_kept_and_reported_as_old(iam, secrets, context):
    iam.create_user(UserName="homer")
    old = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    result = rotate.handler({"user": {"username": "homer", "metadata": "m"}, "rotation": rotation()}, context)

    assert secret(secrets, "rotator/homer")["Rotation"]["ActiveKeyIdsBefore"] == [old]
    assert key_ids(iam, "homer") == {old: "Active", result["newAccessKeyId"]: "Active"}
    assert handoff.handler_event(result)["metadata"] == "m"
    # Acknowledged mode: the task token reaches the handler, beside the usual fields.
    acknowledged = handoff.handler_event({**result, "taskToken": "token-1"})
    assert acknowledged == {
        "username": "homer",
        "secretName": "rotator/homer",
        "accountId": "123456789012",
        "metadata": "m",
        "taskToken": "token-1",
    }


def test_inactive_key_is_deleted_to_free_the_slot(iam, secrets, context):
    iam.create_user(UserName="homer")
    active = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    inactive = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    iam.update_access_key(UserName="homer", AccessKeyId=inactive, Status="Inactive")

    result = rotate.handler({"user": {"username": "homer"}, "rotation": rotation()}, context)
    assert key_ids(iam, "homer") == {active: "Active", result["newAccessKeyId"]: "Active"}
    assert secret(secrets, "rotator/homer")["Rotation"]["ActiveKeyIdsBefore"] == [active]


def test_two_active_keys_change_nothing(iam, secrets, context):
    iam.create_user(UserName="homer")
    before = {iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"] for _ in range(2)}

    with pytest.raises(TwoActiveKeysError, match="two active access keys"):
        rotate.handler({"user": {"username": "homer"}, "rotation": rotation()}, context)
    assert set(key_ids(iam, "homer")) == before
    assert secrets.list_secrets()["SecretList"] == []


def test_a_second_run_of_the_same_rotation_returns_the_same_key(iam, secrets, context):
    iam.create_user(UserName="homer")
    first = rotate.handler({"user": {"username": "homer"}, "rotation": rotation()}, context)
    second = rotate.handler({"user": {"username": "homer"}, "rotation": rotation()}, context)
    assert second == first
    assert list(key_ids(iam, "homer")) == [first["newAccessKeyId"]]


def test_crash_before_the_key_is_stored_is_resumed_without_an_orphan(iam, secrets, context, monkeypatch):
    iam.create_user(UserName="homer")
    old = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]

    class Crash(BaseException):  # not an Exception: nothing in the function handles it, as with a kill
        pass

    real_client = common.client

    def crashing_client(service, **kwargs):
        made = real_client(service, **kwargs)
        if service == "secretsmanager":
            made.put_secret_value = lambda **_: (_ for _ in ()).throw(Crash())
        return made

    monkeypatch.setattr(rotate, "client", crashing_client)
    with pytest.raises(Crash):
        rotate.handler({"user": {"username": "homer"}, "rotation": rotation()}, context)
    assert len(key_ids(iam, "homer")) == 2  # the old key and an unstored one

    monkeypatch.setattr(rotate, "client", real_client)
    result = rotate.handler(  # a new invocation (Lambda said the last one died)
        {"user": {"username": "homer"}, "rotation": rotation(), "previousAttemptDied": True}, Context()
    )
    assert key_ids(iam, "homer") == {old: "Active", result["newAccessKeyId"]: "Active"}
    assert secret(secrets, "rotator/homer")["AccessKeyId"] == result["newAccessKeyId"]
    assert secret(secrets, "rotator/homer")["Rotation"]["ActiveKeyIdsBefore"] == [old]


def test_failure_after_the_key_is_created_deletes_it_and_keeps_the_old_one(
    iam, secrets, context, monkeypatch
):
    iam.create_user(UserName="homer")
    old = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    real_client = common.client

    def failing_client(service, **kwargs):
        made = real_client(service, **kwargs)
        if service == "secretsmanager":
            made.put_secret_value = lambda **_: (_ for _ in ()).throw(RuntimeError("Secrets Manager is down"))
        return made

    monkeypatch.setattr(rotate, "client", failing_client)
    with pytest.raises(RuntimeError, match="down") as failure:
        rotate.handler({"user": {"username": "homer"}, "rotation": rotation()}, context)
    # RotateKey never undoes itself: RollBack, the state its failure leads to, does.
    error = {"Error": type(failure.value).__name__, "Cause": str(failure.value)}
    rollback.handler({"user": {"username": "homer"}, "rotation": rotation(), "error": error}, context)
    assert key_ids(iam, "homer") == {old: "Active"}
    assert secrets.list_secrets()["SecretList"] == []


def test_a_user_held_by_a_running_rotation_is_left_alone(iam, secrets, context):
    iam.create_user(UserName="homer")
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    machine = sfn.create_state_machine(
        name="rotator", definition="{}", roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]
    running = sfn.start_execution(stateMachineArn=machine, name="run-0")["executionArn"]
    rotate.handler(
        {"user": {"username": "homer"}, "rotation": {"id": "run-0", "executionArn": running}}, context
    )
    before = key_ids(iam, "homer")

    with pytest.raises(RotationInProgressError, match="being rotated by execution"):
        rotate.handler({"user": {"username": "homer"}, "rotation": rotation()}, context)
    assert key_ids(iam, "homer") == before
    assert secret(secrets, "rotator/homer")["Rotation"]["Id"] == "run-0"


def test_a_lock_left_by_an_ended_execution_whose_key_may_be_handed_off_keeps_both_keys(iam, secrets, context):
    """Issue 22, item 6: only a person can tell which key the third party holds; once that person
    deletes the other, the next run heals the lock by itself."""
    iam.create_user(UserName="homer")
    old = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    stale = rotate.handler({"user": {"username": "homer"}, "rotation": rotation("gone")}, context)
    new = stale["newAccessKeyId"]
    with pytest.raises(StaleRotationError, match=f"both keys are kept, {old} \\(old\\) and {new} \\(new\\)"):
        rotate.handler({"user": {"username": "homer"}, "rotation": rotation()}, context)
    assert key_ids(iam, "homer") == {old: "Active", new: "Active"}
    assert secret(secrets, "rotator/homer")["Rotation"]["Id"] == "gone"

    iam.delete_access_key(UserName="homer", AccessKeyId=old)  # as the message says
    rotated = rotate.handler({"user": {"username": "homer"}, "rotation": rotation()}, context)
    assert secret(secrets, "rotator/homer")["Rotation"]["Id"] == "run-1"
    assert secret(secrets, "rotator/homer")["Rotation"]["ActiveKeyIdsBefore"] == [new]
    assert key_ids(iam, "homer") == {new: "Active", rotated["newAccessKeyId"]: "Active"}


def test_a_lock_whose_key_was_never_stored_is_undone_by_the_next_run(iam, secrets, context):
    """A rotation that died between CreateAccessKey and storing its key, in a run that ended: nobody
    holds that key."""
    iam.create_user(UserName="homer")
    old = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    past = (datetime.now(timezone.utc) - timedelta(minutes=30)).isoformat()
    record = {
        "UserName": "homer",
        "Rotation": {
            "Id": "gone",
            "ExecutionArn": rotation("gone")["executionArn"],
            "KeyIdsBefore": [old],
            "ActiveKeyIdsBefore": [old],
            "Creating": {"Id": "dead", "At": past, "Deadline": past, "KeyIds": [old]},
        },
    }
    secrets.create_secret(Name="rotator/homer", SecretString=json.dumps(record))
    orphan = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]

    rotated = rotate.handler({"user": {"username": "homer"}, "rotation": rotation()}, context)
    assert orphan not in key_ids(iam, "homer")
    assert key_ids(iam, "homer") == {old: "Active", rotated["newAccessKeyId"]: "Active"}
    assert secret(secrets, "rotator/homer")["Rotation"]["Id"] == "run-1"


def test_a_retried_scheduled_run_does_not_rotate_twice(iam, secrets, context):
    iam.create_user(UserName="homer")
    due = (datetime.now(timezone.utc) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    rotate.handler({"user": {"username": "homer"}, "rotation": rotation("run-1", scheduledTime=due)}, context)
    secrets.delete_secret(SecretId="rotator/homer", ForceDeleteWithoutRecovery=True)  # as CleanUp does
    before = key_ids(iam, "homer")

    with pytest.raises(AlreadyRotatedError, match="created after this scheduled run was due"):
        rotate.handler(
            {"user": {"username": "homer"}, "rotation": rotation("run-2", scheduledTime=due)}, context
        )
    assert key_ids(iam, "homer") == before
    assert secrets.list_secrets()["SecretList"] == []


class FlakySts:
    def __init__(self, failures, arn):
        self.failures, self.arn, self.calls = failures, arn, 0

    def get_caller_identity(self):
        self.calls += 1
        if self.calls <= self.failures:
            raise ClientError(
                {"Error": {"Code": "InvalidClientTokenId", "Message": "not yet"}}, "GetCallerIdentity"
            )
        return {"Arn": self.arn}


def with_sts(monkeypatch, fake):
    real_client = common.client
    monkeypatch.setattr(rotate, "client", lambda s, **kw: fake if s == "sts" else real_client(s, **kw))
    monkeypatch.setattr(rotate.time, "sleep", lambda seconds: None)


def test_new_key_is_handed_off_once_aws_accepts_it(iam, context, monkeypatch):
    iam.create_user(UserName="homer")
    sts = FlakySts(3, "arn:aws:iam::123456789012:user/homer")
    with_sts(monkeypatch, sts)
    result = rotate.handler({"user": {"username": "homer"}, "rotation": rotation()}, context)
    assert sts.calls == 4
    assert list(key_ids(iam, "homer")) == [result["newAccessKeyId"]]


def test_a_key_aws_never_accepts_is_deleted_and_the_old_one_kept(iam, secrets, context, monkeypatch):
    iam.create_user(UserName="homer")
    old = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    with_sts(monkeypatch, FlakySts(10**6, "unused"))
    monkeypatch.setenv("KEY_VERIFICATION_TIMEOUT_SECONDS", "0")
    with pytest.raises(KeyNotUsableError, match="still refused the new key"):
        rotate.handler({"user": {"username": "homer"}, "rotation": rotation()}, context)
    error = {"Error": "KeyNotUsableError", "Cause": "refused"}
    rollback.handler({"user": {"username": "homer"}, "rotation": rotation(), "error": error}, context)
    assert key_ids(iam, "homer") == {old: "Active"}
    assert secrets.list_secrets()["SecretList"] == []


def test_secret_names_stay_valid_and_distinct_for_every_iam_user_name(iam, secrets, context):
    for name in ["a,b", "a_b", "a"]:
        iam.create_user(UserName=name)
    names = {
        rotate.handler({"user": {"username": n}, "rotation": rotation()}, context)["secretName"]
        for n in ["a,b", "a_b", "a"]
    }
    assert names == {"rotator/a/b", "rotator/a_b", "rotator/a"}
    assert {s["Name"] for s in secrets.list_secrets()["SecretList"]} == names


def test_a_user_out_of_reach_is_refused_naming_the_tag_before_anything_is_created(
    iam, secrets, context, monkeypatch
):
    iam.create_user(UserName="lisa")
    monkeypatch.setenv("USER_TAG", "rotated-by=rotator")
    real_client = common.client

    def denying_client(service, **kwargs):
        made = real_client(service, **kwargs)
        if service == "iam":

            def denied(**_):
                raise ClientError(
                    {"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, "ListAccessKeys"
                )

            made.list_access_keys = denied
        return made

    monkeypatch.setattr(common, "client", denying_client)  # iam_client's
    with pytest.raises(
        UserNotTaggedError, match="User lisa is out of this rotator's reach: tag it rotated-by = rotator"
    ):
        rotate.handler({"user": {"username": "lisa"}, "rotation": rotation()}, context)
    assert key_ids(iam, "lisa") == {}
    assert secrets.list_secrets()["SecretList"] == []


def test_a_key_made_by_hand_while_an_attempt_that_died_before_creating_is_resumed_is_kept(
    iam, secrets, context
):
    """The lock is marked "creating" only right before CreateAccessKey: an unknown key found by a
    resumed attempt without that mark is someone else's."""
    iam.create_user(UserName="homer")
    rotate._lock(secrets, "rotator/homer", "homer", rotation(), [], None)  # then the attempt died
    by_hand = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    result = rotate.handler(
        {"user": {"username": "homer"}, "rotation": rotation(), "previousAttemptDied": True}, context
    )
    assert key_ids(iam, "homer") == {by_hand: "Active", result["newAccessKeyId"]: "Active"}


def test_an_unstored_key_of_an_attempt_that_may_still_run_is_not_deleted(iam, secrets, context, monkeypatch):
    """A Lambda service error can be reported while the attempt still runs: its retry leaves the
    attempt's key alone until the attempt has stored it or is past its deadline."""
    iam.create_user(UserName="homer")
    deadline = (datetime.now(timezone.utc) + timedelta(minutes=3)).isoformat()
    live = {"Id": "live", "At": datetime.now(timezone.utc).isoformat(), "Deadline": deadline}
    rotate._lock(secrets, "rotator/homer", "homer", rotation(), [], live)
    its_key = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    monkeypatch.setattr(rotate, "_TWIN_WAIT", timedelta(seconds=0))
    with pytest.raises(common.AttemptInProgressError, match="may still be creating its key"):
        rotate.handler({"user": {"username": "homer"}, "rotation": rotation()}, context)
    assert key_ids(iam, "homer") == {its_key: "Active"}


def test_its_own_lock_whose_create_response_was_lost_is_not_taken_for_a_twin(
    iam, secrets, context, monkeypatch
):
    """CreateSecret succeeded, its response was lost, botocore retried: the lock is this attempt's own."""
    iam.create_user(UserName="homer")
    deadline = (datetime.now(timezone.utc) + timedelta(minutes=3)).isoformat()
    mine = {"Id": context.aws_request_id, "At": datetime.now(timezone.utc).isoformat(), "Deadline": deadline}
    rotate._lock(secrets, "rotator/homer", "homer", rotation(), [], {**mine, "KeyIds": []})
    monkeypatch.setattr(rotate, "_TWIN_WAIT", timedelta(seconds=0))
    result = rotate.handler({"user": {"username": "homer"}, "rotation": rotation()}, context)
    assert list(key_ids(iam, "homer")) == [result["newAccessKeyId"]]


def test_a_lock_taken_once_the_previous_secret_went_puts_the_in_flight_tag_back(
    iam, secrets, context, monkeypatch
):
    """The previous rotation's release deletes its secret, then untags the user: a rotation that tagged
    the user and then waited for that secret to go must tag it again, or its lock is left untagged."""
    iam.create_user(UserName="homer")
    iam.create_access_key(UserName="homer")
    create_secret = SecretsManagerBackend.create_secret
    refused = []

    def still_being_deleted(self, name, *args, **kwargs):
        if not refused:
            refused.append(name)
            iam.untag_user(
                UserName="homer", TagKeys=["iam-credentials-rotator/rotator"]
            )  # the release's untag
            raise InvalidRequestException(
                "You can't create this secret because a secret with this name is already scheduled for deletion."
            )
        return create_secret(self, name, *args, **kwargs)

    monkeypatch.setattr(SecretsManagerBackend, "create_secret", still_being_deleted)
    rotate.handler({"user": {"username": "homer"}, "rotation": rotation()}, context)

    assert refused == ["rotator/homer"]
    tags = iam.list_user_tags(UserName="homer")["Tags"]
    assert {"Key": "iam-credentials-rotator/rotator", "Value": "rotating"} in tags


def test_a_user_found_at_another_path_than_declared_is_refused_naming_both_paths(iam, secrets, context):
    """Issue 24: the users list names one exact user; "*" keeps accepting any path."""
    iam.create_user(UserName="moved", Path="/elsewhere/")
    for declared in [None, "/team/"]:
        user = {"username": "moved", **({"path": declared} if declared else {})}
        with pytest.raises(UserPathMismatchError) as refused:
            rotate.handler({"user": user, "rotation": rotation()}, context)
        assert str(refused.value) == (
            f"User moved is at path /elsewhere/, not at path {declared or '/'} as its entry in users declares; "
            'nothing was changed. Set path = "/elsewhere/" in its entry (or "*" for any path) if this is the user meant.'
        )
        assert key_ids(iam, "moved") == {}
        assert secrets.list_secrets()["SecretList"] == []
        assert iam.list_user_tags(UserName="moved")["Tags"] == []
    result = rotate.handler({"user": {"username": "moved", "path": "*"}, "rotation": rotation()}, context)
    assert key_ids(iam, "moved") == {result["newAccessKeyId"]: "Active"}
