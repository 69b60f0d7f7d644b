"""Fault injection: the module deployed with Terraform, the real state machine run against
injected failures. Every case checks the keys and secrets left behind and the run's status, and
that no secret access key reached the execution history or any Lambda's log output."""

import contextlib
import hashlib
import json
import threading
from datetime import datetime, timedelta, timezone

import pytest

from harness.terraform import TerraformRoot

LISTED = ["ok-1", "ok-2", "ok-3", "pathy", "raises", "slow", "ghost", "two-active", "one-inactive"]
USERS = {u: "/" for u in LISTED if u != "ghost"} | {"pathy": "/team/", "undo-1": "/"}


def variables(third_party, listed=LISTED):
    return {
        "third_party_url": third_party.url,
        "users": USERS,
        "listed": listed,
        "listed_deactivate": ["undo-1"],
    }


@pytest.fixture(scope="module")
def root(aws, tmp_path_factory):
    return TerraformRoot("tests/fixtures/faults", tmp_path_factory.mktemp("faults"), aws.endpoint)


@pytest.fixture(scope="module")
def stack(root, third_party):
    return root.apply(variables(third_party))


@pytest.fixture(autouse=True)
def clean_slate(aws, third_party):
    """Each case starts with no injected fault and ends without leaks or leftover secrets."""
    aws.faults.clear()
    third_party.reset()
    aws.lambda_hook = None
    first_invocation = len(aws.invocations)
    executions = []
    yield executions
    aws.faults.clear()
    aws.lambda_hook = None
    # This fixture's rotators' secrets (other test files' stacks may share this emulated AWS).
    secrets = aws.client("secretsmanager").list_secrets()["SecretList"]
    assert [s["Name"] for s in secrets if s["Name"].startswith(("faults/", "faults-deactivate/"))] == []
    logs = "\n".join(i.logs for i in aws.invocations[first_invocation:])
    histories = "".join(json.dumps(aws.history(arn), default=str) for arn in executions)
    for secret in aws.issued_secrets:
        assert secret not in logs, "a secret access key reached a Lambda's log output"
        assert secret not in histories, "a secret access key reached the execution history"


def give_keys(aws, user, active=1, inactive=0):
    iam = aws.client("iam")
    for key_id in aws.access_keys(user):
        iam.delete_access_key(UserName=user, AccessKeyId=key_id)
    made = [
        iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"] for _ in range(active + inactive)
    ]
    for key_id in made[active:]:
        iam.update_access_key(UserName=user, AccessKeyId=key_id, Status="Inactive")
    return aws.access_keys(user)


def run(aws, stack, executions, payload, machine="state_machine_arn", timeout=120):
    execution = aws.run_execution(stack[machine], payload, timeout=timeout)
    executions.append(execution["executionArn"])
    return execution


def failed_users_published(aws, rotator, since):
    """How many FailedUsers datapoints the rotator's runs published since then, and the highest."""
    points = aws.client("cloudwatch").get_metric_statistics(
        Namespace="IAMCredentialsRotator",
        MetricName="FailedUsers",
        Dimensions=[{"Name": "Rotator", "Value": rotator}],
        StartTime=since - timedelta(seconds=1),
        EndTime=datetime.now(timezone.utc) + timedelta(minutes=1),
        Period=86400,
        Statistics=["SampleCount", "Maximum"],
    )["Datapoints"]
    return sum(p["SampleCount"] for p in points), max((p["Maximum"] for p in points), default=None)


def assert_rotated(aws, third_party, user, before):
    after = aws.access_keys(user)
    assert len(after) == 1 and list(after.values()) == ["Active"], (user, after)
    (new_id,) = after
    assert new_id not in before
    assert third_party.latest(user)["AccessKeyId"] == new_id


def test_one_users_failure_is_isolated_and_the_run_fails_naming_each(aws, stack, third_party, clean_slate):
    before = {u: give_keys(aws, u) for u in ["ok-1", "ok-2", "ok-3", "pathy", "raises", "slow"]}
    before["two-active"] = give_keys(aws, "two-active", active=2)
    before["one-inactive"] = give_keys(aws, "one-inactive", active=1, inactive=1)
    third_party.fail_for.add("raises")
    third_party.delay_for["slow"] = 20  # longer than the handler's 10 s timeout

    started = datetime.now(timezone.utc)
    execution = run(aws, stack, clean_slate, {})

    assert execution["status"] == "FAILED"
    assert execution["error"] == "RotationFailedError"
    cause = json.loads(execution["cause"])["errorMessage"]
    assert cause.startswith("4 of 9 users not rotated: ")
    # The run's report published its count for the failure alarm: one datapoint, 4 users.
    assert failed_users_published(aws, "faults", started) == (1, 4)
    assert "raises (HTTPError: HTTP Error 500: Internal Server Error)" in cause
    assert "slow (Sandbox.Timedout: Task timed out after 10.00 seconds)" in cause
    assert "ghost (NoSuchEntityException: " in cause and "ghost cannot be found" in cause
    assert "two-active (TwoActiveKeysError: User two-active has two active access keys" in cause
    for user in ["ok-1", "ok-2", "ok-3", "pathy", "one-inactive"]:
        assert_rotated(aws, third_party, user, before[user])
    # The third party's key is untouched wherever the hand-off did not happen.
    for user in ["raises", "two-active"]:
        assert aws.access_keys(user) == before[user], user
    # A timed-out handler may have delivered the key: both are kept, and the run says which is which.
    (old,) = before["slow"]
    (new,) = set(aws.access_keys("slow")) - {old}
    assert aws.access_keys("slow") == {old: "Active", new: "Active"}
    assert f"both keys were kept: {old} (old) and {new} (new)" in cause
    aws.client("iam").delete_access_key(UserName="slow", AccessKeyId=new)  # as its operator would


