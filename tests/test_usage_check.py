"""The usage check before clean-up (issue 12), end to end on the deployed state machine: the test's
third party really calls AWS with the key it holds (IAM records each key's last use), during the
run's waits, and each row of the README's table is checked by the keys left in IAM, the secrets,
the run's status and report, and the waits the run took."""

import json

import pytest

from harness.terraform import TerraformRoot

USERS = ["switched", "idle", "both", "never", "human", "deactivated", "again", "quarantined"]
FIRST_WAIT, INTERVAL, RECHECKS = (
    300,
    300,
    3,
)  # cleanup_wait_duration 5m; usage_check interval 5m, max_wait 15m


@pytest.fixture(scope="module")
def stack(aws, third_party, tmp_path_factory):
    root = TerraformRoot("tests/fixtures/switch", tmp_path_factory.mktemp("switch"), aws.endpoint)
    return root.apply({"third_party_url": third_party.url, "users": USERS})


@pytest.fixture(autouse=True)
def runs(aws, third_party):
    """Each case: the run's waits move the clock that dates key uses; no leak, no leftover secret."""
    third_party.reset()
    aws.waits_move_last_use_clock, aws.last_use_clock_offset = True, 0.0
    aws.wait_hook = None
    first_invocation = len(aws.invocations)
    executions = []
    yield executions
    aws.wait_hook = None
    aws.waits_move_last_use_clock, aws.last_use_clock_offset = False, 0.0
    # No secret of this rotator's (other test modules' stacks share the emulated AWS and keep theirs).
    secrets = aws.client("secretsmanager").list_secrets()["SecretList"]
    assert [s["Name"] for s in secrets if s["Name"].startswith("switch/")] == []
    logs = "\n".join(i.logs for i in aws.invocations[first_invocation:])
    histories = "".join(json.dumps(aws.history(arn), default=str) for arn in executions)
    for secret in aws.issued_secrets:
        assert secret not in logs and secret not in histories


def old_key(aws, user):
    """The user's one key before the rotation, as its third party holds it."""
    iam = aws.client("iam")
    for key_id in aws.access_keys(user):
        iam.delete_access_key(UserName=user, AccessKeyId=key_id)
    return iam.create_access_key(UserName=user)["AccessKey"]


def use(aws, key):
    """The third party calls AWS with a key: IAM records its last use."""
    caller = aws.client(
        "sts", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    ).get_caller_identity()
    assert caller["Arn"].endswith("/" + key["UserName"])


def third_party_uses(aws, third_party, user, old=None, new=False):
    """During each of the run's waits the third party uses the old key (if given) and the new one
    (if asked), as the handler delivered it."""

    def during_wait(seconds):
        if old is not None:
            use(aws, old)
        if new:
            delivered = third_party.latest(user)
            use(aws, {**delivered, "UserName": user})

    aws.wait_hook = during_wait


def rotate(aws, stack, runs, user):
    waits = len(aws.waits)
    execution = aws.run_execution(stack["state_machine_arn"], {"username": user})
    runs.append(execution["executionArn"])
    return execution, aws.waits[waits:]


def last_used(aws, key_id):
    return aws.client("iam").get_access_key_last_used(AccessKeyId=key_id)["AccessKeyLastUsed"]


def test_a_new_key_in_use_and_the_old_one_not_proves_the_switch(aws, stack, third_party, runs):
    old = old_key(aws, "switched")
    third_party_uses(aws, third_party, "switched", new=True)

    execution, waits = rotate(aws, stack, runs, "switched")

    assert execution["status"] == "SUCCEEDED", execution
    new_id = third_party.latest("switched")["AccessKeyId"]
    assert aws.access_keys("switched") == {new_id: "Active"} and new_id != old["AccessKeyId"]
    assert "LastUsedDate" in last_used(aws, new_id)
    report = json.loads(execution["output"])
    assert report["rotated"] == ["switched"] and "unconfirmed" not in report
    assert waits == [FIRST_WAIT]  # decided at the first check


