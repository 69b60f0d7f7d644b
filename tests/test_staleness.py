"""The staleness alarm, end to end: the module deployed with Terraform, its check started by its
own schedule, the alarm's condition evaluated against what the check published (moto never
evaluates alarms: `harness/alarms.py`). Keys are aged by rewriting moto's record of their creation
date; nothing in the product is patched."""

import json

import pytest
from moto.cloudwatch.models import cloudwatch_backends

from harness.alarms import evaluate
from harness.aws import ACCOUNT_ID, REGION
from harness.iam_policy import least_privilege
from harness.terraform import TerraformRoot

USERS = ["stale-alice", "stale-bob"]
DAY = 86400
# schedule_duration "30d": the alarm's threshold is 61 days (twice the schedule plus a day).
THRESHOLD = 5_270_400


@pytest.fixture(scope="module")
def root(aws, tmp_path_factory):
    return TerraformRoot("tests/fixtures/staleness", tmp_path_factory.mktemp("staleness"), aws.endpoint)


@pytest.fixture(scope="module")
def stack(root, third_party):
    return root.apply({"third_party_url": third_party.url})


@pytest.fixture(autouse=True)
def next_day(aws, third_party):
    """Each case is a new day: no earlier reading in the alarm's day-long period."""
    metrics = cloudwatch_backends[ACCOUNT_ID][REGION]
    metrics.metric_data = [m for m in metrics.metric_data if m.namespace != "IAMCredentialsRotator"]
    aws.faults.clear()
    third_party.reset()
    yield
    aws.faults.clear()


def check(aws):
    """Fires the check's schedule; returns the check's invocation."""
    first = len(aws.invocations)
    assert aws.fire_schedule("staleness-check") == []
    (invocation,) = [i for i in aws.invocations[first:] if i.function_name == "staleness-check"]
    return invocation


def published(aws):
    """Every reading of the check stored by CloudWatch: (timestamp, value)."""
    metrics = cloudwatch_backends[ACCOUNT_ID][REGION].metric_data
    return [
        (m.timestamp, m.value)
        for m in metrics
        if m.namespace == "IAMCredentialsRotator"
        and m.name == "OldestAccessKeyAge"
        and [(d.name, d.value) for d in m.dimensions] == [("Rotator", "staleness")]
    ]


def test_with_the_schedule_disabled_old_keys_raise_the_alarm(aws, root, stack, third_party):
    """Paused with `enabled = false` (applied): the schedule starts nothing, the check still watches."""
    old = {"stale-alice": aws.give_key("stale-alice", 70), "stale-bob": aws.give_key("stale-bob", 40)}
    sfn = aws.client("stepfunctions")
    runs = len(sfn.list_executions(stateMachineArn=stack["state_machine_arn"])["executions"])
    root.apply({"third_party_url": third_party.url, "enabled": False})
    try:
        assert aws.client("scheduler").get_schedule(Name="staleness")["State"] == "DISABLED"
        assert aws.fire_schedule("staleness") == []  # the rotation's time comes; nothing starts
        invocation = check(aws)
    finally:
        root.apply({"third_party_url": third_party.url, "enabled": True})
    assert aws.client("scheduler").get_schedule(Name="staleness")["State"] == "ENABLED"

    assert len(sfn.list_executions(stateMachineArn=stack["state_machine_arn"])["executions"]) == runs
    assert not invocation.errored, invocation.result
    assert invocation.result["username"] == "stale-alice"
    assert invocation.result["accessKeyId"] == old["stale-alice"]
    ((_, value),) = published(aws)
    assert 70 * DAY <= value < 70 * DAY + 600
    evaluation = evaluate(aws.client("cloudwatch"), stack["staleness_alarm_name"])
    assert evaluation.values == [value] and evaluation.alarm


