"""End to end: `terraform apply` of examples/basic on the emulated AWS, then real rotations
through the real state machine, checked against IAM, Secrets Manager and the execution history."""

import json
from datetime import datetime, timedelta, timezone

import pytest

from harness.terraform import TerraformRoot

USERS = ["homer", "marge", "ned"]


@pytest.fixture(scope="module")
def stack(aws, third_party, tmp_path_factory):
    root = TerraformRoot("examples/basic", tmp_path_factory.mktemp("basic"), aws.endpoint)
    outputs = root.apply({"third_party_url": third_party.url})
    return root, outputs


def real_secret(aws, username, access_key_id):
    keys = aws.moto_iam_user(username).access_keys
    return next(k.secret_access_key for k in keys if k.access_key_id == access_key_id)


def test_scheduled_run_rotates_every_user_and_hands_off_the_new_key(aws, stack, third_party):
    root, outputs = stack
    iam = aws.client("iam")
    # homer and marge have a key the third party uses; ned (IAM path /team/) has none yet.
    old = {u: iam.create_access_key(UserName=u)["AccessKey"]["AccessKeyId"] for u in ["homer", "marge"]}
    assert iam.get_user(UserName="ned")["User"]["Path"] == "/team/"
    waits_before = len(aws.waits)

    (execution,) = aws.run_schedule("rotator-basic")

    assert execution["status"] == "SUCCEEDED", execution
    # Its report published 0 failed users: the failure alarm's datapoint for a clean run.
    points = aws.client("cloudwatch").get_metric_statistics(
        Namespace="IAMCredentialsRotator",
        MetricName="FailedUsers",
        Dimensions=[{"Name": "Rotator", "Value": "rotator-basic"}],
        StartTime=execution["startDate"] - timedelta(seconds=1),
        EndTime=datetime.now(timezone.utc) + timedelta(minutes=1),
        Period=86400,
        Statistics=["SampleCount", "Maximum"],
    )["Datapoints"]
    assert [(p["SampleCount"], p["Maximum"]) for p in points] == [(1, 0)]
    for user in USERS:
        keys = aws.access_keys(user)
        assert len(keys) == 1 and set(keys.values()) == {"Active"}, (user, keys)
        (new_id,) = keys
        assert new_id != old.get(user)
        delivered = third_party.latest(user)
        # The handler read the secret: what reached the third party is the key's real secret.
        assert delivered["AccessKeyId"] == new_id
        assert delivered["SecretAccessKey"] == real_secret(aws, user, new_id)
        caller = aws.client(
            "sts", aws_access_key_id=new_id, aws_secret_access_key=delivered["SecretAccessKey"]
        )
        assert caller.get_caller_identity()["Arn"] == iam.get_user(UserName=user)["User"]["Arn"]
    # Metadata is delivered byte-for-byte, and only to the user that has it.
    assert third_party.latest("marge")["metadata"] == "ci=circleci;context=prod"
    assert third_party.latest("homer")["metadata"] is None
    # The run waited cleanup_wait_duration (5m) once, after every user's hand-off and before any clean-up.
    assert aws.waits[waits_before:] == [300]
    assert_each_old_key_outlived_its_hand_off_by_the_wait(aws, execution["executionArn"], USERS, 300)
    # No secret remains.
    # (Other test files' stacks may share this emulated AWS and keep their own secrets.)
    secrets = aws.client("secretsmanager").list_secrets()["SecretList"]
    assert [s["Name"] for s in secrets if s["Name"].startswith(outputs["secret_name_prefix"])] == []
    # No secret access key in the execution history, in any Lambda's logs, in state or outputs.
    history = json.dumps(aws.history(execution["executionArn"]), default=str)
    logs = "\n".join(i.logs for i in aws.invocations)
    state = root.state_json() + json.dumps(root.outputs())
    for user in USERS:
        secret = third_party.latest(user)["SecretAccessKey"]
        assert secret not in history and secret not in logs and secret not in state
    assert "SecretAccessKey" not in history
    # Lambda writes the functions' records as JSON lines (their logging_config), each with the run
    # and the user it concerns: one Logs Insights query follows homer through the run.
    lines = [
        json.loads(line)
        for i in aws.invocations
        if i.function_name == "rotator-basic-rotate" and i.event["user"]["username"] == "homer"
        for line in i.logs.splitlines()
    ]
    rotated = [line for line in lines if line["logger"].startswith("rotator.")]
    assert rotated and {line["execution_arn"] for line in rotated} == {execution["executionArn"]}
    assert {(line["level"], line["username"]) for line in rotated} == {("INFO", "homer")}
    (homer_key,) = aws.access_keys("homer")
    assert {"message": "key created", "access_key_id": homer_key}.items() <= next(
        line for line in rotated if line["message"] == "key created"
    ).items()


