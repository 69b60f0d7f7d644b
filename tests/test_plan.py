"""Plan tests: what `terraform plan` of the module proposes, and the inputs it refuses."""

import json
import string

import pytest

from tests.harness.terraform import TerraformRoot

HANDLER = "arn:aws:lambda:us-east-1:123456789012:function:handler"


@pytest.fixture(scope="module")
def root(aws, tmp_path_factory):
    return TerraformRoot("tests/fixtures/plan", tmp_path_factory.mktemp("plan"), aws.endpoint)


def resources(plan, type_):
    return {
        address: change["change"]["after"]
        for address, change in plan.resource_changes.items()
        if change["type"] == type_
    }


def minified_length(policy: str) -> int:
    """IAM counts a policy's characters without white space."""
    return len(json.dumps(json.loads(policy), separators=(",", ":")))


@pytest.fixture(scope="module")
def default_plan(root):
    return root.plan(
        {
            "users": [{"username": "homer"}, {"username": "marge", "metadata": "ci=circleci"}],
            "credentials_handler_role_name": "handler-role",
            "tags": {"team": "platform"},
        }
    )


def test_users_list_is_stored_compactly_in_a_standard_parameter(default_plan):
    (parameter,) = resources(default_plan, "aws_ssm_parameter").values()
    assert parameter["name"] == "/iam-credentials-rotator/users"
    assert parameter["tier"] == "Standard" and parameter["type"] == "String"
    assert json.loads(parameter["value"]) == [
        {"username": "homer"},
        {"username": "marge", "metadata": "ci=circleci"},
    ]


def test_functions_use_the_runtime_variable_and_the_committed_zip(default_plan):
    functions = resources(default_plan, "aws_lambda_function")
    assert {f["function_name"] for f in functions.values()} == {
        "iam-credentials-rotator-list-users",
        "iam-credentials-rotator-rotate",
        "iam-credentials-rotator-cleanup",
    }
    for function in functions.values():
        assert function["runtime"] == "python3.8"
        assert function["filename"].endswith("dist/rotator-lambda.zip")
        assert function["tags"] == {"team": "platform"}


def test_environment_variables_are_exactly_those_the_code_reads(default_plan):
    from tests.harness.terraform import ROOT

    functions = {f["function_name"]: f for f in resources(default_plan, "aws_lambda_function").values()}
    for name, module in [("list-users", "list_users"), ("rotate", "rotate"), ("cleanup", "cleanup")]:
        source = (ROOT / "lambda" / "rotator" / f"{module}.py").read_text()
        environment = functions[f"iam-credentials-rotator-{name}"]["environment"]
        planned = set(environment[0]["variables"]) if environment else set()
        read = {word.split('"')[1] for word in source.split("required_env(")[1:]}
        assert planned == read, name


def test_schedule_runs_every_hour_by_default_and_starts_the_state_machine_with_empty_input(default_plan):
    (rule,) = resources(default_plan, "aws_cloudwatch_event_rule").values()
    assert rule["schedule_expression"] == "rate(1 hour)"
    (target,) = resources(default_plan, "aws_cloudwatch_event_target").values()
    assert json.loads(target["input"]) == {}