def test_neither_key_in_use_retires_the_old_key_and_says_unconfirmed(aws, stack, third_party, runs):
    old = old_key(aws, "idle")

    execution, waits = rotate(aws, stack, runs, "idle")

    assert execution["status"] == "SUCCEEDED", execution
    new_id = third_party.latest("idle")["AccessKeyId"]
    assert aws.access_keys("idle") == {new_id: "Active"}
    assert last_used(aws, new_id).get("LastUsedDate") is not None  # RotateKey's own check of the key
    report = json.loads(execution["output"])
    assert report["rotated"] == ["idle"] and report["unconfirmed"] == ["idle"]
    assert waits == [FIRST_WAIT]
    assert old["AccessKeyId"] not in aws.access_keys("idle")


def test_both_keys_in_use_until_the_bound_fails_the_user_and_keeps_both(aws, stack, third_party, runs):
    old = old_key(aws, "both")
    third_party_uses(aws, third_party, "both", old=old, new=True)

    execution, waits = rotate(aws, stack, runs, "both")

    assert execution["status"] == "FAILED" and execution["error"] == "RotationFailedError"
    new_id = third_party.latest("both")["AccessKeyId"]
    assert aws.access_keys("both") == {old["AccessKeyId"]: "Active", new_id: "Active"}
    cause = json.loads(execution["cause"])["errorMessage"]
    assert cause.startswith("1 of 1 users not rotated: both (StillInUse: both keys were still in use")
    assert f"{old['AccessKeyId']} (old) and {new_id} (new)): still in use: both kept." in cause
    assert waits == [FIRST_WAIT] + [INTERVAL] * RECHECKS  # checked at each, up to max_wait
    aws.client("iam").delete_access_key(UserName="both", AccessKeyId=old["AccessKeyId"])  # as advised


def test_an_old_key_in_use_and_a_new_one_never_keeps_both_keys_and_fails_the_user(
    aws, stack, third_party, runs
):
    """Issue 22, item 1: the handler delivered the new key, so it is the third party's (a push handler's
    store now holds it, whoever still uses the old one): neither key goes."""
    old = old_key(aws, "never")
    third_party_uses(aws, third_party, "never", old=old)

    execution, waits = rotate(aws, stack, runs, "never")

    assert execution["status"] == "FAILED" and execution["error"] == "RotationFailedError"
    new_id = third_party.latest("never")["AccessKeyId"]
    # The key the third party was given stays, Active, beside the one still in use.
    assert aws.access_keys("never") == {old["AccessKeyId"]: "Active", new_id: "Active"}
    cause = json.loads(execution["cause"])["errorMessage"]
    assert (
        f"never (NeverSwitched: the old key {old['AccessKeyId']} was still in use and the new key {new_id}"
        f" never was when the usage check's bound was reached ({RECHECKS} re-checks)" in cause
    )
    assert f"still on the old key: both kept. The credentials handler delivered {new_id};" in cause
    assert waits == [FIRST_WAIT] + [INTERVAL] * RECHECKS
    use(aws, old)  # both keys still work
    use(aws, {**third_party.latest("never"), "UserName": "never"})
    aws.client("iam").delete_access_key(UserName="never", AccessKeyId=old["AccessKeyId"])  # as advised


def test_a_new_key_deactivated_during_the_wait_keeps_the_old_key(aws, stack, third_party, runs):
    """Issue 22, item 3: a tool removing an "unexpected second key" (or an operator) deactivates the new
    key during the wait; retiring the old key would leave the user with no working key."""
    old = old_key(aws, "deactivated")

    def deactivate_the_new_key(seconds):
        new_id = third_party.latest("deactivated")["AccessKeyId"]
        aws.client("iam").update_access_key(UserName="deactivated", AccessKeyId=new_id, Status="Inactive")

    aws.wait_hook = deactivate_the_new_key

    execution, waits = rotate(aws, stack, runs, "deactivated")

    assert execution["status"] == "FAILED" and execution["error"] == "RotationFailedError"
    new_id = third_party.latest("deactivated")["AccessKeyId"]
    assert aws.access_keys("deactivated") == {old["AccessKeyId"]: "Active", new_id: "Inactive"}
    cause = json.loads(execution["cause"])["errorMessage"]
    assert (
        f"deactivated (NewKeyNotActive: the new key {new_id} was deactivated after the hand-off; "
        f"the old key {old['AccessKeyId']} was kept): the old key kept." in cause
    )
    assert f"--access-key-id {new_id} --status Active" in cause
    assert waits == [FIRST_WAIT]
    use(aws, old)
    aws.client("iam").delete_access_key(UserName="deactivated", AccessKeyId=new_id)