def test_a_user_whose_rotation_keeps_failing_raises_the_alarm(aws, stack, third_party):
    aws.give_key("stale-alice", 70)
    bobs = aws.give_key("stale-bob", 70)
    third_party.fail_for.add("stale-bob")

    for _ in range(2):
        (execution,) = aws.run_schedule("staleness")
        assert execution["status"] == "FAILED", execution
        assert "stale-bob (HTTPError: HTTP Error 500" in json.loads(execution["cause"])["errorMessage"]
    invocation = check(aws)

    # alice was rotated; bob kept his key, which is getting old.
    assert aws.access_keys("stale-bob") == {bobs: "Active"}
    assert list(aws.access_keys("stale-alice").values()).count("Active") == 1
    assert (invocation.result["username"], invocation.result["accessKeyId"]) == ("stale-bob", bobs)
    ((_, value),) = published(aws)
    assert value > THRESHOLD
    assert evaluate(aws.client("cloudwatch"), stack["staleness_alarm_name"]).alarm


def test_after_a_successful_rotation_the_age_is_small_and_nothing_alarms(aws, stack):
    old = {user: aws.give_key(user, 70) for user in USERS}

    (execution,) = aws.run_schedule("staleness")
    invocation = check(aws)

    assert execution["status"] == "SUCCEEDED", execution
    for user in USERS:
        # Deactivate mode: the 70-day-old key stays, inactive, and is not counted.
        keys = aws.access_keys(user)
        assert keys[old[user]] == "Inactive" and sorted(keys.values()) == ["Active", "Inactive"]
    assert not invocation.errored, invocation.result
    ((_, value),) = published(aws)
    assert 0 <= value < 600 and invocation.result["oldestKeyAgeSeconds"] == value
    evaluation = evaluate(aws.client("cloudwatch"), stack["staleness_alarm_name"])
    assert evaluation.values == [value] and not evaluation.alarm
    # Every call the check made is allowed by its deployed policies, and none reaches a user
    # tagged for another rotator, another users list or another metric namespace.
    privilege = least_privilege(aws, "staleness", [invocation])
    # The list's page, each user's keys, the metric, and the list Terraform wrote (issue 24).
    assert privilege["calls checked"] == 1 + len(USERS) + 1 + 1
    assert privilege["denied"] == [] and privilege["out of scope but allowed"] == []


def test_a_check_that_cannot_report_raises_the_alarm(aws, stack):
    for user in USERS:
        aws.give_key(user, 1)
    aws.faults.add("ListAccessKeys", "stale-bob", times=None)

    invocation = check(aws)

    assert invocation.errored and invocation.result["errorType"] == "ClientError"
    assert "Throttling" in invocation.result["errorMessage"]
    assert published(aws) == []
    evaluation = evaluate(aws.client("cloudwatch"), stack["staleness_alarm_name"])
    assert evaluation.values == [None] and evaluation.alarm


def test_the_check_and_its_alarm_are_deployed_as_planned(aws, stack):
    (alarm,) = aws.client("cloudwatch").describe_alarms(AlarmNames=[stack["staleness_alarm_name"]])[
        "MetricAlarms"
    ]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("IAMCredentialsRotator", "OldestAccessKeyAge")
    assert alarm["Dimensions"] == [{"Name": "Rotator", "Value": "staleness"}]
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Minimum", DAY, 1)
    assert alarm["Threshold"] == THRESHOLD and alarm["TreatMissingData"] == "breaching"
    rule = aws.client("events").describe_rule(Name="staleness-check")
    assert rule["ScheduleExpression"] == "rate(12 hours)" and rule["State"] == "ENABLED"
    # Only its schedule may start the check: the state machine may invoke the workflow's functions.
    functions = aws.client("lambda")
    check_arn = functions.get_function(FunctionName="staleness-check")["Configuration"]["FunctionArn"]
    (statement,) = json.loads(functions.get_policy(FunctionName=check_arn)["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"]["ArnLike"] == {"AWS:SourceArn": rule["Arn"]}
    document = aws.client("iam").get_role_policy(
        RoleName="staleness-state-machine", PolicyName="staleness-state-machine"
    )
    # (The handler is invoked by the HandOff function, not by the state machine.)
    invoke = [s for s in document["PolicyDocument"]["Statement"] if s["Sid"] == "InvokeRotatorFunctions"]
    (invoke,) = invoke
    assert check_arn not in invoke["Resource"] and len(invoke["Resource"]) == 6
