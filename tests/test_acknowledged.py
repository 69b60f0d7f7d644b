"""Acknowledged hand-offs (issue 12), end to end on the deployed state machine: the handler's event
carries a task token, and the user's hand-off is done only when someone answers with it. Each case
checks the keys left in IAM, the secrets, what the third party received, the run's status and
report, and the execution's history."""

import json
import time

import pytest
from botocore.exceptions import ClientError

from harness.terraform import TerraformRoot

USERS = ["confirmed", "refused", "silent", "failing"]
HANDOFF_TIMEOUT = 1200  # handoff_timeout "20m"
# An answer to a closed task: AWS says TaskTimedOut, moto 5.2.5 InvalidToken (tests/README.md).
CLOSED_TASK = ("TaskTimedOut", "InvalidToken")


@pytest.fixture(scope="module")
def stack(aws, third_party, tmp_path_factory):
    root = TerraformRoot("tests/fixtures/acknowledged", tmp_path_factory.mktemp("acknowledged"), aws.endpoint)
    return root.apply({"third_party_url": third_party.url, "users": USERS})


@pytest.fixture(autouse=True)
def runs(aws, third_party):
    """Each case: no secret access key in any log or history; no secret of this rotator left."""
    third_party.reset()
    first_invocation = len(aws.invocations)
    executions: list[str] = []
    yield executions
    aws.task_timeouts.clear()
    secrets = aws.client("secretsmanager").list_secrets()["SecretList"]
    assert [s["Name"] for s in secrets if s["Name"].startswith("ack/")] == []
    logs = "\n".join(i.logs for i in aws.invocations[first_invocation:])
    histories = "".join(json.dumps(aws.history(arn), default=str) for arn in executions)
    for secret in aws.issued_secrets:
        assert secret not in logs and secret not in histories


def old_key(aws, user):
    iam = aws.client("iam")
    for key_id in aws.access_keys(user):
        iam.delete_access_key(UserName=user, AccessKeyId=key_id)
    return iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]


def start(aws, stack, runs, user):
    arn = aws.start_execution(stack["state_machine_arn"], json.dumps({"username": user}))
    runs.append(arn)
    return arn


