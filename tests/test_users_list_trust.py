"""Issue 24, item 1, end to end: only the users list Terraform wrote steers the rotator. Each test plays
an attacker who holds only the permission named (ssm:PutParameter or ssm:DeleteParameter on the users
path, iam:TagUser on one user) against the module deployed with Terraform (`tests/fixtures/trust`,
scoped by tag), and the real state machine and staleness check run on what the attacker left.

moto does not evaluate IAM policies for callers (only the harness does, for the functions): the
attacker is an IAM user whose only policy grants the named permission, each of its calls is first
evaluated against that policy by `harness/iam_policy.py` (a call it does not allow fails the test),
then made with the attacker's own access key."""

import json

import pytest
from moto.cloudwatch.models import cloudwatch_backends

from harness.alarms import evaluate
from harness.aws import ACCOUNT_ID, REGION
from harness.iam_policy import Requests, allows
from harness.terraform import TerraformRoot

LISTED = ["trust-alice", "trust-bob"]
ADMIN = "trust-admin"
PATH = "/trust/users"
PARAMETERS = f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{PATH}/*"
IN_FLIGHT_TAG = "iam-credentials-rotator/trust"


@pytest.fixture(scope="module")
def stack(aws, third_party, tmp_path_factory):
    root = TerraformRoot("tests/fixtures/trust", tmp_path_factory.mktemp("trust"), aws.endpoint)
    return root.apply({"third_party_url": third_party.url})


class Attacker:
    """An IAM user of the rotator's account with one policy: only the given statements."""

    def __init__(self, aws, name, statements):
        self.aws, self.name = aws, name
        iam = aws.client("iam")
        iam.create_user(UserName=name)
        self.policy = {"Version": "2012-10-17", "Statement": statements}
        iam.put_user_policy(UserName=name, PolicyName="only-this", PolicyDocument=json.dumps(self.policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        self.credentials = {
            "aws_access_key_id": key["AccessKeyId"],
            "aws_secret_access_key": key["SecretAccessKey"],
        }

    def call(self, service, operation, method, **params):
        """Makes the call if (and only if) the attacker's policy allows it, as IAM would decide."""
        for action, resource, context in Requests(self.aws.client("iam")).of(
            f"{service}:{operation}", params
        ):
            assert allows(
                [self.policy], action, resource, context
            ), f"the attacker may not {action} {resource}"
        return getattr(self.aws.client(service, **self.credentials), method)(**params)


@pytest.fixture
def attacker(aws, request):
    made = []

    def make(*statements):
        made.append(Attacker(aws, f"trust-attacker-{len(made)}", list(statements)))
        return made[-1]

    yield make
    iam = aws.client("iam")
    for one in made:
        name = one.name
        for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
        iam.delete_user_policy(UserName=name, PolicyName="only-this")
        iam.delete_user(UserName=name)


@pytest.fixture
def terraforms_list(aws, stack):
    """The parameters as Terraform wrote them, put back after the test (as `terraform apply` would)."""
    ssm = aws.client("ssm")
    written = {
        p["Name"]: p["Value"]
        for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=PATH)
        for p in page["Parameters"]
    }
    assert len(written) == len(LISTED)
    yield written
    for name in {
        p["Name"]
        for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=PATH)
        for p in page["Parameters"]
    } - set(written):
        ssm.delete_parameter(Name=name)
    for name, value in written.items():
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)


@pytest.fixture(autouse=True)
def clean_slate(aws, third_party):
    aws.faults.clear()
    third_party.reset()
    aws.lambda_hook = None
    metrics = cloudwatch_backends[ACCOUNT_ID][REGION]
    metrics.metric_data = [m for m in metrics.metric_data if m.namespace != "IAMCredentialsRotator"]
    yield
    iam = aws.client("iam")
    tags = [t["Key"] for t in iam.list_user_tags(UserName=ADMIN)["Tags"]]
    if tags:
        iam.untag_user(UserName=ADMIN, TagKeys=tags)
    secrets = aws.client("secretsmanager").list_secrets()["SecretList"]
    assert [s["Name"] for s in secrets if s["Name"].startswith("trust/")] == []


def keys_of_everyone(aws):
    return {user: aws.access_keys(user) for user in [*LISTED, ADMIN]}


def refused(execution):
    """The run failed (the failure alarm counts it: AWS/States ExecutionsFailed of this machine), and its
    error names why."""
    assert execution["status"] == "FAILED", execution
    assert execution["error"] == "UsersListTamperedError", execution
    return json.loads(execution["cause"])["errorMessage"]


def assert_the_failure_alarm_counts_it(aws, stack):
    (alarm,) = aws.client("cloudwatch").describe_alarms(AlarmNames=[stack["failure_alarm_name"]])[
        "MetricAlarms"
    ]
    failed = [q["MetricStat"]["Metric"] for q in alarm["Metrics"] if "MetricStat" in q]
    assert {
        "Namespace": "AWS/States",
        "MetricName": "ExecutionsFailed",
        "Dimensions": [{"Name": "StateMachineArn", "Value": stack["state_machine_arn"]}],
    } in failed
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold" and alarm["Threshold"] == 0


def staleness_check(aws):
    """Fires the check's schedule; returns the check's invocation and whether the stale alarm fires."""
    first = len(aws.invocations)
    assert aws.fire_schedule("trust-check") == []
    (invocation,) = [i for i in aws.invocations[first:] if i.function_name == "trust-check"]
    return invocation


def test_a_rewritten_parameter_redirecting_a_listed_users_key_refuses_the_run(
    aws, stack, third_party, attacker, terraforms_list
):
    """(a) ssm:PutParameter on the users path alone: alice's parameter now carries metadata naming the
    attacker's destination. Before issue 24 the run handed alice's new key there."""
    before = {u: aws.give_key(u) for u in LISTED}
    since = len(third_party.deliveries)
    mallory = attacker(
        {"Effect": "Allow", "Action": "ssm:PutParameter", "Resource": PARAMETERS},
    )
    keys_before = keys_of_everyone(aws)
    (alice,) = [n for n, v in terraforms_list.items() if json.loads(v)["username"] == "trust-alice"]
    loot = {"username": "trust-alice", "metadata": "repository=mallory/loot;url=https://mallory.example"}
    mallory.call(
        "ssm",
        "PutParameter",
        "put_parameter",
        Name=alice,
        Value=json.dumps(loot),
        Type="String",
        Overwrite=True,
    )

    (execution,) = aws.run_schedule("trust")

    message = refused(execution)
    assert message.startswith(f"{alice} was rewritten outside Terraform"), message
    assert_the_failure_alarm_counts_it(aws, stack)
    assert keys_of_everyone(aws) == keys_before
    assert {u: list(keys_before[u]) for u in LISTED} == {u: [before[u]] for u in LISTED}
    assert third_party.deliveries[since:] == []
    # On demand, for the other user, too: the list as a whole is not Terraform's.
    message = refused(aws.run_execution(stack["state_machine_arn"], {"username": "trust-bob"}))
    assert f"{alice} was rewritten outside Terraform" in message
    assert third_party.deliveries[since:] == []


def test_a_parameter_added_for_a_tagged_unlisted_admin_refuses_the_run(
    aws, stack, third_party, attacker, terraforms_list
):
    """(b) Tag mode: ssm:PutParameter on the path plus iam:TagUser on the administrator (with the
    module's tag, and the in-flight tag too). Before issue 24 the run created the administrator's key
    and delivered it."""
    before = {u: aws.give_key(u) for u in LISTED}
    admin_key = aws.give_key(ADMIN)
    since = len(third_party.deliveries)
    mallory = attacker(
        {"Effect": "Allow", "Action": "ssm:PutParameter", "Resource": PARAMETERS},
        {"Effect": "Allow", "Action": "iam:TagUser", "Resource": f"arn:aws:iam::{ACCOUNT_ID}:user/{ADMIN}"},
    )
    mallory.call(
        "iam",
        "TagUser",
        "tag_user",
        UserName=ADMIN,
        Tags=[{"Key": "rotated-by", "Value": "trust"}, {"Key": IN_FLIGHT_TAG, "Value": "rotating"}],
    )
    added = f"{PATH}/{'0' * 32}"
    mallory.call(
        "ssm",
        "PutParameter",
        "put_parameter",
        Name=added,
        Value=json.dumps({"username": ADMIN}),
        Type="String",
    )

    (execution,) = aws.run_schedule("trust")
    message = refused(execution)
    assert message.startswith(f"{added} was added outside Terraform"), message
    # Named on demand: refused the same way, not "not listed" after reading the attacker's list.
    message = refused(aws.run_execution(stack["state_machine_arn"], {"username": ADMIN}))
    assert message.startswith(f"{added} was added outside Terraform"), message

    assert_the_failure_alarm_counts_it(aws, stack)
    assert aws.access_keys(ADMIN) == {admin_key: "Active"}
    assert keys_of_everyone(aws) == {
        **{u: {before[u]: "Active"} for u in LISTED},
        ADMIN: {admin_key: "Active"},
    }
    assert third_party.deliveries[since:] == []
    # No function of the rotator was asked to act on the administrator.
    assert not any(ADMIN in json.dumps(t) for i in aws.invocations for t in i.api_targets)


def test_the_in_flight_tag_alone_reaches_no_unlisted_user(aws, stack, third_party, attacker, terraforms_list):
    """The in-flight tag grants RollBack and CleanUp a user's keys (so that a user removed from `users`
    mid-run is still finished); an attacker who tags an unlisted user with it gains nothing: every
    function acts only on users of the verified list, and undoes only what a lock of this run holds."""
    before = {u: aws.give_key(u) for u in LISTED}
    admin_key = aws.give_key(ADMIN)
    since = len(third_party.deliveries)
    mallory = attacker(
        {"Effect": "Allow", "Action": "iam:TagUser", "Resource": f"arn:aws:iam::{ACCOUNT_ID}:user/{ADMIN}"},
    )
    mallory.call(
        "iam", "TagUser", "tag_user", UserName=ADMIN, Tags=[{"Key": IN_FLIGHT_TAG, "Value": "rotating"}]
    )
    first = len(aws.invocations)

    (execution,) = aws.run_schedule("trust")

    assert execution["status"] == "SUCCEEDED", execution
    assert aws.access_keys(ADMIN) == {admin_key: "Active"}
    for user in LISTED:
        (new,) = aws.access_keys(user)
        assert new != before[user] and third_party.latest(user)["AccessKeyId"] == new
    assert sorted(d["username"] for d in third_party.deliveries[since:]) == LISTED
    assert not any(ADMIN in json.dumps(t) for i in aws.invocations[first:] for t in i.api_targets)


def test_a_deleted_parameter_refuses_the_run_and_the_staleness_check(
    aws, stack, third_party, attacker, terraforms_list
):
    """(c) ssm:DeleteParameter on the path: before issue 24 runs succeeded with the users left (0 when
    all were deleted) and the staleness check published their keys' age (0), clearing the stale alarm
    while the deleted users' keys aged."""
    old = {u: aws.give_key(u, age_days=70) for u in LISTED}
    since = len(third_party.deliveries)
    mallory = attacker({"Effect": "Allow", "Action": "ssm:DeleteParameter", "Resource": PARAMETERS})
    keys_before = keys_of_everyone(aws)
    for name in terraforms_list:
        mallory.call("ssm", "DeleteParameter", "delete_parameter", Name=name)

    (execution,) = aws.run_schedule("trust")
    message = refused(execution)
    for name in terraforms_list:
        assert f"{name} was deleted outside Terraform" in message, message
    assert_the_failure_alarm_counts_it(aws, stack)
    assert keys_of_everyone(aws) == keys_before
    assert {u: list(keys_before[u]) for u in LISTED} == {u: [old[u]] for u in LISTED}
    assert third_party.deliveries[since:] == []

    invocation = staleness_check(aws)
    assert (
        invocation.errored and invocation.result["errorType"] == "UsersListTamperedError"
    ), invocation.result
    assert f"{sorted(terraforms_list)[0]} was deleted outside Terraform" in invocation.result["errorMessage"]
    # Nothing published: the day's reading is missing, which the stale alarm treats as breaching.
    evaluation = evaluate(aws.client("cloudwatch"), stack["staleness_alarm_name"])
    assert evaluation.values == [None] and evaluation.alarm


def test_the_list_as_terraform_wrote_it_is_rotated_and_checked(aws, stack, third_party, terraforms_list):
    """The control: nothing tampered, the same stack rotates and the check reports a small age."""
    before = {u: aws.give_key(u, age_days=70) for u in LISTED}

    (execution,) = aws.run_schedule("trust")
    invocation = staleness_check(aws)

    assert execution["status"] == "SUCCEEDED", execution
    for user in LISTED:
        (new,) = aws.access_keys(user)
        assert new != before[user] and third_party.latest(user)["AccessKeyId"] == new
    assert not invocation.errored, invocation.result
    assert invocation.result["users"] == len(LISTED) and invocation.result["oldestKeyAgeSeconds"] < 600
    assert not evaluate(aws.client("cloudwatch"), stack["staleness_alarm_name"]).alarm


def test_a_parameter_rewritten_after_the_run_listed_it_refuses_its_batch(
    aws, stack, third_party, attacker, terraforms_list
):
    """The attacker writes between ListUsers and the batch's LoadUsers, which reads the list Terraform wrote
    from the rotation state machine's definition again: the batch fails before any user's key is made,
    and the run fails naming the parameter."""
    before = {u: aws.give_key(u) for u in LISTED}
    keys_before = keys_of_everyone(aws)
    since = len(third_party.deliveries)
    mallory = attacker({"Effect": "Allow", "Action": "ssm:PutParameter", "Resource": PARAMETERS})
    (bob,) = [n for n, v in terraforms_list.items() if json.loads(v)["username"] == "trust-bob"]
    loot = {"username": "trust-bob", "metadata": "repository=mallory/loot"}

    def rewrite_before_load_users(function_name, event):
        if function_name == "trust-list-users" and "parameters" in event:
            mallory.call(
                "ssm",
                "PutParameter",
                "put_parameter",
                Name=bob,
                Value=json.dumps(loot),
                Type="String",
                Overwrite=True,
            )

    aws.lambda_hook = rewrite_before_load_users
    try:
        (execution,) = aws.run_schedule("trust")
    finally:
        aws.lambda_hook = None

    assert execution["status"] == "FAILED", execution
    message = json.loads(execution["cause"])["errorMessage"]
    # The batch's failure (Step Functions names a failed child execution States.TaskFailed), with its cause.
    assert (
        f"the 2 users of batch 1 (States.TaskFailed: {bob} was rewritten outside Terraform" in message
    ), message
    assert keys_of_everyone(aws) == keys_before
    assert {u: list(keys_before[u]) for u in LISTED} == {u: [before[u]] for u in LISTED}
    assert third_party.deliveries[since:] == []