def test_a_crash_between_key_creation_and_storage_is_resumed_on_retry(aws, stack, third_party, clean_slate):
    before = give_keys(aws, "ok-1")
    issued = len(aws.issued_secrets)
    aws.faults.add("CrashRotateBeforePutSecretValue", "ok-1")

    execution = run(aws, stack, clean_slate, {"username": "ok-1"})

    assert execution["status"] == "SUCCEEDED", execution
    assert_rotated(aws, third_party, "ok-1", before)
    assert len(aws.issued_secrets) - issued == 2  # the crashed attempt's key, deleted, and the delivered one
    rotate_runs = [
        i
        for i in aws.invocations
        if i.function_name == "faults-rotate" and i.event["user"]["username"] == "ok-1"
    ]
    assert [i.result.get("errorType") for i in rotate_runs[-2:]] == ["Runtime.ExitError", None]


def test_each_step_run_twice_after_success_does_the_work_once(aws, stack, third_party, clean_slate):
    """Lambda loses the answer of RotateKey, HandOff and CleanUp after each ran to the end: Step Functions
    retries each (Lambda.ServiceException), so each runs twice with the same event, and the second run
    must find the work done: one new key, handed off as the same key, one old key retired."""
    (old,) = give_keys(aws, "ok-2")
    first, delivered = len(aws.invocations), len(third_party.deliveries)
    functions = {f"faults-{name}" for name in ["rotate", "handoff", "cleanup"]}
    aws.answers_lost |= functions
    try:
        execution = run(aws, stack, clean_slate, {"username": "ok-2"})
    finally:
        left, aws.answers_lost = set(aws.answers_lost), set()

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert left == set(), left  # every answer was lost once
    ran = [i for i in aws.invocations[first:] if i.function_name in functions]
    for name in functions:
        once, twice = [i for i in ran if i.function_name == name]
        assert once.event == twice.event and not once.errored and not twice.errored, name
        if name == "faults-rotate":
            assert once.result == twice.result
    # The clean-up's second run finds the old key retired and the secret gone: the user is rotated again,
    # though no longer marked unconfirmed (neither key seen in use), which only the first run could tell.
    once, twice = [i.result for i in ran if i.function_name == "faults-cleanup"]
    assert once["rotated"] == twice["rotated"] == ["ok-2"] and once["failed"] == twice["failed"] == []
    assert sum(i.api_calls.count("iam:CreateAccessKey") for i in ran) == 1
    new = third_party.latest("ok-2")["AccessKeyId"]
    assert {d["AccessKeyId"] for d in third_party.deliveries[delivered:] if d["username"] == "ok-2"} == {new}
    assert aws.access_keys("ok-2") == {new: "Active"} and new != old


def test_a_second_run_leaves_a_user_alone_while_another_rotates_it(aws, stack, third_party, clean_slate):
    before = give_keys(aws, "pathy")
    delivered = len(third_party.deliveries)
    reached, release = threading.Event(), threading.Event()

    def hold_first_hand_off(function_name, event):
        if function_name == "faults-handler" and event.get("username") == "pathy" and not reached.is_set():
            reached.set()
            release.wait(60)
        return

    aws.lambda_hook = hold_first_hand_off
    first = aws.start_execution(stack["state_machine_arn"], json.dumps({"username": "pathy"}))
    clean_slate.append(first)
    assert reached.wait(60)
    second = run(aws, stack, clean_slate, {"username": "pathy"})
    release.set()
    first_result = aws.wait_execution(first)

    assert second["status"] == "SUCCEEDED"
    summary = json.loads(second["output"])
    assert summary["skipped"] == ["pathy"]
    assert summary["details"]["pathy"].startswith(
        "RotationInProgressError: User pathy is being rotated by execution"
    )
    assert first_result["status"] == "SUCCEEDED"
    assert_rotated(aws, third_party, "pathy", before)
    # One hand-off, the first run's, and its key is the one that stays.
    assert [d["AccessKeyId"] for d in third_party.deliveries[delivered:] if d["username"] == "pathy"] == list(
        aws.access_keys("pathy")
    )


