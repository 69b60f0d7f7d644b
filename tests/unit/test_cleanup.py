import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID as ACCOUNT_ID
from moto.iam.models import iam_backends

from rotator import cleanup, report

from .conftest import REGION, key_ids, rotation


def lock(secrets, username, new, old, run="run-1", created=None):
    """The rotation record RotateKey leaves, with its key's creation date."""
    created = created or datetime.now(timezone.utc)
    record = {
        "AccessKeyId": new,
        "CreateDate": created.isoformat(),
        "Rotation": {"Id": run, "ActiveKeyIdsBefore": old},
    }
    secrets.create_secret(Name=f"rotator/{username}", SecretString=json.dumps(record))


def batch(handed_off=(), uncertain=()):
    results = [{"username": u, "status": "HANDED_OFF"} for u in handed_off]
    results += [
        {"username": u, "status": "UNCERTAIN", "error": "Sandbox.Timedout", "cause": "late"}
        for u in uncertain
    ]
    return {"status": "HANDED_OFF", "summary": report.summarize_batch(results, [])}


def test_deletes_each_superseded_key_and_the_secret(iam, secrets, context):
    for user in ["homer", "marge"]:
        iam.create_user(UserName=user)
        old = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
        new = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
        lock(secrets, user, new, [old])

    result = cleanup.handler({"batch": batch(["homer", "marge"]), "rotation": rotation()}, context)
    assert result["rotated"] == ["homer", "marge"] and result["failed"] == []
    assert all(len(key_ids(iam, user)) == 1 for user in ["homer", "marge"])
    assert secrets.list_secrets()["SecretList"] == []


def test_deactivate_keeps_the_old_key_inactive(iam, secrets, context, monkeypatch):
    monkeypatch.setenv("OLD_KEY_ACTION", "deactivate")
    iam.create_user(UserName="homer")
    old = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    new = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    lock(secrets, "homer", new, [old])
    cleanup.handler({"batch": batch(["homer"]), "rotation": rotation()}, context)
    assert key_ids(iam, "homer") == {old: "Inactive", new: "Active"}


def test_keeps_keys_it_did_not_supersede_and_tolerates_a_second_run(iam, secrets, context):
    iam.create_user(UserName="homer")
    new = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    made_by_hand = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    lock(secrets, "homer", new, ["AKIAGONEGONEGONE0000", new])
    for _ in range(2):
        result = cleanup.handler({"batch": batch(["homer"]), "rotation": rotation()}, context)
        assert result["rotated"] == ["homer"]
    assert set(key_ids(iam, "homer")) == {new, made_by_hand}


def test_an_uncertain_hand_off_keeps_both_keys_and_says_which_is_which(iam, secrets, context):
    iam.create_user(UserName="homer")
    old = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    new = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    lock(secrets, "homer", new, [old])
    result = cleanup.handler({"batch": batch(uncertain=["homer"]), "rotation": rotation()}, context)
    assert result["failed"] == ["homer"] and result["details"]["homer"] == "Sandbox.Timedout: late"
    assert f"both keys were kept: {old} (old) and {new} (new)" in result["actions"]["homer"]
    assert key_ids(iam, "homer") == {old: "Active", new: "Active"}
    assert secrets.list_secrets()["SecretList"] == []


def test_a_user_renamed_mid_rotation_fails_instead_of_passing_for_rotated(iam, secrets, context):
    iam.create_user(UserName="homer")
    old = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    new = iam.create_access_key(UserName="homer")["AccessKey"]["AccessKeyId"]
    lock(secrets, "homer", new, [old])
    iam.update_user(UserName="homer", NewUserName="homer-j")
    result = cleanup.handler({"batch": batch(["homer"]), "rotation": rotation()}, context)
    assert result["failed"] == ["homer"] and result["rotated"] == []
    assert "UserGoneError: The third party has the new key" in result["details"]["homer"]
    assert "no longer exists" in result["details"]["homer"]
    assert key_ids(iam, "homer-j") == {old: "Active", new: "Active"}


def test_a_batch_that_failed_as_a_whole_passes_through(context):
    failed = {"status": "FAILED", "index": 0, "usernames": ["homer"], "error": "E", "cause": "c"}
    assert cleanup.handler({"batch": failed, "rotation": rotation()}, context) == failed


# --- the usage check ----------------------------------------------------------------------------