def test_lambda_roles_reach_only_the_listed_users_and_the_rotator_secrets(default_plan):
    policies = {
        p["name"]: json.loads(p["policy"]) for p in resources(default_plan, "aws_iam_policy").values()
    }
    assert set(policies) == {
        "iam-credentials-rotator-rotate-users-0",
        "iam-credentials-rotator-cleanup-users-0",
    }
    user_arns = [
        "arn:aws:iam::123456789012:user/homer",
        "arn:aws:iam::123456789012:user/*/homer",
        "arn:aws:iam::123456789012:user/marge",
        "arn:aws:iam::123456789012:user/*/marge",
    ]
    for name, policy in policies.items():
        (statement,) = policy["Statement"]
        assert sorted(statement["Resource"]) == sorted(user_arns), name
    assert sorted(policies["iam-credentials-rotator-rotate-users-0"]["Statement"][0]["Action"]) == [
        "iam:CreateAccessKey",
        "iam:DeleteAccessKey",
        "iam:ListAccessKeys",
    ]
    assert (
        policies["iam-credentials-rotator-cleanup-users-0"]["Statement"][0]["Action"] == "iam:DeleteAccessKey"
    )

    # (The state machine's and the schedule's policies name ARNs known only after apply.)
    inline = {
        p["name"]: json.loads(p["policy"])
        for p in resources(default_plan, "aws_iam_role_policy").values()
        if "policy" in p
    }
    secrets = "arn:aws:secretsmanager:us-east-1:123456789012:secret:iam-credentials-rotator/*"
    by_sid = lambda name: {s["Sid"]: s for s in inline[name]["Statement"]}  # noqa: E731
    assert by_sid("iam-credentials-rotator-rotate")["RotatorSecrets"]["Resource"] == secrets
    assert (
        by_sid("iam-credentials-rotator-rotate")["RotatorSecrets"]["Action"] == "secretsmanager:CreateSecret"
    )
    assert (
        by_sid("iam-credentials-rotator-cleanup")["RotatorSecrets"]["Action"] == "secretsmanager:DeleteSecret"
    )
    assert by_sid("iam-credentials-rotator-list-users")["ReadUsersList"]["Resource"] == (
        "arn:aws:ssm:us-east-1:123456789012:parameter/iam-credentials-rotator/users"
    )
    assert by_sid("iam-credentials-rotator-rotate")["WriteOwnLogs"]["Resource"] == (
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/iam-credentials-rotator-rotate:*"
    )
    # Nothing in the Lambda roles is granted on "*".
    for name in [
        "iam-credentials-rotator-rotate",
        "iam-credentials-rotator-cleanup",
        "iam-credentials-rotator-list-users",
    ]:
        assert "*" not in json.dumps([s["Resource"] for s in inline[name]["Statement"]]).split('"'), name


def test_handler_policy_is_output_and_attached_to_the_named_role(default_plan):
    expected = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadRotatedCredentials",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "arn:aws:secretsmanager:us-east-1:123456789012:secret:iam-credentials-rotator/*",
            }
        ],
    }
    assert json.loads(default_plan.outputs["credentials_handler_policy_json"]) == expected
    attached = resources(default_plan, "aws_iam_role_policy")
    (handler_policy,) = [p for p in attached.values() if p.get("role") == "handler-role"]
    assert json.loads(handler_policy["policy"]) == expected
    assert default_plan.outputs["secret_name_prefix"] == "iam-credentials-rotator/"
    assert default_plan.outputs["users_parameter_name"] == "/iam-credentials-rotator/users"


@pytest.mark.parametrize(
    "duration, expression",
    [
        ("1m", "rate(1 minute)"),
        ("120s", "rate(2 minutes)"),
        ("90m", "rate(90 minutes)"),
        ("2h", "rate(2 hours)"),
        ("7d", "rate(7 days)"),
    ],
)
def test_schedule_duration_becomes_a_rate_expression(root, duration, expression):
    plan = root.plan({"schedule_duration": duration, "cleanup_wait_duration": "30s"})
    assert plan.outputs["schedule_expression"] == expression


def largest_users_list(name_length: int | None = None) -> list[dict]:
    """As many users as a 4096-byte parameter holds: the shortest distinct IAM names first
    (they are case-insensitive), or names of one given length."""
    alphabet = string.ascii_lowercase + string.digits + "_+=,.@-"
    if name_length:
        names = (f"{i:0{name_length}d}" for i in range(10**6))
    else:
        names = iter(list(alphabet) + [a + b for a in alphabet for b in alphabet])
    users = []
    while True:
        candidate = users + [{"username": next(names)}]
        if len(json.dumps(candidate, separators=(",", ":")).encode()) > 4096:
            return users
        users = candidate


@pytest.mark.parametrize("name_length", [None, 64])
def test_largest_users_list_keeps_every_policy_within_iam_limits(root, name_length):
    users = largest_users_list(name_length)
    plan = root.plan({"users": users})
    (parameter,) = resources(plan, "aws_ssm_parameter").values()
    assert len(parameter["value"].encode()) <= 4096
    assert len(json.loads(parameter["value"])) == len(users) > 40

    managed = resources(plan, "aws_iam_policy")
    for policy in managed.values():
        assert minified_length(policy["policy"]) <= 6144, policy["name"]
    covered = {
        arn
        for p in managed.values()
        if "rotate" in p["name"]
        for arn in json.loads(p["policy"])["Statement"][0]["Resource"]
    }
    assert covered == {f"arn:aws:iam::123456789012:user/{u['username']}" for u in users} | {
        f"arn:aws:iam::123456789012:user/*/{u['username']}" for u in users
    }
    attachments = resources(plan, "aws_iam_role_policy_attachment")
    per_role = {}
    for attachment in attachments.values():
        per_role[attachment["role"]] = per_role.get(attachment["role"], 0) + 1
    assert max(per_role.values()) <= 10  # IAM's default managed policies per role
    for policy in resources(plan, "aws_iam_role_policy").values():
        if "policy" in policy:
            assert minified_length(policy["policy"]) <= 10240, policy["name"]