def test_deactivate_keeps_an_undo_key_for_one_period_and_a_retried_event_rotates_nothing(
    aws, stack, third_party, clean_slate
):
    (k0,) = give_keys(aws, "undo-1")
    (period_1,) = aws.run_schedule("faults-deactivate")
    clean_slate.append(period_1["executionArn"])
    assert period_1["status"] == "SUCCEEDED", period_1
    k1 = third_party.latest("undo-1")["AccessKeyId"]
    assert aws.access_keys("undo-1") == {k0: "Inactive", k1: "Active"}

    # EventBridge delivers the same scheduled event again: nothing is rotated twice.
    event_time = json.loads(period_1["input"])["scheduledTime"]
    (retry,) = aws.run_schedule("faults-deactivate", event_time=event_time)
    clean_slate.append(retry["executionArn"])
    assert retry["status"] == "SUCCEEDED"
    assert json.loads(retry["output"])["skipped"] == ["undo-1"]
    assert aws.access_keys("undo-1") == {k0: "Inactive", k1: "Active"}

    (period_2,) = aws.run_schedule("faults-deactivate")
    clean_slate.append(period_2["executionArn"])
    assert period_2["status"] == "SUCCEEDED", period_2
    k2 = third_party.latest("undo-1")["AccessKeyId"]
    assert aws.access_keys("undo-1") == {k1: "Inactive", k2: "Active"}


def test_throttled_iam_calls_are_retried(aws, stack, third_party, clean_slate):
    before = give_keys(aws, "ok-3")
    aws.faults.add("CreateAccessKey", "ok-3", times=3)
    aws.faults.add("DeleteAccessKey", "ok-3", times=3)
    calls = dict(aws.faults.calls)

    execution = run(aws, stack, clean_slate, {"username": "ok-3"})

    assert execution["status"] == "SUCCEEDED", execution
    assert_rotated(aws, third_party, "ok-3", before)
    assert aws.faults.calls[("CreateAccessKey", "ok-3")] - calls.get(("CreateAccessKey", "ok-3"), 0) == 4
    assert aws.faults.calls[("DeleteAccessKey", "ok-3")] - calls.get(("DeleteAccessKey", "ok-3"), 0) == 4


def test_create_access_key_throttled_for_good_changes_nothing(aws, stack, third_party, clean_slate):
    before = give_keys(aws, "ok-1")
    aws.faults.add("CreateAccessKey", "ok-1", times=None)

    execution = run(aws, stack, clean_slate, {"username": "ok-1"})

    assert execution["status"] == "FAILED"
    # boto3 retried 8 times (standard mode), then the rotation undid itself.
    assert (
        "ok-1 (ClientError: An error occurred (Throttling) when calling the CreateAccessKey operation"
        " (reached max retries: 8): Rate exceeded)" in json.loads(execution["cause"])["errorMessage"]
    )
    assert aws.access_keys("ok-1") == before


def test_delete_access_key_throttled_for_good_after_hand_off_keeps_both_keys(
    aws, stack, third_party, clean_slate
):
    (old,) = give_keys(aws, "ok-2")
    aws.faults.add("DeleteAccessKey", "ok-2", times=None)

    execution = run(aws, stack, clean_slate, {"username": "ok-2"})

    assert execution["status"] == "FAILED"
    new = third_party.latest("ok-2")["AccessKeyId"]
    # Never roll back after the hand-off: the third party has the new key; the old one is left.
    assert aws.access_keys("ok-2") == {old: "Active", new: "Active"}
    cause = json.loads(execution["cause"])["errorMessage"]
    assert f'The third party has the new key {new}; the old keys ["{old}"]' in cause
    aws.faults.clear()
    aws.client("iam").delete_access_key(UserName="ok-2", AccessKeyId=old)


def test_a_new_key_is_handed_off_once_aws_accepts_it(aws, stack, third_party, clean_slate):
    before = give_keys(aws, "ok-3")
    aws.faults.add("GetCallerIdentity", "ok-3", times=2)

    execution = run(aws, stack, clean_slate, {"username": "ok-3"})

    assert execution["status"] == "SUCCEEDED", execution
    assert_rotated(aws, third_party, "ok-3", before)


def test_a_new_key_aws_never_accepts_is_rolled_back(aws, stack, third_party, clean_slate):
    before = give_keys(aws, "ok-1")
    deliveries = len(third_party.deliveries)
    aws.faults.add("GetCallerIdentity", "ok-1", times=None)

    execution = run(aws, stack, clean_slate, {"username": "ok-1"})

    assert execution["status"] == "FAILED"
    assert (
        "ok-1 (KeyNotUsableError: AWS still refused the new key"
        in json.loads(execution["cause"])["errorMessage"]
    )
    assert aws.access_keys("ok-1") == before
    assert len(third_party.deliveries) == deliveries


def test_a_throttled_handler_is_retried_with_backoff(aws, stack, third_party, clean_slate):
    """Lambda's Invoke API refuses the handler's invocation (TooManyRequestsException, HTTP 429) before
    it runs (issue 22, item 9): a refusal, retried."""
    before = give_keys(aws, "ok-2")
    aws.faults.add("InvokeThrottled", "ok-2", times=2)
    calls = aws.faults.calls[("InvokeThrottled", "ok-2")]
    sleeps = len(aws.retry_sleeps)
    execution = run(aws, stack, clean_slate, {"username": "ok-2"})

    assert execution["status"] == "SUCCEEDED", execution
    assert aws.faults.calls[("InvokeThrottled", "ok-2")] - calls == 3  # two refused, the third ran
    assert aws.retry_sleeps[sleeps:] == [2, 4]  # the definition's back-off, recorded, not slept
    assert_rotated(aws, third_party, "ok-2", before)