def assert_each_old_key_outlived_its_hand_off_by_the_wait(aws, run_arn, users, wait_seconds):
    """From the histories: every hand-off ended before the run's wait began, and every clean-up
    began after it ended; so each user's old key outlived its own hand-off by the whole wait."""
    histories = aws.histories(run_arn)
    run_events = histories.pop(run_arn)
    (wait,) = [e for e in run_events if e["type"] == "WaitStateEntered"]
    hand_offs = [
        e["timestamp"]
        for events in histories.values()
        for e in events
        if e["type"] == "TaskStateExited" and e["stateExitedEventDetails"]["name"] == "HandOff"
    ]
    cleanups = [
        e["timestamp"]
        for e in run_events
        if e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == "CleanUpBatch"
    ]
    assert len(hand_offs) == len(users) and cleanups
    assert max(hand_offs) <= wait["timestamp"] <= min(cleanups)


def test_on_demand_run_rotates_one_user_and_leaves_the_others_alone(aws, stack, third_party):
    _, outputs = stack
    before = {user: aws.access_keys(user) for user in USERS}

    execution = aws.run_execution(outputs["state_machine_arn"], {"username": "marge"})

    assert execution["status"] == "SUCCEEDED", execution
    after = {user: aws.access_keys(user) for user in USERS}
    assert after["homer"] == before["homer"] and after["ned"] == before["ned"]
    (new_id,) = after["marge"]
    assert new_id not in before["marge"]
    assert third_party.latest("marge")["AccessKeyId"] == new_id


def test_unlisted_user_is_refused_and_nothing_changes(aws, stack):
    _, outputs = stack
    before = {user: aws.access_keys(user) for user in USERS}

    execution = aws.run_execution(outputs["state_machine_arn"], {"username": "bart"})

    assert execution["status"] == "FAILED"
    assert execution["error"] == "UserNotListedError"
    assert "'bart' is not in the users list" in execution["cause"]
    assert {user: aws.access_keys(user) for user in USERS} == before


def test_state_machine_may_invoke_only_the_module_functions_and_handoff_the_handler(aws, stack):
    iam = aws.client("iam")
    policy = iam.get_role_policy(
        RoleName="rotator-basic-state-machine", PolicyName="rotator-basic-state-machine"
    )
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    prefix = "arn:aws:lambda:us-east-1:123456789012:function:rotator-basic-"
    assert sorted(statements["InvokeRotatorFunctions"]["Resource"]) == sorted(
        prefix + name for name in ["cleanup", "handoff", "list-users", "report", "rollback", "rotate"]
    )
    handoff = iam.get_role_policy(RoleName="rotator-basic-handoff", PolicyName="rotator-basic-handoff")
    (invoke,) = [s for s in handoff["PolicyDocument"]["Statement"] if s["Sid"] == "InvokeCredentialsHandler"]
    assert invoke["Resource"] == prefix + "handler"
    sfn = aws.client("stepfunctions")
    run = json.loads(sfn.describe_state_machine(stateMachineArn=stack[1]["state_machine_arn"])["definition"])
    batch_arn = stack[1]["state_machine_arn"] + "-batch"
    batch = json.loads(sfn.describe_state_machine(stateMachineArn=batch_arn)["definition"])
    start = run["States"]["HandOffEachBatch"]["ItemProcessor"]["States"]["HandOffBatch"]
    assert start["Parameters"]["StateMachineArn"] == batch_arn
    assert statements["RunBatches"]["Resource"] == batch_arn
    assert run["States"]["WaitBeforeCleanup"]["Seconds"] == 300
    per_user = batch["States"]["HandOffEachUser"]["ItemProcessor"]["States"]
    assert per_user["HandOff"]["Resource"] == prefix + "handoff"
    assert "Wait" not in {state["Type"] for state in per_user.values()}
    # Both time out at a bound derived from the inputs, cut to schedule_duration (1h) so that a stuck
    # run times out, and alarms, before the next starts. Every step at its slowest: a batch of 10
    # waves of max_concurrency (10) users, each at most RotateKey's 3 attempts of 180 s, the handler's
    # 15 minutes and RollBack's retries (600 s): 20,400 s; the run: its one batch, its clean-up at
    # its slowest (6 attempts of 600 s), the wait, 600 s more, and the usage check's 10 re-checks
    # each followed by the clean-up at its slowest: 63,900 s. Both more than the hour.
    assert batch["TimeoutSeconds"] == 3600
    assert run["TimeoutSeconds"] == 3600
    assert run["States"]["WaitBeforeRecheck"]["Seconds"] == 300


def test_a_second_plan_after_apply_changes_nothing(stack):
    root, _ = stack
    plan = root.plan()  # with the variables of the apply
    changes = {
        address: change["change"]["actions"]
        for address, change in plan.resource_changes.items()
        if change["change"]["actions"] not in (["no-op"], ["read"])
    }
    assert changes == {}
