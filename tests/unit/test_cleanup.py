import json

from rotator import cleanup, report

from .conftest import key_ids, rotation


def lock(secrets, username, new, old, run="run-1"):
    record = {"AccessKeyId": new, "Rotation": {"Id": run, "ActiveKeyIdsBefore": old}}
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