def test_a_handler_throttled_for_good_is_rolled_back(aws, stack, third_party, clean_slate):
    """The Invoke API never let the handler run: nothing was written, so the rotation is undone."""
    before = give_keys(aws, "ok-1")
    delivered = len(third_party.deliveries)
    aws.faults.add("InvokeThrottled", "ok-1", times=None)

    execution = run(aws, stack, clean_slate, {"username": "ok-1"})

    assert execution["status"] == "FAILED"
    cause = json.loads(execution["cause"])["errorMessage"]
    assert "ok-1 (Lambda.TooManyRequestsException: An error occurred (TooManyRequestsException)" in cause
    assert aws.access_keys("ok-1") == before
    assert len(third_party.deliveries) == delivered
    assert [
        i for i in aws.invocations if i.function_name == "faults-handler" and i.event == {"username": "ok-1"}
    ] == []


def test_a_connection_closed_after_the_handler_ran_keeps_both_keys(aws, stack, third_party, clean_slate):
    """The Invoke API ran the handler (which delivered the key), then the connection closed before its
    answer (botocore's ConnectionClosedError, issue 22, item 9): the outcome is unknown, so the key the
    third party now holds is kept."""
    (old,) = give_keys(aws, "ok-3")
    aws.faults.add("InvokeConnectionClosedAfterRun", "ok-3")

    execution = run(aws, stack, clean_slate, {"username": "ok-3"})

    assert execution["status"] == "FAILED"
    new = third_party.latest("ok-3")["AccessKeyId"]
    assert aws.access_keys("ok-3") == {old: "Active", new: "Active"}
    cause = json.loads(execution["cause"])["errorMessage"]
    assert (
        "ok-3 (HandOffOutcomeUnknownError: The credentials handler did not answer: Connection was closed"
        in cause
    )
    assert f"both keys were kept: {old} (old) and {new} (new)" in cause
    aws.client("iam").delete_access_key(UserName="ok-3", AccessKeyId=old)  # as its operator would


def test_an_answer_after_hand_offs_read_timeout_keeps_both_keys(aws, stack, third_party, clean_slate):
    """The Invoke API ran the handler (which delivered the key), and answered after HandOff's read
    timeout (botocore's ReadTimeoutError, issue 22, item 9): the outcome is unknown, so the key the third
    party now holds is kept."""
    (old,) = give_keys(aws, "ok-3")
    aws.faults.add("InvokeAnswerLate", "ok-3")

    execution = run(aws, stack, clean_slate, {"username": "ok-3"})

    assert execution["status"] == "FAILED"
    assert aws.faults.calls[("InvokeAnswerLate", "ok-3")] >= 1
    new = third_party.latest("ok-3")["AccessKeyId"]
    assert aws.access_keys("ok-3") == {old: "Active", new: "Active"}
    cause = json.loads(execution["cause"])["errorMessage"]
    assert "ok-3 (HandOffOutcomeUnknownError: The credentials handler did not answer: Read timeout" in cause
    assert f"both keys were kept: {old} (old) and {new} (new)" in cause
    aws.client("iam").delete_access_key(UserName="ok-3", AccessKeyId=old)  # as its operator would


def test_a_user_released_by_another_run_after_this_runs_lock_wears_its_tag_again(
    aws, stack, third_party, clean_slate
):
    """Issue 22, item 7: the previous rotation's release (delete the secret, then untag) lands between this
    rotation's TagUser and its first CreateSecret: its untag removes the tag this rotation needs."""
    before = give_keys(aws, "ok-1")
    aws.faults.add("ReleasedAfterLock", "ok-1")
    at_hand_off = []

    def tags_at_hand_off(function_name, event):
        if function_name == "faults-handler" and event.get("username") == "ok-1":
            at_hand_off.extend(t["Key"] for t in in_flight_tags(aws, "ok-1") if t["Value"] == "rotating")
        return

    aws.lambda_hook = tags_at_hand_off
    execution = run(aws, stack, clean_slate, {"username": "ok-1"})

    assert execution["status"] == "SUCCEEDED", execution
    assert aws.faults.calls[("ReleasedAfterLock", "ok-1")] >= 1
    assert at_hand_off == ["iam-credentials-rotator/faults"]
    assert_rotated(aws, third_party, "ok-1", before)
    assert in_flight_tags(aws, "ok-1") == [
        {
            "Key": f"iam-credentials-rotator/faults/{third_party.latest('ok-1')['AccessKeyId']}",
            "Value": "verified",
        }
    ]