def handler_event(aws, user, since, timeout=60):
    """The credentials handler's event for this user, once the handler has returned."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for invocation in aws.invocations[since:]:
            if invocation.function_name == "ack-handler" and invocation.event.get("username") == user:
                return invocation
        time.sleep(0.2)
    raise TimeoutError(f"the handler was not invoked for {user}")


def cleanups_since(aws, since):
    return [i for i in aws.invocations[since:] if i.function_name == "ack-cleanup"]


def test_a_confirmed_hand_off_completes_and_retires_the_old_key(aws, stack, third_party, runs):
    old = old_key(aws, "confirmed")
    since = len(aws.invocations)
    arn = start(aws, stack, runs, "confirmed")

    invocation = handler_event(aws, "confirmed", since)
    event = invocation.event
    assert set(event) == {"username", "secretName", "accountId", "taskToken"}
    assert event["secretName"] == "ack/confirmed"
    new_id = third_party.latest("confirmed")["AccessKeyId"]
    # Delivered, not yet confirmed: the run waits, and nothing is cleaned up.
    time.sleep(3)
    sfn = aws.client("stepfunctions")
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    assert cleanups_since(aws, since) == []
    assert set(aws.access_keys("confirmed")) == {old, new_id}

    sfn.send_task_success(taskToken=event["taskToken"], output=json.dumps({"confirmedBy": "test"}))
    execution = aws.wait_execution(arn)

    assert execution["status"] == "SUCCEEDED", execution
    assert json.loads(execution["output"])["rotated"] == ["confirmed"]
    assert aws.access_keys("confirmed") == {new_id: "Active"}
    # Confirmed twice: the answer to a closed task is refused, and nothing changes.
    with pytest.raises(ClientError) as twice:
        sfn.send_task_success(taskToken=event["taskToken"], output="{}")
    assert twice.value.response["Error"]["Code"] in CLOSED_TASK
    try:  # AWS refuses this too; moto 5.2.5 accepts it silently (tests/README.md)
        sfn.send_task_failure(taskToken=event["taskToken"], error="Late", cause="too late")
        late = None
    except ClientError as error:
        late = error.response["Error"]["Code"]
    assert late in (None, *CLOSED_TASK)
    assert sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    assert aws.access_keys("confirmed") == {new_id: "Active"}
    # What the confirming party sent is dropped: no execution's output carries it.
    outputs = [
        e["executionSucceededEventDetails"]["output"]
        for e in aws.history(arn)
        if e["type"] == "ExecutionSucceeded"
    ]
    assert len(outputs) == 2 and not any("confirmedBy" in output for output in outputs)


def test_a_refused_hand_off_after_the_handler_wrote_keeps_both_keys_naming_the_refusal(
    aws, stack, third_party, runs
):
    """Issue 22, item 1: the handler returned, having written the key to the third party: a refusal does
    not prove that nothing holds the key, so it is not rolled back."""
    old = old_key(aws, "refused")
    since = len(aws.invocations)
    arn = start(aws, stack, runs, "refused")

    event = handler_event(aws, "refused", since).event
    delivered = third_party.latest("refused")["AccessKeyId"]
    aws.client("stepfunctions").send_task_failure(
        taskToken=event["taskToken"], error="KeyRejected", cause="the vendor's console refused the key"
    )
    execution = aws.wait_execution(arn)

    assert execution["status"] == "FAILED" and execution["error"] == "RotationFailedError"
    cause = json.loads(execution["cause"])["errorMessage"]
    assert "refused (KeyRejected: the vendor's console refused the key" in cause
    assert (
        f"The credentials handler had returned, so it may have written the new key: nothing was rolled back, "
        f"both keys were kept: {old} (old) and {delivered} (new)." in cause
    )
    assert aws.access_keys("refused") == {old: "Active", delivered: "Active"} and delivered != old
    aws.client("iam").delete_access_key(UserName="refused", AccessKeyId=delivered)  # as its operator would


def test_no_answer_within_the_timeout_after_the_handler_wrote_keeps_both_keys(aws, stack, third_party, runs):
    # moto waits a task's timeout out for real, so it is shortened; but, as on AWS (handoff_timeout is at
    # least 20 minutes, the HandOff function at most 15), it must outlast the HandOff function, which
    # marks that the handler returned: 3 s did not on a loaded machine, and the run rolled back while
    # HandOff still ran (a case AWS cannot produce).
    aws.task_timeouts[HANDOFF_TIMEOUT] = 20
    old = old_key(aws, "silent")
    since = len(aws.invocations)
    arn = start(aws, stack, runs, "silent")

    event = handler_event(aws, "silent", since).event
    execution = aws.wait_execution(arn)

    assert execution["status"] == "FAILED" and execution["error"] == "RotationFailedError"
    cause = json.loads(execution["cause"])["errorMessage"]
    assert (
        "silent (HandOffNotAcknowledged: Nobody confirmed or refused the hand-off within handoff_timeout (20m)"
        in cause
    )
    delivered = third_party.latest("silent")["AccessKeyId"]
    assert f"both keys were kept: {old} (old) and {delivered} (new)" in cause
    assert aws.access_keys("silent") == {old: "Active", delivered: "Active"}
    # An answer after the timeout is refused: the run has ended.
    with pytest.raises(ClientError) as late:
        aws.client("stepfunctions").send_task_success(taskToken=event["taskToken"], output="{}")
    assert late.value.response["Error"]["Code"] in CLOSED_TASK
    timed_out = [e for e in aws.history(arn) if e["type"] == "TaskTimedOut"]
    assert len(timed_out) == 1
    aws.client("iam").delete_access_key(UserName="silent", AccessKeyId=delivered)


def test_a_failing_handler_rolls_back_without_waiting_for_an_answer(aws, stack, third_party, runs):
    old = old_key(aws, "failing")
    third_party.fail_for.add("failing")

    execution = aws.wait_execution(start(aws, stack, runs, "failing"))

    assert execution["status"] == "FAILED"
    assert aws.access_keys("failing") == {old: "Active"}
    assert "failing (" in json.loads(execution["cause"])["errorMessage"]


def test_the_deployed_batch_waits_for_the_token_and_the_answering_policy_is_output(aws, stack):
    definition = json.loads(
        aws.client("stepfunctions").describe_state_machine(stateMachineArn=stack["batch_state_machine_arn"])[
            "definition"
        ]
    )
    states = definition["States"]["HandOffEachUser"]["ItemProcessor"]["States"]
    handoff = states["HandOff"]
    assert handoff["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert handoff["Parameters"]["FunctionName"].endswith(":function:ack-handoff")
    assert handoff["TimeoutSeconds"] == HANDOFF_TIMEOUT and handoff["ResultPath"] is None
    assert [c["Next"] for c in handoff["Catch"]] == [
        "NotAcknowledged",
        "RollBack",
        "HalfDelivered",
        "Uncertain",
        "RollBack",
    ]
    assert states["Acknowledged"]["Parameters"]["status"] == "HANDED_OFF"
    policy = json.loads(stack["acknowledge_policy_json"])
    (statement,) = policy["Statement"]
    assert sorted(statement["Action"]) == ["states:SendTaskFailure", "states:SendTaskSuccess"]