def keys_of(iam, secrets, username):
    """A user with an old and a new key, just created and handed off: (old, new) as created access
    keys (with their secrets, so that the test can use them)."""
    iam.create_user(UserName=username)
    old = iam.create_access_key(UserName=username)["AccessKey"]
    new = iam.create_access_key(UserName=username)["AccessKey"]
    lock(secrets, username, new["AccessKeyId"], [old["AccessKeyId"]], created=new["CreateDate"])
    return old, new


def use(key, later=timedelta(minutes=10)):
    """The third party calls AWS with the key, `later` than now: IAM records the key's last use
    (moto dates it now; the test moves the date, as if it had waited)."""
    boto3.client(
        "sts",
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    ).get_caller_identity()
    iam_backends[ACCOUNT_ID]["global"].access_keys[key["AccessKeyId"]].last_used._timestamp += later


def clean_up(context, users=(), uncertain=(), check_round=0, batch_in=None):
    event = {
        "batch": batch_in or batch(users, uncertain),
        "rotation": rotation(),
        "check": {"round": check_round},
    }
    return cleanup.handler(event, context)


@pytest.fixture
def rounds(monkeypatch):
    monkeypatch.setenv("USAGE_MAX_ROUNDS", "3")


def test_a_new_key_in_use_and_an_old_one_not_proves_the_switch(iam, secrets, context):
    old, new = keys_of(iam, secrets, "homer")
    use(new)
    result = clean_up(context, ["homer"])
    assert result["rotated"] == ["homer"] and result["unconfirmed"] == []
    assert key_ids(iam, "homer") == {new["AccessKeyId"]: "Active"}
    assert secrets.list_secrets()["SecretList"] == []


def test_neither_key_in_use_retires_the_old_key_unconfirmed(iam, secrets, context):
    old, new = keys_of(iam, secrets, "homer")
    result = clean_up(context, ["homer"])
    assert result["rotated"] == ["homer"] and result["unconfirmed"] == ["homer"]
    assert key_ids(iam, "homer") == {new["AccessKeyId"]: "Active"}


def test_the_rotators_own_use_of_the_new_key_right_after_creating_it_proves_nothing(iam, secrets, context):
    old, new = keys_of(iam, secrets, "homer")
    use(new, later=timedelta(seconds=3))  # RotateKey's check that AWS accepts the key
    assert clean_up(context, ["homer"])["unconfirmed"] == ["homer"]


def test_the_old_keys_last_use_by_its_own_rotation_is_not_the_third_partys(iam, secrets, context):
    """Rotated again minutes after its previous rotation, the old key was last used by that
    rotation's check of it: the old key is retired, not waited for."""
    old, new = keys_of(iam, secrets, "homer")
    # That rotation marked the key as its own, once verified (issue 22).
    mark = f"iam-credentials-rotator/rotator/{old['AccessKeyId']}"
    iam.tag_user(UserName="homer", Tags=[{"Key": mark, "Value": "verified"}])
    use(old, later=timedelta(seconds=3))
    result = clean_up(context, ["homer"])
    assert result["rotated"] == ["homer"] and result["unconfirmed"] == ["homer"]
    assert key_ids(iam, "homer") == {new["AccessKeyId"]: "Active"}
    assert iam.list_user_tags(UserName="homer")["Tags"] == []  # the retired key's mark went with it


def test_an_early_use_of_a_key_the_rotator_did_not_make_is_the_third_partys(iam, secrets, context):
    """Issue 22, item 4: a key made by hand, used at once (CI), is not discounted as the rotator's check."""
    old, new = keys_of(iam, secrets, "homer")
    use(old, later=timedelta(seconds=3))
    result = clean_up(context, ["homer"])
    assert result["failed"] == ["homer"]
    assert result["details"]["homer"].startswith(f"NeverSwitched: the old key {old['AccessKeyId']} was still")
    assert key_ids(iam, "homer") == {old["AccessKeyId"]: "Active", new["AccessKeyId"]: "Active"}