def test_a_batch_that_cannot_read_its_users_changes_nothing_and_fails_naming_them(
    aws, stack, third_party, clean_slate
):
    before = {u: give_keys(aws, u) for u in ["ok-1", "ok-2"]}
    # ok-1's parameter (named by a hash of its name): reading the batch's users keeps failing.
    aws.faults.add("GetParameters", "/faults/users/" + hashlib.sha256(b"ok-1").hexdigest()[:32], times=None)
    delivered = len(third_party.deliveries)

    execution = run(aws, stack, clean_slate, {})

    assert execution["status"] == "FAILED"
    cause = json.loads(execution["cause"])["errorMessage"]
    assert cause.startswith("9 of 9 users not rotated: the 9 users of batch 1 (")
    assert "Throttling" in cause
    for user in ["ok-1", "ok-2"]:
        assert aws.access_keys(user) == before[user]
    assert len(third_party.deliveries) == delivered


# Issue 15: the holes a hostile review found.


def test_a_lost_create_access_key_response_leaves_no_orphan_when_the_retry_is_refused(
    aws, stack, third_party, clean_slate
):
    """IAM created the key, its response was lost (HTTP 500), botocore called CreateAccessKey again and
    IAM refused (two keys): RollBack finds the key nobody holds, though its id was never stored."""
    before = give_keys(aws, "ok-1")
    aws.faults.add("CreateAccessKeyResponseLost", "ok-1")

    execution = run(aws, stack, clean_slate, {"username": "ok-1"})

    assert execution["status"] == "FAILED"
    assert "ok-1 (LimitExceededException: " in json.loads(execution["cause"])["errorMessage"]
    assert aws.access_keys("ok-1") == before


def test_a_lost_create_access_key_response_leaves_no_orphan_when_the_retry_succeeds(
    aws, stack, third_party, clean_slate
):
    """With no old key the retried call succeeds: the first key, whose response was lost, is deleted."""
    give_keys(aws, "ok-2", active=0)
    aws.faults.add("CreateAccessKeyResponseLost", "ok-2")

    execution = run(aws, stack, clean_slate, {"username": "ok-2"})

    assert execution["status"] == "SUCCEEDED", execution
    assert aws.access_keys("ok-2") == {third_party.latest("ok-2")["AccessKeyId"]: "Active"}


def test_a_handler_returning_more_than_step_functions_holds_cannot_break_the_run(
    aws, stack, third_party, clean_slate
):
    """The harness enforces AWS's 256 KB and keeps States.DataLimitExceeded out of States.ALL: a handler
    invoked by the state machine itself would fail the whole batch, every user in it left with two keys."""
    before = give_keys(aws, "ok-1")

    def return_300_kb(function_name, event, result):
        return {"echo": "x" * 300_000} if function_name == "faults-handler" else result

    aws.result_hook = return_300_kb
    try:
        execution = run(aws, stack, clean_slate, {"username": "ok-1"})
    finally:
        aws.result_hook = None

    assert execution["status"] == "SUCCEEDED", execution
    assert_rotated(aws, third_party, "ok-1", before)
    (handler_result,) = [i.result for i in aws.invocations if i.function_name == "faults-handler"][-1:]
    assert len(json.dumps(handler_result)) > 256 * 1024


def test_a_user_renamed_between_hand_off_and_clean_up_fails_instead_of_passing_for_rotated(
    aws, stack, third_party, clean_slate
):
    (old,) = give_keys(aws, "ok-3")
    iam = aws.client("iam")

    def rename_after_delivery(function_name, event, result):
        if function_name == "faults-handler" and event.get("username") == "ok-3":
            iam.update_user(UserName="ok-3", NewUserName="ok-3-renamed")
        return result

    aws.result_hook = rename_after_delivery
    try:
        execution = run(aws, stack, clean_slate, {"username": "ok-3"})
    finally:
        aws.result_hook = None
        iam.update_user(UserName="ok-3-renamed", NewUserName="ok-3")

    assert execution["status"] == "FAILED"
    cause = json.loads(execution["cause"])["errorMessage"]
    new = third_party.latest("ok-3")["AccessKeyId"]
    assert (
        f'ok-3 (UserGoneError: The third party has the new key {new}; the old keys ["{old}"] remain' in cause
    )
    assert "no longer exists under that name (renamed or deleted during the rotation)" in cause
    assert aws.access_keys("ok-3") == {old: "Active", new: "Active"}  # nothing silently left behind
    iam.delete_access_key(UserName="ok-3", AccessKeyId=old)  # as its operator would


def in_flight_tags(aws, user):
    tags = aws.client("iam").list_user_tags(UserName=user)["Tags"]
    return [t for t in tags if t["Key"].startswith("iam-credentials-rotator")]


def reach_tags(aws, user):
    """The tags that give the rotator reach over the user (not the keys' marks of origin, issue 22)."""
    return [t for t in in_flight_tags(aws, user) if t["Value"] == "rotating"]


@contextlib.contextmanager
def removed_mid_run(aws, root, third_party, user):
    """Runs the body under IAM's decisions at each call (`policies_enforced`); the function it yields
    applies the stack without the user (once, from a hook mid-run). The stack is restored after."""
    removed = []

    def remove():
        if not removed:
            removed.append(root.apply(variables(third_party, [u for u in LISTED if u != user])))

    aws.policies_enforced = True
    try:
        yield remove
    finally:
        aws.policies_enforced = False
        aws.wait_hook = aws.lambda_hook = None
        root.apply(variables(third_party))
    assert removed, "the user was not removed mid-run"