def test_an_early_use_of_a_key_made_by_hand_is_not_taken_for_the_rotators_own(aws, stack, third_party, runs):
    """Issue 22, item 4: a human's key, minutes old and already used by CI, is rotated. Its use falls
    within key_verification_timeout + margin of its creation, but the rotator never verified that key:
    the use is the third party's, so the old key is kept."""
    old = old_key(aws, "human")
    use(aws, old)  # CI's job, right after the human created the key; it runs rarely

    execution, waits = rotate(aws, stack, runs, "human")

    assert execution["status"] == "FAILED" and execution["error"] == "RotationFailedError"
    new_id = third_party.latest("human")["AccessKeyId"]
    assert aws.access_keys("human") == {old["AccessKeyId"]: "Active", new_id: "Active"}
    cause = json.loads(execution["cause"])["errorMessage"]
    assert f"human (NeverSwitched: the old key {old['AccessKeyId']} was still in use" in cause
    assert waits == [FIRST_WAIT] + [INTERVAL] * RECHECKS
    use(aws, old)
    aws.client("iam").delete_access_key(UserName="human", AccessKeyId=new_id)


def test_a_key_the_rotator_made_and_verified_is_rotated_again_within_minutes(aws, stack, third_party, runs):
    """The other side of item 4: the old key's only use is the previous rotation's own check of it, which
    that rotation marked on the user (and the clean-up unmarks with the key)."""
    old_key(aws, "again")
    first, _ = rotate(aws, stack, runs, "again")
    assert first["status"] == "SUCCEEDED", first
    (previous,) = aws.access_keys("again")
    tags = {t["Key"] for t in aws.client("iam").list_user_tags(UserName="again")["Tags"]}
    assert tags == {f"iam-credentials-rotator/switch/{previous}"}
    aws.last_use_clock_offset = 0.0  # the second run starts minutes after the first key's creation

    second, waits = rotate(aws, stack, runs, "again")

    assert second["status"] == "SUCCEEDED", second
    new_id = third_party.latest("again")["AccessKeyId"]
    assert aws.access_keys("again") == {new_id: "Active"} and new_id != previous
    assert waits == [FIRST_WAIT]
    tags = {t["Key"] for t in aws.client("iam").list_user_tags(UserName="again")["Tags"]}
    assert tags == {f"iam-credentials-rotator/switch/{new_id}"}  # the retired key's mark went with it


def test_an_inactive_key_kept_for_an_investigation_refuses_the_user(aws, stack, third_party, runs):
    """Issue 22, item 8: with keep_inactive_keys, an inactive key the rotator did not create is not deleted
    to make room for the new key; the user is refused, and nothing is created."""
    old = old_key(aws, "quarantined")
    iam = aws.client("iam")
    held = iam.create_access_key(UserName="quarantined")["AccessKey"]["AccessKeyId"]
    iam.update_access_key(UserName="quarantined", AccessKeyId=held, Status="Inactive")
    delivered = len(third_party.deliveries)

    execution, waits = rotate(aws, stack, runs, "quarantined")

    assert execution["status"] == "FAILED" and execution["error"] == "RotationFailedError"
    assert aws.access_keys("quarantined") == {old["AccessKeyId"]: "Active", held: "Inactive"}
    cause = json.loads(execution["cause"])["errorMessage"]
    assert (
        f"quarantined (InactiveKeyKeptError: User quarantined has the inactive key {held}, which this "
        "rotator did not create, and keep_inactive_keys forbids deleting it" in cause
    )
    assert len(third_party.deliveries) == delivered
    iam.delete_access_key(UserName="quarantined", AccessKeyId=held)