def test_users_list_over_4096_bytes_is_refused_with_its_size(root):
    users = largest_users_list() + [{"username": "zz-one-more"}]
    size = len(json.dumps(users, separators=(",", ":")).encode())
    error = root.plan_error({"users": users})
    assert f"the list encodes to {size} bytes, over the 4096 bytes" in error


BAD_INPUTS = [
    (
        {"cleanup_wait_duration": "1h"},
        'cleanup_wait_duration ("1h") must be shorter than schedule_duration ("1h")',
    ),
    ({"cleanup_wait_duration": "2h", "schedule_duration": "90m"}, "must be shorter than schedule_duration"),
    (
        {"schedule_duration": "5 minutes"},
        'schedule_duration must be a whole number followed by s, m, h or d, such as "30m", "1h" or "7d"; got "5 minutes"',
    ),
    ({"schedule_duration": "1H"}, "schedule_duration must be a whole number followed by s, m, h or d"),
    (
        {"cleanup_wait_duration": "0m"},
        "cleanup_wait_duration must be a whole number followed by s, m, h or d",
    ),
    ({"cleanup_wait_duration": ""}, "cleanup_wait_duration must be a whole number followed by s, m, h or d"),
    (
        {"schedule_duration": "30s", "cleanup_wait_duration": "10s"},
        'schedule_duration must be whole minutes, at least "1m"',
    ),
    (
        {"schedule_duration": "90s", "cleanup_wait_duration": "10s"},
        'schedule_duration must be whole minutes, at least "1m" (an EventBridge rate schedule has minute granularity); got "90s"',
    ),
    (
        {"users": [{"username": "homer"}, {"username": "HOMER"}]},
        "users: each user may be listed once (IAM user names are case-insensitive); listed more than once: homer, HOMER",
    ),
    (
        {"users": [{"username": "bad name"}, {"username": "a/b"}]},
        'users: every username must be a valid IAM user name, 1 to 64 characters from letters, digits and _+=,.@- ; these are not: "bad name", "a/b"',
    ),
    ({"users": [{"username": "x" * 65}]}, "every username must be a valid IAM user name"),
    ({"users": [{"username": ""}]}, "every username must be a valid IAM user name"),
    (
        {"credentials_handler_arn": "my-handler"},
        'credentials_handler_arn must be the ARN of a Lambda function, such as arn:aws:lambda:eu-west-1:123456789012:function:my-handler (use aws_lambda_function.<name>.arn, not its name or invoke_arn); got "my-handler"',
    ),
    (
        {
            "credentials_handler_arn": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:h/invocations"
        },
        "credentials_handler_arn must be the ARN of a Lambda function",
    ),
    (
        {"credentials_handler_arn": "arn:aws:iam::123456789012:role/handler"},
        "credentials_handler_arn must be the ARN of a Lambda function",
    ),
    ({"name": "has spaces"}, "name must be 1 to 40 letters, digits, '-' or '_'"),
]


@pytest.mark.parametrize("variables, message", BAD_INPUTS, ids=[json.dumps(v)[:60] for v, _ in BAD_INPUTS])
def test_bad_input_is_refused_at_plan_naming_the_input_and_the_fix(root, variables, message):
    assert message in root.plan_error(variables)