@pytest.mark.parametrize("status", ["Inactive", None])
def test_a_new_key_deactivated_or_deleted_during_the_wait_keeps_the_old_key(iam, secrets, context, status):
    """Issue 22, item 3."""
    old, new = keys_of(iam, secrets, "homer")
    if status:
        iam.update_access_key(UserName="homer", AccessKeyId=new["AccessKeyId"], Status=status)
    else:
        iam.delete_access_key(UserName="homer", AccessKeyId=new["AccessKeyId"])
    result = clean_up(context, ["homer"])
    assert result["failed"] == ["homer"] and result["rotated"] == []
    word = "deactivated" if status else "deleted"
    assert result["details"]["homer"] == (
        f"NewKeyNotActive: the new key {new['AccessKeyId']} was {word} after the hand-off; "
        f"the old key {old['AccessKeyId']} was kept"
    )
    expected = {old["AccessKeyId"]: "Active"} | ({new["AccessKeyId"]: status} if status else {})
    assert key_ids(iam, "homer") == expected
    assert secrets.list_secrets()["SecretList"] == []


def test_an_old_key_still_in_use_keeps_the_user_pending_with_both_keys(iam, secrets, context, rounds):
    old, new = keys_of(iam, secrets, "homer")
    use(old)
    use(new)
    result = clean_up(context, ["homer"])
    assert result["pending"] is True and result["status"] == "HANDED_OFF"
    assert result["summary"]["handedOff"] == ["homer"] and result["summary"]["rotated"] == []
    assert datetime.fromisoformat(result["checkedAt"]) <= datetime.now(timezone.utc)
    assert set(key_ids(iam, "homer")) == {old["AccessKeyId"], new["AccessKeyId"]}
    assert len(secrets.list_secrets()["SecretList"]) == 1


def test_a_recheck_compares_with_the_previous_check(iam, secrets, context, rounds):
    old, new = keys_of(iam, secrets, "homer")
    use(old)
    use(new)
    pending = clean_up(context, ["homer"])
    # The previous check came ten minutes after the old key's last use.
    pending["checkedAt"] = (datetime.now(timezone.utc) + timedelta(minutes=20)).isoformat()
    result = clean_up(context, check_round=1, batch_in=pending)
    assert result["rotated"] == ["homer"] and result["unconfirmed"] == []
    assert key_ids(iam, "homer") == {new["AccessKeyId"]: "Active"}


def test_both_keys_in_use_at_the_bound_fails_the_user_and_keeps_both(iam, secrets, context, rounds):
    old, new = keys_of(iam, secrets, "homer")
    use(old)
    use(new)
    result = clean_up(context, ["homer"], check_round=3)
    assert result["failed"] == ["homer"] and "pending" not in result
    assert result["details"]["homer"].startswith("StillInUse: both keys were still in use")
    assert result["actions"]["homer"].startswith("still in use: both kept")
    assert set(key_ids(iam, "homer")) == {old["AccessKeyId"], new["AccessKeyId"]}
    assert secrets.list_secrets()["SecretList"] == []


def test_an_old_key_in_use_and_a_new_one_never_at_the_bound_keeps_both(iam, secrets, context):
    """Issue 22, items 1 and 2: with no re-check rounds the first check is the last, and the delivered
    new key stays whatever the number of rounds."""
    old, new = keys_of(iam, secrets, "homer")
    use(old)
    result = clean_up(context, ["homer"])  # USAGE_MAX_ROUNDS unset: the first check is the last
    assert result["failed"] == ["homer"]
    assert result["details"]["homer"].startswith(f"NeverSwitched: the old key {old['AccessKeyId']} was still")
    assert result["details"]["homer"].endswith("when the usage check's bound was reached (0 re-checks)")
    assert result["actions"]["homer"].startswith("still on the old key: both kept.")
    assert key_ids(iam, "homer") == {old["AccessKeyId"]: "Active", new["AccessKeyId"]: "Active"}
    assert secrets.list_secrets()["SecretList"] == []


def test_an_uncertain_hand_off_whose_new_key_is_in_use_retires_the_old_key(iam, secrets, context):
    old, new = keys_of(iam, secrets, "homer")
    use(new)
    result = clean_up(context, uncertain=["homer"])
    assert result["rotated"] == ["homer"] and result["failed"] == []
    assert key_ids(iam, "homer") == {new["AccessKeyId"]: "Active"}


def test_switched_off_the_old_key_is_retired_unchecked(iam, secrets, context, monkeypatch):
    monkeypatch.setenv("USAGE_CHECK", "off")
    old, new = keys_of(iam, secrets, "homer")
    use(old)
    result = clean_up(context, ["homer"])
    assert result["rotated"] == ["homer"] and result["unconfirmed"] == []
    assert key_ids(iam, "homer") == {new["AccessKeyId"]: "Active"}