def test_a_user_removed_from_users_after_its_hand_off_is_still_cleaned_up(
    aws, stack, root, third_party, clean_slate
):
    """`terraform apply` drops the user (and with it the grants naming it) during the run's wait: its
    clean-up, under IAM's decisions at that moment, must still retire the old key and remove the secret."""
    before = give_keys(aws, "ok-2")

    with removed_mid_run(aws, root, third_party, "ok-2") as remove:
        aws.wait_hook = lambda seconds: remove()
        # The run waits for a whole `terraform apply` mid-run: a bound for a loaded machine.
        execution = run(aws, stack, clean_slate, {"username": "ok-2"}, timeout=600)

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert_rotated(aws, third_party, "ok-2", before)
    assert reach_tags(aws, "ok-2") == []  # the rotator keeps no reach over a user it no longer lists


def test_a_user_removed_from_users_before_its_roll_back_is_still_rolled_back(
    aws, stack, root, third_party, clean_slate
):
    """The user is dropped while its handler runs, and the handler fails: RollBack, under IAM's decisions
    at that moment, must still delete the new key and the secret, leaving the third party's key alone."""
    before = give_keys(aws, "ok-1")
    third_party.fail_for.add("ok-1")

    with removed_mid_run(aws, root, third_party, "ok-1") as remove:
        aws.lambda_hook = lambda function_name, event: (
            remove() if function_name == "faults-handler" and event.get("username") == "ok-1" else None
        )
        execution = run(aws, stack, clean_slate, {"username": "ok-1"}, timeout=600)

    assert execution["status"] == "FAILED"
    cause = json.loads(execution["cause"])["errorMessage"]
    assert "ok-1 (HTTPError: HTTP Error 500: Internal Server Error)" in cause
    assert "Rolling back failed too" not in cause
    assert aws.access_keys("ok-1") == before
    # No reach left, and the rolled-back key's mark of origin went with it (a mark of an earlier test's
    # key, deleted by hand by give_keys, may stay: only the clean-up's reading of the marks prunes those).
    (rolled_back,) = [
        i.result["rolledBackAccessKeyIds"]
        for i in aws.invocations
        if i.function_name == "faults-rollback" and i.event["user"]["username"] == "ok-1"
    ][-1:]
    assert len(rolled_back) == 1
    assert reach_tags(aws, "ok-1") == []
    assert f"iam-credentials-rotator/faults/{rolled_back[0]}" not in {
        t["Key"] for t in in_flight_tags(aws, "ok-1")
    }


def test_a_secret_deleted_by_hand_with_a_recovery_window_is_named_with_the_fix(
    aws, stack, third_party, clean_slate
):
    before = give_keys(aws, "ok-1")
    secrets = aws.client("secretsmanager")
    secrets.create_secret(Name="faults/ok-1", SecretString="{}")
    secrets.delete_secret(SecretId="faults/ok-1", RecoveryWindowInDays=7)

    try:
        execution = run(aws, stack, clean_slate, {"username": "ok-1"})
    finally:
        secrets.restore_secret(SecretId="faults/ok-1")
        secrets.delete_secret(SecretId="faults/ok-1", ForceDeleteWithoutRecovery=True)

    assert execution["status"] == "FAILED"
    cause = json.loads(execution["cause"])["errorMessage"]
    assert (
        "ok-1 (SecretPendingDeletionError: The secret faults/ok-1 of user ok-1 was deleted with a recovery window"
        in cause
    )
    assert "aws secretsmanager restore-secret --secret-id 'faults/ok-1'" in cause
    assert "Rolling back failed too" not in cause
    assert aws.access_keys("ok-1") == before


def test_every_secret_is_tagged_with_its_rotator(aws, stack, third_party, clean_slate):
    """So that leftovers of an instance renamed or destroyed mid-run can be found."""
    give_keys(aws, "pathy")
    tags = {}

    def record_tags(function_name, event):
        if function_name == "faults-handler":
            described = aws.client("secretsmanager").describe_secret(SecretId=event["secretName"])
            tags.update({t["Key"]: t["Value"] for t in described.get("Tags", [])})
        return

    aws.lambda_hook = record_tags
    execution = run(aws, stack, clean_slate, {"username": "pathy"})
    assert execution["status"] == "SUCCEEDED", execution
    assert tags == {"iam-credentials-rotator": "faults"}


def test_a_partly_delivered_key_is_retried_then_both_keys_are_kept_naming_what_is_half_written(
    aws, stack, third_party, clean_slate
):
    """The handler contract's PartiallyDeliveredError (issue 13): the third party may need the new key to
    complete its pair, so nothing is rolled back, and the secret (the only copy of the new key's secret)
    is kept for the next run, which resumes the hand-off (issue 22, item 5)."""
    (old,) = give_keys(aws, "ok-2")
    attempts = []
    half = "CI store acme/app: AWS_ACCESS_KEY_ID holds the new key id, AWS_SECRET_ACCESS_KEY was not written"

    def half_written(function_name, event):
        if function_name == "faults-handler" and event.get("username") == "ok-2":
            attempts.append(event["username"])
            return {"errorType": "PartiallyDeliveredError", "errorMessage": half}, True
        return None

    aws.lambda_hook = half_written
    sleeps = len(aws.retry_sleeps)
    execution = run(aws, stack, clean_slate, {"username": "ok-2"})

    assert execution["status"] == "FAILED"
    assert len(attempts) == 4 and aws.retry_sleeps[sleeps:] == [5, 10, 20]
    (new,) = set(aws.access_keys("ok-2")) - {old}
    assert aws.access_keys("ok-2") == {old: "Active", new: "Active"}
    cause = json.loads(execution["cause"])["errorMessage"]
    assert (
        f"ok-2 (PartiallyDeliveredError: {half}): half delivered: both keys kept, {old} (old) and {new} (new)"
        in cause
    )
    # Issue 22, item 5: the secret holds the only copy of the new key's secret: kept, for a bounded time.
    assert "and the secret faults/ok-2, which holds the only copy of the new key's secret, until " in cause
    assert "(6 days 23 hours left): the user's next run resumes the hand-off" in cause
    secrets = aws.client("secretsmanager")
    kept = {t["Key"]: t["Value"] for t in secrets.describe_secret(SecretId="faults/ok-2")["Tags"]}
    until = kept["iam-credentials-rotator:half-delivered-keep-until"]
    assert json.loads(secrets.get_secret_value(SecretId="faults/ok-2")["SecretString"])["AccessKeyId"] == new

    # The third party is fixed; the next run resumes the hand-off with the same key before anything else.
    aws.lambda_hook = None
    resumed = run(aws, stack, clean_slate, {"username": "ok-2"})

    assert resumed["status"] == "SUCCEEDED", resumed
    assert third_party.latest("ok-2")["AccessKeyId"] == new
    secrets_of = {k.access_key_id: k.secret_access_key for k in aws.moto_iam_user("ok-2").access_keys}
    assert third_party.latest("ok-2")["SecretAccessKey"] == secrets_of[new]
    assert aws.access_keys("ok-2") == {new: "Active"}
    assert datetime.fromisoformat(until) > resumed["startDate"]


def test_a_user_read_twice_while_its_parameter_moves_outside_terraform_is_refused(
    aws, stack, third_party, clean_slate
):
    """A second parameter for a listed user, written outside Terraform (it once stood for `terraform
    apply` moving a user mid-run, and the user was rotated once). Issue 24: a parameter Terraform did
    not write is an attack on the list (its metadata may redirect the key), so the run is refused,
    naming it; a real apply writes the definition's list too, which tests/unit/test_list_users.py
    covers."""
    before = give_keys(aws, "ok-3")
    delivered = len(third_party.deliveries)
    ssm = aws.client("ssm")
    ssm.put_parameter(Name="/faults/users/moved", Type="String", Value=json.dumps({"username": "ok-3"}))
    try:
        execution = run(aws, stack, clean_slate, {"username": "ok-3"})
    finally:
        ssm.delete_parameter(Name="/faults/users/moved")

    assert execution["status"] == "FAILED", execution
    assert execution["error"] == "UsersListTamperedError"
    assert json.loads(execution["cause"])["errorMessage"].startswith(
        "/faults/users/moved was added outside Terraform"
    )
    assert aws.access_keys("ok-3") == before
    assert third_party.deliveries[delivered:] == []


def test_a_key_made_by_hand_while_a_dead_attempt_is_resumed_is_never_deleted(
    aws, stack, third_party, clean_slate
):
    """RotateKey dies before CreateAccessKey (here: while marking its lock "creating", after freeing the
    slot of an inactive key); someone creates a key by hand; the resumed attempt must not take it for the
    dead attempt's own."""
    active, inactive = give_keys(aws, "ok-3", active=1, inactive=1)
    aws.faults.add("CrashRotateBeforePutSecretValue", "ok-3")
    by_hand = []

    def human_creates_a_key(function_name, event):
        if function_name == "faults-rotate" and event.get("previousAttemptDied") and not by_hand:
            by_hand.append(aws.client("iam").create_access_key(UserName="ok-3")["AccessKey"]["AccessKeyId"])
        return

    aws.lambda_hook = human_creates_a_key
    execution = run(aws, stack, clean_slate, {"username": "ok-3"})

    # The slot the new key needed is taken by the human's key: the rotation fails and changes nothing more.
    assert execution["status"] == "FAILED"
    assert "ok-3 (LimitExceededException: " in json.loads(execution["cause"])["errorMessage"]
    assert aws.access_keys("ok-3") == {active: "Active", by_hand[0]: "Active"}
    aws.client("iam").delete_access_key(UserName="ok-3", AccessKeyId=by_hand[0])


def test_a_retry_beside_a_live_twin_hands_off_the_key_the_twin_stored(aws, stack, third_party, clean_slate):
    """Lambda reports a service error while RotateKey still runs (held between CreateAccessKey and storing
    its key), and Step Functions retries it: the retry must neither delete the twin's key nor hand off a
    key that is not the one the secret ends up holding."""
    (old,) = give_keys(aws, "ok-1")
    issued = len(aws.issued_secrets)
    aws.held.clear()
    aws.release.clear()
    aws.faults.add("HoldRotateBeforePutSecretValue", "ok-1")
    aws.twins.add("ok-1")
    threading.Timer(6, aws.release.set).start()  # the retry is waiting for its twin by then

    execution = run(aws, stack, clean_slate, {"username": "ok-1"})

    assert execution["status"] == "SUCCEEDED", execution
    assert len(aws.issued_secrets) - issued == 1  # the twin's key, the only one created
    delivered = third_party.latest("ok-1")["AccessKeyId"]
    assert aws.access_keys("ok-1") == {delivered: "Active"} and delivered != old
    assert third_party.latest("ok-1")["SecretAccessKey"] == aws.issued_secrets[-1]


def test_an_inactive_key_deleted_to_make_room_is_named_in_the_runs_result_and_logs(
    aws, stack, third_party, clean_slate
):
    """Issue 22, item 8: the inactive key may have been kept on purpose; deleting it is never silent."""
    before = give_keys(aws, "one-inactive", active=1, inactive=1)
    (inactive,) = [k for k, status in before.items() if status == "Inactive"]
    since = len(aws.invocations)

    execution = run(aws, stack, clean_slate, {"username": "one-inactive"})

    assert execution["status"] == "SUCCEEDED", execution
    assert_rotated(aws, third_party, "one-inactive", before)
    assert json.loads(execution["output"])["inactiveKeysDeleted"] == {"one-inactive": [inactive]}
    (line,) = [
        json.loads(line)
        for i in aws.invocations[since:]
        if i.function_name == "faults-rotate"
        for line in i.logs.splitlines()
        if "inactive key deleted" in line
    ]
    assert line["message"] == "inactive key deleted to make room" and line["access_key_id"] == inactive


def test_a_stale_lock_keeps_both_keys_then_heals_once_one_is_deleted(aws, stack, third_party, clean_slate):
    """Issue 22, item 6: a rotation left mid-way by an execution that ended after RotateKey (its key may
    have been handed off). The next run keeps both keys and names them; once a person deleted the one the
    third party does not use, the run after finishes that rotation by itself and rotates the user, with no
    secret deleted by hand."""
    (old,) = give_keys(aws, "ok-2")
    gone = {"id": "ended", "executionArn": "arn:aws:states:us-east-1:123456789012:execution:faults:ended"}
    response = aws.client("lambda").invoke(
        FunctionName="faults-rotate", Payload=json.dumps({"user": {"username": "ok-2"}, "rotation": gone})
    )
    stale = json.loads(response["Payload"].read())["newAccessKeyId"]

    refused = run(aws, stack, clean_slate, {"username": "ok-2"})

    assert refused["status"] == "FAILED"
    cause = json.loads(refused["cause"])["errorMessage"]
    assert "ok-2 (StaleRotationError: User ok-2 was left mid-rotation by execution" in cause
    assert f"both keys are kept, {old} (old) and {stale} (new), and its secret faults/ok-2." in cause
    assert aws.access_keys("ok-2") == {old: "Active", stale: "Active"}
    assert (
        json.loads(aws.client("secretsmanager").get_secret_value(SecretId="faults/ok-2")["SecretString"])[
            "Rotation"
        ]["Id"]
        == "ended"
    )

    aws.client("iam").delete_access_key(UserName="ok-2", AccessKeyId=old)  # the third party has the new one
    healed = run(aws, stack, clean_slate, {"username": "ok-2"})

    assert healed["status"] == "SUCCEEDED", healed
    assert_rotated(aws, third_party, "ok-2", {old: "Active", stale: "Active"})
    assert reach_tags(aws, "ok-2") == []


def test_with_no_usage_recheck_one_recent_use_of_the_old_key_keeps_both_keys(
    aws, stack, third_party, clean_slate
):
    """Issue 22, item 2: `usage_check.max_wait = "0s"` (faults-deactivate): the first check is the last, so
    one recent use of the old key decides alone, by the same rule: the delivered new key is kept, and
    neither key is deactivated."""
    give_keys(aws, "undo-1", active=0)
    iam = aws.client("iam")
    ci_key = iam.create_access_key(UserName="undo-1")["AccessKey"]  # the key CI holds, and uses once now
    aws.client(
        "sts", aws_access_key_id=ci_key["AccessKeyId"], aws_secret_access_key=ci_key["SecretAccessKey"]
    ).get_caller_identity()
    old = ci_key["AccessKeyId"]
    waits = len(aws.waits)

    execution = run(aws, stack, clean_slate, {"username": "undo-1"}, machine="deactivate_state_machine_arn")

    assert execution["status"] == "FAILED"
    new = third_party.latest("undo-1")["AccessKeyId"]
    assert aws.access_keys("undo-1") == {old: "Active", new: "Active"}
    cause = json.loads(execution["cause"])["errorMessage"]
    assert (
        f"undo-1 (NeverSwitched: the old key {old} was still in use and the new key {new} never was when the "
        "usage check's bound was reached (0 re-checks)): still on the old key: both kept." in cause
    )
    assert len(aws.waits) - waits == 1  # the clean-up's wait, and no re-check
    iam.delete_access_key(UserName="undo-1", AccessKeyId=new)  # as its operator would, once CI is fixed
