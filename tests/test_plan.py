"""Plan tests: what `terraform plan` of the module proposes, and the inputs it refuses."""

import hashlib
import json
import re
import string
from collections import defaultdict

import pytest

from harness.terraform import TerraformRoot

HANDLER = "arn:aws:lambda:us-east-1:123456789012:function:handler"


@pytest.fixture(scope="module")
def root(aws, tmp_path_factory):
    # Deploys nothing: keeps the functions' local `filename` path covered (see deploy_code_from_s3()).
    return TerraformRoot(
        "tests/fixtures/plan", tmp_path_factory.mktemp("plan"), aws.endpoint, code_from_s3=False
    )


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


def parameter_id(username: str) -> str:
    """The module names a user's parameter by a hash of its lowercased name (SSM names cannot hold +=,@)."""
    return hashlib.sha256(username.lower().encode()).hexdigest()[:32]


def test_each_user_is_stored_compactly_in_its_own_standard_parameter(default_plan):
    parameters = resources(default_plan, "aws_ssm_parameter")
    assert set(parameters) == {
        'module.rotator.aws_ssm_parameter.users["homer"]',
        'module.rotator.aws_ssm_parameter.users["marge"]',
    }
    homer = parameters['module.rotator.aws_ssm_parameter.users["homer"]']
    marge = parameters['module.rotator.aws_ssm_parameter.users["marge"]']
    assert homer["name"] == "/iam-credentials-rotator/users/" + parameter_id("homer")
    assert marge["name"] == "/iam-credentials-rotator/users/" + parameter_id("MARGE")
    for parameter in parameters.values():
        assert parameter["tier"] == "Standard" and parameter["type"] == "String"
    assert homer["value"] == '{"username":"homer"}'
    assert json.loads(marge["value"]) == {"username": "marge", "metadata": "ci=circleci"}
    assert default_plan.outputs["users_parameter_path"] == "/iam-credentials-rotator/users"


def test_functions_use_the_runtime_variable_and_the_committed_zip(default_plan):
    functions = resources(default_plan, "aws_lambda_function")
    assert {f["function_name"] for f in functions.values()} == {
        f"iam-credentials-rotator-{name}"
        for name in ["list-users", "rotate", "handoff", "cleanup", "rollback", "report", "check"]
    }
    for function in functions.values():
        assert function["runtime"] == "python3.13"
        assert function["architectures"] == ["x86_64"]
        assert function["logging_config"] == [
            {
                "log_format": "JSON",
                "log_group": f"/aws/lambda/{function['function_name']}",
                "application_log_level": "INFO",
                "system_log_level": "WARN",
            }
        ]
        assert function["filename"].endswith("dist/rotator-lambda.zip")
        assert function["tags"] == {"team": "platform"}


def test_environment_variables_are_exactly_those_the_code_reads(default_plan):
    from harness.terraform import ROOT

    functions = {f["function_name"]: f for f in resources(default_plan, "aws_lambda_function").values()}
    planned = {}
    for name, function in functions.items():
        environment = function["environment"]
        planned[name.removeprefix("iam-credentials-rotator-")] = (
            set(environment[0]["variables"]) if environment else set()
        )
    assert planned == {
        "list-users": {"USERS_PARAMETER_PATH", "BATCH_SIZE", "ROTATION_STATE_MACHINE_ARN"},
        "rotate": {"SECRET_NAME_PREFIX", "KEY_VERIFICATION_TIMEOUT_SECONDS", "ROTATOR_NAME", "IN_FLIGHT_TAG"},
        "handoff": {"CREDENTIALS_HANDLER_ARN"},
        "cleanup": {
            "OLD_KEY_ACTION",
            "SECRET_NAME_PREFIX",
            "MAX_CONCURRENCY",
            "USAGE_CHECK",
            "USAGE_MARGIN_SECONDS",
            "USAGE_MAX_ROUNDS",
            "KEY_VERIFICATION_TIMEOUT_SECONDS",
            "IN_FLIGHT_TAG",
        },
        "rollback": {"SECRET_NAME_PREFIX", "IN_FLIGHT_TAG"},
        "report": {"METRIC_NAMESPACE", "ROTATOR_NAME"},  # FailedUsers (issue 29)
        "check": {"USERS_PARAMETER_PATH", "METRIC_NAMESPACE", "ROTATOR_NAME", "ROTATION_STATE_MACHINE_ARN"},
    }
    code = "".join(p.read_text() for p in (ROOT / "lambda" / "rotator").glob("*.py"))
    read = set(re.findall(r'(?:required_env\(|environ\.get\(|environ\[)"([A-Z_]+)"', code))
    # KMS_KEY_ID is set only with kms_key_arn (see the KMS test), USER_TAG only with user_tag_key,
    # MEMBER_ROLE_ARN only with users of member accounts (tests/test_multi_account_plan.py),
    # KEEP_INACTIVE_KEYS only with keep_inactive_keys (tests/fixtures/switch); AWS_LAMBDA_FUNCTION_NAME
    # by Lambda itself.
    assert read == set().union(*planned.values()) | {
        "KMS_KEY_ID",
        "USER_TAG",
        "KEEP_INACTIVE_KEYS",
        "MEMBER_ROLE_ARN",
        "AWS_LAMBDA_FUNCTION_NAME",
    }


def test_schedule_runs_every_hour_by_default_and_passes_its_time_to_the_run(default_plan):
    (schedule,) = resources(default_plan, "aws_scheduler_schedule").values()
    assert (schedule["name"], schedule["schedule_expression"]) == ("iam-credentials-rotator", "rate(1 hour)")
    assert schedule["state"] == "ENABLED"
    (target,) = schedule["target"]
    # Scheduler fills in the placeholder only as written: jsonencode() would escape its "<" and ">".
    assert target["input"] == '{"scheduledTime": "<aws.scheduler.scheduled-time>"}'
    assert target["retry_policy"] == [{"maximum_event_age_in_seconds": 3600, "maximum_retry_attempts": 3}]
    (queue,) = resources(default_plan, "aws_sqs_queue").values()
    assert (
        queue["name"] == "iam-credentials-rotator-schedule-dead-letters" and queue["sqs_managed_sse_enabled"]
    )
    statements = {
        s["Sid"]: s
        for s in json.loads(
            default_plan.resource_changes['module.rotator.aws_iam_role_policy.this["schedule"]']["change"][
                "after"
            ]["policy"]
        )["Statement"]
    }
    assert as_list(statements["DeadLetters"]["Action"]) == ["sqs:SendMessage"]
    assert statements["DeadLetters"]["Resource"] == (
        "arn:aws:sqs:us-east-1:123456789012:iam-credentials-rotator-schedule-dead-letters"
    )


def test_enabled_false_pauses_the_schedule_and_destroys_nothing(root):
    plan = root.plan({"enabled": False})
    (schedule,) = resources(plan, "aws_scheduler_schedule").values()
    assert schedule["state"] == "DISABLED"
    assert {r["function_name"] for r in resources(plan, "aws_lambda_function").values()}
    assert resources(plan, "aws_sfn_state_machine")


USER_ACTIONS = {
    "rotate": ["iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:ListAccessKeys", "iam:TagUser"],
    "cleanup": [
        "iam:DeleteAccessKey",
        "iam:GetAccessKeyLastUsed",
        "iam:ListAccessKeys",
        "iam:UpdateAccessKey",
    ],
    "rollback": ["iam:DeleteAccessKey", "iam:ListAccessKeys"],
    "check": ["iam:ListAccessKeys"],
}
# RollBack and CleanUp also reach a user mid-rotation by its in-flight tag, listed or not (issue 15);
# CleanUp reads the keys' marks of origin by it (ListUserTags, issue 22): the user is tagged then, and
# the listed users' named policies keep their room. RotateKey gets ListUserTags only with
# keep_inactive_keys.
IN_FLIGHT_ACTIONS = {
    "cleanup": [
        "iam:DeleteAccessKey",
        "iam:GetAccessKeyLastUsed",
        "iam:ListAccessKeys",
        "iam:ListUserTags",
        "iam:UntagUser",
        "iam:UpdateAccessKey",
    ],
    "rollback": ["iam:DeleteAccessKey", "iam:ListAccessKeys", "iam:UntagUser"],
}
# RotateKey no longer deletes secrets (RollBack owns undo); it tags them (leftovers can be found)
# and, like the others that read them, tells a secret deleted by hand (DescribeSecret).
SECRET_ACTIONS = {
    # RotateKey also releases a stale lock it healed (issue 22).
    "rotate": [
        "secretsmanager:CreateSecret",
        "secretsmanager:DeleteSecret",
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
        "secretsmanager:TagResource",
    ],
    "cleanup": [
        "secretsmanager:DeleteSecret",
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:TagResource",
    ],
    "rollback": [
        "secretsmanager:DeleteSecret",
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
    ],
}


# Wherever TagUser or UntagUser is granted: only the rotator's own tags (issue 24).
TAGGING = {
    "ForAllValues:StringLike": {
        "aws:TagKeys": [
            "iam-credentials-rotator/iam-credentials-rotator",
            "iam-credentials-rotator/iam-credentials-rotator/*",
        ]
    },
    "StringEqualsIfExists": {"aws:RequestTag/iam-credentials-rotator/iam-credentials-rotator": ["rotating"]},
}


def as_list(value):
    return sorted(value) if isinstance(value, list) else [value]


def test_lambda_roles_reach_only_the_listed_users_and_the_rotator_secrets(default_plan):
    policies = {
        p["name"]: json.loads(p["policy"]) for p in resources(default_plan, "aws_iam_policy").values()
    }
    homer, marge = policy_index("homer"), policy_index("marge")
    assert homer != marge  # so this test sees two policies per function
    assert set(policies) == {
        f"iam-credentials-rotator-{f}-users-{i}" for f in USER_ACTIONS for i in [homer, marge]
    }
    for function, actions in USER_ACTIONS.items():
        for username, index in [("homer", homer), ("marge", marge)]:
            (statement,) = policies[f"iam-credentials-rotator-{function}-users-{index}"]["Statement"]
            # Issue 24: the one ARN of the user's declared path ("/" by default).
            assert sorted(statement["Resource"]) == [f"arn:aws:iam::123456789012:user/{username}"], function
            assert as_list(statement["Action"]) == actions, function
            # TagUser only of the rotator's own tags (issue 24); the other actions carry no tags.
            tagging = {
                k: {n: as_list(v) for n, v in t.items()} for k, t in statement.get("Condition", {}).items()
            }
            assert tagging == (TAGGING if "iam:TagUser" in actions else {}), function

    # (The state machine's and the schedule's policies name ARNs known only after apply.)
    inline = {
        p["name"].removeprefix("iam-credentials-rotator-"): {
            s["Sid"]: s for s in json.loads(p["policy"])["Statement"]
        }
        for p in resources(default_plan, "aws_iam_role_policy").values()
        if "policy" in p
    }
    secrets = "arn:aws:secretsmanager:us-east-1:123456789012:secret:iam-credentials-rotator/*"
    for function, actions in SECRET_ACTIONS.items():
        assert inline[function]["RotatorSecrets"]["Resource"] == secrets
        assert as_list(inline[function]["RotatorSecrets"]["Action"]) == actions, function
    assert sorted(inline["list-users"]["ReadUsersList"]["Resource"]) == [
        "arn:aws:ssm:us-east-1:123456789012:parameter/iam-credentials-rotator/users",
        "arn:aws:ssm:us-east-1:123456789012:parameter/iam-credentials-rotator/users/*",
    ]
    assert inline["rotate"]["ReadLockHolders"] == {
        "Sid": "ReadLockHolders",
        "Effect": "Allow",
        "Action": "states:DescribeExecution",
        "Resource": "arn:aws:states:us-east-1:123456789012:execution:iam-credentials-rotator:*",
    }
    # The list Terraform wrote, in the rotation state machine's definition (issue 24): its machine only.
    for function in ["list-users", "check"]:
        assert inline[function]["ReadListedUsers"] == {
            "Sid": "ReadListedUsers",
            "Effect": "Allow",
            "Action": "states:DescribeStateMachine",
            "Resource": "arn:aws:states:us-east-1:123456789012:stateMachine:iam-credentials-rotator",
        }
    assert {f for f, sids in inline.items() if "ReadListedUsers" in sids} == {"list-users", "check"}
    assert inline["handoff"]["InvokeCredentialsHandler"]["Resource"] == HANDLER
    assert as_list(inline["handoff"]["InvokeCredentialsHandler"]["Action"]) == ["lambda:InvokeFunction"]
    for function in ["list-users", "rotate", "handoff", "cleanup", "rollback", "report", "check"]:
        assert inline[function]["WriteOwnLogs"]["Resource"] == (
            f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/iam-credentials-rotator-{function}:*"
        )
        assert set(inline[function]) <= {
            "WriteOwnLogs",
            "ReadUsersList",
            "RotatorSecrets",
            "ReadLockHolders",
            "ReadListedUsers",
            "SecretsKey",
            "InvokeCredentialsHandler",
            "PublishKeyAge",
            "UsersKeysInFlight",
            "ReadUsersPath",
        }
    # Issue 24: RotateKey reads the user's path (read-only, any user) to refuse one found elsewhere.
    assert {f for f, sids in inline.items() if "ReadUsersPath" in sids} == {"rotate"}
    assert inline["rotate"]["ReadUsersPath"]["Action"] == "iam:GetUser"
    assert inline["rotate"]["ReadUsersPath"]["Resource"] == "arn:aws:iam::123456789012:user/*"
    # Report publishes the run's failed-user count (issue 29), with the check's grant.
    assert set(inline["report"]) == {"WriteOwnLogs", "PublishKeyAge"}
    assert inline["report"]["PublishKeyAge"] == inline["check"]["PublishKeyAge"]
    assert {f for f, sids in inline.items() if "UsersKeysInFlight" in sids} == set(IN_FLIGHT_ACTIONS)
    for function, actions in IN_FLIGHT_ACTIONS.items():
        in_flight = inline[function]["UsersKeysInFlight"]
        assert as_list(in_flight["Action"]) == actions, function
        assert in_flight["Resource"] == "arn:aws:iam::123456789012:user/*"
        assert {k: {n: as_list(v) for n, v in t.items()} for k, t in in_flight["Condition"].items()} == {
            "StringEquals": {"iam:ResourceTag/iam-credentials-rotator/iam-credentials-rotator": ["rotating"]},
            # UntagUser only of the rotator's own tags (issue 24): keys only, it carries no values.
            "ForAllValues:StringLike": TAGGING["ForAllValues:StringLike"],
        }
    # The staleness check reads the list and publishes to its own namespace only (PutMetricData
    # has no resource-level permissions).
    assert set(inline["check"]) == {"WriteOwnLogs", "ReadUsersList", "ReadListedUsers", "PublishKeyAge"}
    assert inline["check"]["ReadUsersList"] == inline["list-users"]["ReadUsersList"]
    publish = inline["check"]["PublishKeyAge"]
    assert (publish["Action"], publish["Resource"]) == ("cloudwatch:PutMetricData", "*")
    assert {k: {n: as_list(v) for n, v in t.items()} for k, t in publish["Condition"].items()} == {
        "StringEquals": {"cloudwatch:namespace": ["IAMCredentialsRotator"]}
    }


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


ACCOUNT_USER = "arn:aws:iam::123456789012:user/"


def names(count: int, length: int | None = None) -> list[str]:
    """Distinct IAM names (case-insensitive): the shortest first, or all of one length."""
    if length:
        return [f"{i:0{length}d}" for i in range(count)]
    alphabet = string.ascii_lowercase + string.digits + "_+=,.@-"
    return (list(alphabet) + [a + b for a in alphabet for b in alphabet])[:count]


def policy_index(username: str) -> int:
    """Which of a function's ten managed policies names the user: a hash of its lowercased name."""
    return int(hashlib.sha256(username.lower().encode()).hexdigest()[:8], 16) % 10


def rotate_policy_length(usernames: list[str], path: str = "*") -> int:
    """The rotate function's managed policy naming these users (the longest of the functions': three
    actions and the tagging conditions); with path "*", two ARNs per user."""
    paths = ["", "*/"] if path == "*" else [path.lstrip("/")]
    document = {
        "Statement": [
            {
                "Action": USER_ACTIONS["rotate"],
                "Condition": TAGGING,
                "Effect": "Allow",
                "Resource": [ACCOUNT_USER + p + u for u in usernames for p in paths],
                "Sid": "ListedUsersKeys",
            }
        ],
        "Version": "2012-10-17",
    }
    return len(json.dumps(document, separators=(",", ":")))


def most_users_named_by_arn(length: int | None = None) -> list[dict]:
    """Users at any path (path "*", two ARNs each: the most the policies hold), in names() order, up to
    the first whose ARNs overflow its managed policy (6,144 characters)."""
    users, by_policy = [], defaultdict(list)
    for name in names(2000, length):
        by_policy[policy_index(name)].append(name)
        if rotate_policy_length(by_policy[policy_index(name)]) > 6144:
            return users
        users.append({"username": name, "path": "*"})
    raise AssertionError("unreachable")


def check_iam_limits(plan) -> dict[str, int]:
    """Every policy within IAM's size limits; returns the managed policies attached per role."""
    for policy in resources(plan, "aws_iam_policy").values():
        assert minified_length(policy["policy"]) <= 6144, policy["name"]
    for policy in resources(plan, "aws_iam_role_policy").values():
        if "policy" in policy:
            assert minified_length(policy["policy"]) <= 10240, policy["name"]
    per_role: dict[str, int] = {}
    for attachment in resources(plan, "aws_iam_role_policy_attachment").values():
        per_role[attachment["role"]] = per_role.get(attachment["role"], 0) + 1
    assert max(per_role.values(), default=0) <= 10  # IAM's default managed policies per role
    return per_role


def stored_users(plan) -> list[dict]:
    """The users the plan stores, in username order (one parameter each)."""
    parameters = resources(plan, "aws_ssm_parameter").values()
    for parameter in parameters:
        assert len(parameter["value"].encode()) <= 4096, parameter["name"]
        assert parameter["tier"] == "Standard"
    return sorted((json.loads(p["value"]) for p in parameters), key=lambda user: user["username"])


# A thousand users at the documented maxima: 64-character names and 256 characters of metadata,
# with characters JSON must escape.
THOUSAND = [{"username": name, "metadata": ('ci="x" <&> é\\' * 32)[:256]} for name in names(1000, 64)]
AT_SCALE = {"schedule_duration": "30d", "max_concurrency": 40}


@pytest.fixture(scope="module")
def thousand_users_plan(root):
    return root.plan({"users": THOUSAND, "user_tag_key": "rotated-by", **AT_SCALE})


def test_a_thousand_users_at_maximum_size_fit_standard_parameters(thousand_users_plan):
    assert stored_users(thousand_users_plan) == sorted(THOUSAND, key=lambda user: user["username"])
    # One parameter per user (Standard ones are free, 10,000 per account and region).
    assert len(resources(thousand_users_plan, "aws_ssm_parameter")) == 1000


def test_rotate_names_the_tag_a_user_out_of_reach_needs(thousand_users_plan):
    functions = {
        f["function_name"]: f for f in resources(thousand_users_plan, "aws_lambda_function").values()
    }
    variables = functions["iam-credentials-rotator-rotate"]["environment"][0]["variables"]
    assert variables["USER_TAG"] == "rotated-by=iam-credentials-rotator"


def test_a_thousand_users_are_reached_by_their_tag_within_iam_limits(thousand_users_plan):
    assert check_iam_limits(thousand_users_plan) == {}  # no managed policies at all
    inline = {
        p["name"].removeprefix("iam-credentials-rotator-"): {
            s["Sid"]: s for s in json.loads(p["policy"])["Statement"]
        }
        for p in resources(thousand_users_plan, "aws_iam_role_policy").values()
        if "policy" in p
    }
    for function, actions in USER_ACTIONS.items():
        statement = inline[function]["TaggedUsersKeys"]
        assert as_list(statement["Action"]) == actions, function
        assert statement["Resource"] == ACCOUNT_USER + "*"
        (values,) = statement["Condition"]["StringEquals"].values()
        # With TagUser (RotateKey), also the rotator's own tags only (issue 24).
        tagging = {k: {n: as_list(v) for n, v in t.items()} for k, t in statement["Condition"].items()}
        tagging.pop("StringEquals")
        assert tagging == (TAGGING if "iam:TagUser" in actions else {}), function
        assert {"StringEquals": statement["Condition"]["StringEquals"]} == {
            "StringEquals": {"iam:ResourceTag/rotated-by": values}
        }
        assert as_list(values) == ["iam-credentials-rotator"]
    everything = json.dumps(list(resources(thousand_users_plan, "aws_iam_role_policy").values()))
    assert THOUSAND[0]["username"] not in everything
    assert {f for f, sids in inline.items() if "TaggedUsersKeys" in sids} == set(USER_ACTIONS)


@pytest.mark.parametrize("name_length", [None, 64])
def test_most_users_named_by_arn_keep_every_policy_within_iam_limits(root, name_length):
    users = most_users_named_by_arn(name_length)
    plan = root.plan({"users": users, **AT_SCALE})
    assert stored_users(plan) == sorted(users, key=lambda user: user["username"])
    assert max(check_iam_limits(plan).values()) == 10
    managed = resources(plan, "aws_iam_policy")
    covered = {
        arn
        for p in managed.values()
        if "rotate" in p["name"]
        for arn in json.loads(p["policy"])["Statement"][0]["Resource"]
    }
    assert covered == {ACCOUNT_USER + u["username"] for u in users} | {
        ACCOUNT_USER + "*/" + u["username"] for u in users
    }


def test_three_hundred_users_with_49_character_names_fit_by_arn_at_the_defaults(root):
    """Issue 24, item 6: refused at plan before ("managed policy 8: 6,174 characters"); one exact ARN
    per user (path "/") leaves room to spare in every managed policy."""
    users = [{"username": name} for name in names(300, 49)]
    plan = root.plan({"users": users})
    assert max(check_iam_limits(plan).values()) == 10
    managed = resources(plan, "aws_iam_policy")
    lengths = [minified_length(p["policy"]) for p in managed.values()]
    assert max(lengths) <= 6144 - 1000, max(lengths)  # room for a dozen more such users per policy
    covered = {
        arn
        for p in managed.values()
        if "rotate" in p["name"]
        for arn in json.loads(p["policy"])["Statement"][0]["Resource"]
    }
    assert covered == {ACCOUNT_USER + u["username"] for u in users}
    # A user with a path is named at it, exactly.
    pathed = root.plan({"users": [{"username": "ned", "path": "/team/"}]})
    documents = [json.loads(p["policy"]) for p in resources(pathed, "aws_iam_policy").values()]
    assert {r for d in documents for r in d["Statement"][0]["Resource"]} == {ACCOUNT_USER + "team/ned"}


@pytest.mark.parametrize(
    "path",
    ["team/", "/team", "/with space/", "", "**", "/" + "a" * 511 + "/"],
    ids=lambda p: p[:12] or "empty",
)
def test_a_path_iam_would_refuse_is_refused_at_plan_naming_the_user(root, path):
    error = root.plan_error({"users": [{"username": "ned", "path": path}]})
    assert "users: path must be an IAM path" in error and "ned (" in error


@pytest.mark.parametrize("name_length", [None, 64])
def test_one_user_more_than_arns_fit_is_refused_naming_user_tag_key(root, name_length):
    users = most_users_named_by_arn(name_length)
    one_more = names(len(users) + 1, name_length)[-1]
    users.append({"username": one_more, "path": "*"})
    error = root.plan_error({"users": users, **AT_SCALE})
    assert (
        f"users: naming the {len(users)} users' ARNs overflows the rotate function's managed policy"
        f" {policy_index(one_more)} (" in error
    )
    assert "characters, over the 6,144 IAM allows). Set user_tag_key" in error


def test_more_than_a_thousand_users_are_refused(root):
    users = [{"username": name} for name in names(1001, 8)]
    error = root.plan_error({"users": users, "user_tag_key": "rotated-by", **AT_SCALE})
    assert (
        "users: at most 1000 users per module instance (the size the module is tested at); got 1001" in error
    )


def test_a_thousand_users_fit_the_default_schedule(root):
    """One grace period per run: 1,000 users at the defaults (an hour's schedule, 5 minutes' wait,
    10 at a time) plan."""
    plan = root.plan({"users": THOUSAND, "user_tag_key": "rotated-by"})
    assert len(resources(plan, "aws_sfn_state_machine")) == 2


@pytest.mark.parametrize("max_wait, refused", [("7d", True), ("5h", False)])
def test_usage_rechecks_that_would_overflow_the_runs_history_are_refused(root, max_wait, refused):
    """Step Functions keeps 25,000 events per execution: at 1,000 users (9 batches of 120) each
    re-check round adds about 73; 10,080 rounds (a minute's interval for 7 days) would fail the run
    mid-clean-up, 300 (5 hours) fit within the 22,500 kept below the limit for retries."""
    variables = {
        "users": THOUSAND,
        "user_tag_key": "rotated-by",
        **AT_SCALE,
        "usage_check": {"interval": "1m", "max_wait": max_wait},
    }
    if refused:
        error = " ".join(root.plan_error(variables).split())
        assert (
            'usage_check: a run of 1000 users (9 batches) may check usage 10080 more times (usage_check.max_wait "7d",'
            in error
        )
        assert "Step Functions' 25,000-event limit" in error
        assert "Lengthen usage_check.interval or shorten usage_check.max_wait (at most 305 checks)." in error
    else:
        assert len(resources(root.plan(variables), "aws_sfn_state_machine")) == 2


def test_runs_that_would_overlap_the_next_are_refused(root):
    users = [{"username": name} for name in names(1000, 8)]
    error = root.plan_error(
        {
            "users": users,
            "user_tag_key": "rotated-by",
            "schedule_duration": "20m",
            "cleanup_wait_duration": "10m",
        }
    )
    assert (
        "users: a run of 1000 users takes at least 1600 seconds (hand-offs of max_concurrency = 10 users at a time,"
        ' about 10 seconds each, then cleanup_wait_duration "10m" once), not less than schedule_duration "20m":'
        " runs would overlap. Lengthen schedule_duration, shorten cleanup_wait_duration or raise max_concurrency"
        in error
    )


def cleanup_environment(plan):
    functions = {f["function_name"]: f for f in resources(plan, "aws_lambda_function").values()}
    return functions["iam-credentials-rotator-cleanup"]["environment"][0]["variables"]


@pytest.mark.parametrize(
    "usage_check, switch, margin, rounds",
    [
        # By default as many 5-minute rounds as fit in the hour after a 310-second run (a minute spare).
        (None, "on", "120", "10"),
        ({"margin": "0s", "interval": "10m", "max_wait": "50m"}, "on", "0", "5"),
        ({"max_wait": "0s"}, "on", "120", "0"),  # checked once, never waited for
        ({"enabled": False}, "off", "120", "0"),
    ],
)
def test_the_usage_check_reaches_the_clean_up(root, usage_check, switch, margin, rounds):
    """The run's loop itself (a Wait of `interval`, `max_wait` re-checks at most) is checked on the
    deployed definition by tests/test_usage_check.py."""
    environment = cleanup_environment(root.plan({"usage_check": usage_check}))
    assert (environment["USAGE_CHECK"], environment["USAGE_MARGIN_SECONDS"]) == (switch, margin)
    assert environment["USAGE_MAX_ROUNDS"] == rounds


BAD_INPUTS = [
    (
        {"users": [{"username": "homer", "metadata": "x" * 257}]},
        "users: metadata is at most 256 characters; too long for: homer.",
    ),
    (
        {"user_tag_key": "aws:owner"},
        'user_tag_key must be an IAM tag key: 1 to 128 letters, digits, spaces or _.:/=+-@, not starting with "aws:"; got "aws:owner".',
    ),
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
        "users: each user may be listed once per account (IAM user names are case-insensitive); listed more than once: homer, HOMER",
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
    ({"old_key_action": "disable"}, 'old_key_action must be "delete" or "deactivate"; got "disable"'),
    (
        {"key_verification_timeout": "11m"},
        'key_verification_timeout must be a whole number of seconds or minutes, from "1s" to "10m", such as "60s"; got "11m"',
    ),
    (
        {"key_verification_timeout": "1h"},
        "key_verification_timeout must be a whole number of seconds or minutes",
    ),
    ({"max_concurrency": 0}, "max_concurrency must be a whole number from 1 to 40; got 0"),
    ({"max_concurrency": 2.5}, "max_concurrency must be a whole number from 1 to 40"),
    (
        {"alarm_sns_topic_arn": "alerts"},
        'alarm_sns_topic_arn must be an SNS topic ARN, such as arn:aws:sns:eu-west-1:123456789012:alerts (use aws_sns_topic.<name>.arn); got "alerts"',
    ),
    ({"kms_key_arn": "alias/secrets"}, "kms_key_arn must be a KMS key ARN"),
    ({"log_kms_key_arn": "alias/logs"}, "log_kms_key_arn must be a KMS key ARN, such as arn:aws:kms:"),
    (
        {"architecture": "aarch64"},
        'architecture must be "x86_64" or "arm64" (Lambda\'s instruction sets); got "aarch64"',
    ),
    (
        {"application_log_level": "WARNING"},
        'application_log_level must be one of TRACE, DEBUG, INFO, WARN, ERROR or FATAL (Lambda\'s application log levels); got "WARNING"',
    ),
    (
        {"system_log_level": "ERROR"},
        'system_log_level must be one of DEBUG, INFO or WARN (Lambda\'s system log levels); got "ERROR"',
    ),
    (
        {"usage_check": {"margin": "2 minutes"}},
        'usage_check: margin must be a whole number (0 allowed) and interval a positive whole number, each followed by s, m, h or d, such as { margin = "2m", interval = "5m" }; got margin "2 minutes" and interval "5m".',
    ),
    (
        {"usage_check": {"interval": "0m"}},
        "usage_check: margin must be a whole number (0 allowed) and interval",
    ),
    (
        {"usage_check": {"max_wait": "1 hour"}},
        'usage_check: max_wait must be a whole number followed by s, m, h or d, such as "30m" ("0s": check once, never wait), or null to wait as long as fits before the next run; got "1 hour".',
    ),
    (
        {"usage_check": {"max_wait": "56m"}},
        'usage_check: a run of 1 users takes at least 310 seconds, and its clean-up may then wait usage_check.max_wait "56m" more, which reaches the next run (schedule_duration "1h"): runs would overlap.',
    ),
    (
        {"handoff_mode": "async"},
        'handoff_mode must be "return" (the hand-off is done when the handler returns) or "acknowledged" (when someone confirms it with the event\'s taskToken); got "async".',
    ),
    (
        {"handoff_mode": "acknowledged", "handoff_timeout": "30 minutes"},
        'handoff_timeout must be a whole number followed by s, m, h or d, such as "30m", "4h" or "2d"; got "30 minutes".',
    ),
    (
        {"handoff_mode": "acknowledged", "handoff_timeout": "10m"},
        'handoff_timeout must be at least "20m" in acknowledged mode: the credentials handler runs within it, for up to 15 minutes; got "10m".',
    ),
    (
        {"handoff_mode": "acknowledged", "users": [{"username": f"u{i}"} for i in range(11)]},
        'handoff_timeout: a run of 11 users may take 3900 seconds (acknowledged hand-offs of max_concurrency = 10 users at a time, each waiting up to handoff_timeout "30m" when nobody answers, then cleanup_wait_duration "5m" once), not less than schedule_duration "1h": runs would overlap. Shorten handoff_timeout,',
    ),
]


@pytest.mark.parametrize("variables, message", BAD_INPUTS, ids=[json.dumps(v)[:60] for v, _ in BAD_INPUTS])
def test_bad_input_is_refused_at_plan_naming_the_input_and_the_fix(root, variables, message):
    assert message in root.plan_error(variables)


STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:iam-credentials-rotator"
LIST_RUNS = (
    f"aws stepfunctions list-executions --region us-east-1 --state-machine-arn {STATE_MACHINE}"
    " --max-items 5 --status-filter "
)


def alarms_of(plan) -> dict:
    return {
        a["alarm_name"].removeprefix("iam-credentials-rotator-"): a
        for a in resources(plan, "aws_cloudwatch_metric_alarm").values()
    }


@pytest.fixture(scope="module")
def alarm_plan(root):
    return root.plan({"alarm_sns_topic_arn": "arn:aws:sns:us-east-1:123456789012:alerts"})


def test_failed_runs_raise_an_alarm_to_the_topic(alarm_plan):
    """2 of the last 3 runs (one period per run) left users not rotated, failed as a whole or were
    aborted: one user failing now and then heals at the next run and pages nobody; one failing at
    every run keeps the alarm in ALARM (one page) instead of ALARM and OK at every run."""
    topic = "arn:aws:sns:us-east-1:123456789012:alerts"
    failed = alarms_of(alarm_plan)["rotation-failed"]
    assert failed["alarm_actions"] == [topic] and failed["threshold"] == 0
    assert failed["ok_actions"] == [topic]
    assert failed["comparison_operator"] == "GreaterThanThreshold"
    assert (failed["evaluation_periods"], failed["datapoints_to_alarm"]) == (3, 2)
    assert failed["treat_missing_data"] == "notBreaching"
    metrics = {q["id"]: q for q in failed["metric_query"]}
    # The run's failed-user count, or 1 for a run that failed before Report counted (or was
    # aborted); FILL, since Step Functions publishes these counts only when they are not 0.
    assert metrics["failed"]["expression"] == (
        "MAX([FILL(failed_users, 0), FILL(executions_failed, 0) + FILL(executions_aborted, 0)])"
    )
    assert metrics["failed"]["return_data"] is True
    watched = {q["id"]: q["metric"][0] for q in metrics.values() if q["metric"]}
    assert {m["metric_name"] for m in watched.values()} == {
        "FailedUsers",
        "ExecutionsFailed",
        "ExecutionsAborted",
    }
    assert (watched["failed_users"]["namespace"], watched["failed_users"]["stat"]) == (
        "IAMCredentialsRotator",
        "Maximum",
    )
    assert watched["failed_users"]["dimensions"] == {"Rotator": "iam-credentials-rotator"}
    assert watched["executions_failed"]["dimensions"] == {"StateMachineArn": STATE_MACHINE}
    assert {m["period"] for m in watched.values()} == {3600}  # one hourly run per period
    description = failed["alarm_description"]
    assert LIST_RUNS + "FAILED" in description
    assert (
        "aws stepfunctions describe-execution --region us-east-1 --execution-arn <executionArn>"
        " --query cause --output text" in description
    )
    assert alarm_plan.outputs["failure_alarm_name"] == "iam-credentials-rotator-rotation-failed"


def test_every_alarm_notifies_the_topic_and_names_a_command_within_cloudwatch_limits(alarm_plan):
    topic = "arn:aws:sns:us-east-1:123456789012:alerts"
    alarms = alarms_of(alarm_plan)
    assert set(alarms) == {
        "rotation-failed",
        "rotation-timed-out",
        "schedule-failed",
        "functions-throttled-or-failed",
        "rotation-stale",
    }
    assert alarm_plan.outputs["alarm_names"] == {
        "failed": "iam-credentials-rotator-rotation-failed",
        "timed_out": "iam-credentials-rotator-rotation-timed-out",
        "schedule_failed": "iam-credentials-rotator-schedule-failed",
        "functions": "iam-credentials-rotator-functions-throttled-or-failed",
        "stale": "iam-credentials-rotator-rotation-stale",
    }
    for name, alarm in alarms.items():
        assert alarm["alarm_actions"] == [topic], name
        assert len(alarm["alarm_description"]) <= 1024, name  # CloudWatch's limit
        assert len([q for q in alarm["metric_query"] if q["metric"]]) <= 10, name
        if name != "rotation-stale":
            assert " aws " in alarm["alarm_description"], name
            assert "docs/operations.md" in alarm["alarm_description"], name


def test_a_stuck_run_alarms_as_soon_as_it_times_out(alarm_plan):
    stuck = alarms_of(alarm_plan)["rotation-timed-out"]
    assert (stuck["namespace"], stuck["metric_name"]) == ("AWS/States", "ExecutionsTimedOut")
    assert stuck["dimensions"] == {"StateMachineArn": STATE_MACHINE}
    assert (stuck["statistic"], stuck["period"], stuck["evaluation_periods"]) == ("Sum", 3600, 1)
    assert stuck["comparison_operator"] == "GreaterThanThreshold" and stuck["threshold"] == 0
    assert stuck["treat_missing_data"] == "notBreaching"
    # It clears a period later because time passed, not because anyone saw to the users.
    assert not stuck["ok_actions"]
    description = stuck["alarm_description"]
    assert "its timeout (1 h, at most schedule_duration 1h)" in description
    assert LIST_RUNS + "TIMED_OUT" in description
    assert (
        "aws stepfunctions get-execution-history --region us-east-1 --execution-arn <executionArn>"
        " --reverse-order" in description
    )


def test_runs_the_schedule_could_not_start_alarm_until_the_dead_letter_queue_is_emptied(alarm_plan):
    dead = alarms_of(alarm_plan)["schedule-failed"]
    assert (dead["namespace"], dead["metric_name"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert dead["dimensions"] == {"QueueName": "iam-credentials-rotator-schedule-dead-letters"}
    assert (dead["statistic"], dead["period"], dead["evaluation_periods"]) == ("Maximum", 300, 1)
    assert dead["threshold"] == 0 and dead["treat_missing_data"] == "ignore"
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/iam-credentials-rotator-schedule-dead-letters"
    assert f"aws sqs receive-message --region us-east-1 --queue-url {url}" in dead["alarm_description"]
    assert f"aws sqs purge-queue --region us-east-1 --queue-url {url}" in dead["alarm_description"]


def test_throttled_functions_and_errors_no_other_alarm_reports_alarm_2_of_3_runs(alarm_plan):
    functions = alarms_of(alarm_plan)["functions-throttled-or-failed"]
    assert (functions["evaluation_periods"], functions["datapoints_to_alarm"]) == (3, 2)
    assert functions["treat_missing_data"] == "notBreaching" and functions["threshold"] == 0
    watched = {
        (q["metric"][0]["metric_name"], q["metric"][0]["dimensions"]["FunctionName"])
        for q in functions["metric_query"]
        if q["metric"]
    }
    every = ["list-users", "rotate", "handoff", "cleanup", "rollback", "report", "check"]
    assert watched == {("Throttles", f"iam-credentials-rotator-{f}") for f in every} | {
        ("Errors", f"iam-credentials-rotator-{f}") for f in ["list-users", "cleanup", "rollback"]
    }
    (expression,) = [q for q in functions["metric_query"] if q["return_data"]]
    assert expression["expression"].count("FILL(") == 10
    assert "aws lambda get-account-settings --region us-east-1" in functions["alarm_description"]


@pytest.mark.parametrize(
    "schedule, period, runs, to_alarm, timeout",
    [
        ("1h", 3600, 3, 2, 3600),  # every step at its slowest would take about 22 hours
        ("1d", 86400, 3, 2, None),  # a day: not bounded, its slowest fits
        ("30d", 86400, 1, 1, None),  # a day holds at most one run: each failed run alarms alone
    ],
)
def test_a_run_never_outlasts_the_schedule_and_alarms_count_runs(
    root, schedule, period, runs, to_alarm, timeout
):
    """A run stuck past schedule_duration times out (and alarms) before the next run starts,
    rather than after days while later runs skip its users."""
    plan = root.plan({"schedule_duration": schedule, "cleanup_wait_duration": "30s"})
    schedule_seconds = {"1h": 3600, "1d": 86400, "30d": 30 * 86400}[schedule]
    run_timeout = plan.outputs["run_timeout_seconds"]
    assert run_timeout <= schedule_seconds
    if timeout:
        assert run_timeout == timeout
    else:
        assert 3600 < run_timeout < schedule_seconds
    alarms = alarms_of(plan)
    failed = alarms["rotation-failed"]
    assert {q["metric"][0]["period"] for q in failed["metric_query"] if q["metric"]} == {period}
    assert (failed["evaluation_periods"], failed["datapoints_to_alarm"]) == (runs, to_alarm)
    # CloudWatch's evaluation range: 7 days (1 day for periods under an hour).
    assert period * runs <= (604800 if period >= 3600 else 86400)
    assert alarms["rotation-timed-out"]["period"] == period


@pytest.mark.parametrize(
    "schedule, threshold, text",
    [
        ("1h", 26 * 3600, "26 hours"),
        ("12h", 2 * 86400, "2 days"),
        ("4d", 9 * 86400, "9 days"),  # past CloudWatch's 7-day look-back: covered all the same
        ("30d", 61 * 86400, "61 days"),
        ("90d", 181 * 86400, "181 days"),
    ],
)
def test_a_silent_stop_raises_an_alarm_after_twice_the_schedule(root, schedule, threshold, text):
    """A key older than twice the schedule plus a day (one missed rotation, and the check's
    cadence) raises the alarm, at every schedule; a check that stops reporting raises it too."""
    plan = root.plan({"schedule_duration": schedule, "cleanup_wait_duration": "30s"})
    alarms = {a["alarm_name"]: a for a in resources(plan, "aws_cloudwatch_metric_alarm").values()}
    stale = alarms["iam-credentials-rotator-rotation-stale"]
    assert plan.outputs["staleness_alarm_name"] == "iam-credentials-rotator-rotation-stale"
    assert (stale["namespace"], stale["metric_name"]) == ("IAMCredentialsRotator", "OldestAccessKeyAge")
    assert stale["dimensions"] == {"Rotator": "iam-credentials-rotator"}
    assert stale["comparison_operator"] == "GreaterThanThreshold" and stale["threshold"] == threshold
    assert stale["treat_missing_data"] == "breaching"
    # One day-long period of the check's readings (it runs twice a day), within CloudWatch's
    # 7-day evaluation limit whatever the schedule.
    assert (stale["statistic"], stale["period"], stale["evaluation_periods"]) == ("Minimum", 86400, 1)
    assert stale["period"] * stale["evaluation_periods"] <= 604800
    assert f"over {text} (twice schedule_duration, {schedule}, plus a day)" in stale["alarm_description"]
    rules = {r["name"]: r for r in resources(plan, "aws_cloudwatch_event_rule").values()}
    assert rules["iam-credentials-rotator-check"]["schedule_expression"] == "rate(12 hours)"
    (permission,) = resources(plan, "aws_lambda_permission").values()
    assert (permission["principal"], permission["action"]) == (
        "events.amazonaws.com",
        "lambda:InvokeFunction",
    )
    assert permission["function_name"] == "iam-credentials-rotator-check"
    assert permission["source_account"] == "123456789012"


def test_a_kms_key_encrypts_the_secrets_and_the_handler_may_decrypt(root):
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    plan = root.plan({"kms_key_arn": key, "credentials_handler_role_name": "handler-role"})
    via = {"StringEquals": {"kms:ViaService": ["secretsmanager.us-east-1.amazonaws.com"]}}

    def normalized(statement):  # provider versions render a one-value condition as a string or a list
        for test in statement.get("Condition", {}).values():
            for key, value in test.items():
                test[key] = as_list(value)
        return statement

    handler = json.loads(plan.outputs["credentials_handler_policy_json"])
    handler["Statement"] = [normalized(s) for s in handler["Statement"]]
    decrypt = [s for s in handler["Statement"] if s["Sid"] == "DecryptRotatedCredentials"]
    assert decrypt == [
        {
            "Sid": "DecryptRotatedCredentials",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key,
            "Condition": via,
        }
    ]
    attached = [p for p in resources(plan, "aws_iam_role_policy").values() if p.get("role") == "handler-role"]
    attached_policy = json.loads(attached[0]["policy"])
    attached_policy["Statement"] = [normalized(s) for s in attached_policy["Statement"]]
    assert attached_policy == handler
    functions = {f["function_name"]: f for f in resources(plan, "aws_lambda_function").values()}
    assert functions["iam-credentials-rotator-rotate"]["environment"][0]["variables"]["KMS_KEY_ID"] == key
    inline = {
        p["name"]: json.loads(p["policy"])
        for p in resources(plan, "aws_iam_role_policy").values()
        if "policy" in p
    }
    rotate_kms = [
        s for s in inline["iam-credentials-rotator-rotate"]["Statement"] if s["Sid"] == "SecretsKey"
    ]
    assert rotate_kms[0]["Resource"] == key and normalized(rotate_kms[0])["Condition"] == via


def test_every_taggable_resource_carries_the_module_tags(root, default_plan):
    """Taggable: the resource type has a `tags` argument in the provider's schema."""
    schema = json.loads(root.tf.execute_command("providers", "schema", "-json").out)
    (provider,) = schema["provider_schemas"].values()
    taggable = {
        type_
        for type_, s in provider["resource_schemas"].items()
        if "tags" in s["block"].get("attributes", {})
    }
    planned = {
        address: change
        for address, change in default_plan.resource_changes.items()
        if change["mode"] == "managed"
    }
    tagged = {address for address, change in planned.items() if change["type"] in taggable}
    # Every kind of resource the module creates that can carry tags, IAM policies included.
    assert {planned[a]["type"] for a in tagged} == {
        "aws_cloudwatch_event_rule",
        "aws_sqs_queue",
        "aws_cloudwatch_log_group",
        "aws_cloudwatch_metric_alarm",
        "aws_iam_policy",
        "aws_iam_role",
        "aws_lambda_function",
        "aws_sfn_state_machine",
        "aws_ssm_parameter",
    }
    for address in tagged:
        assert planned[address]["change"]["after"]["tags"] == {"team": "platform"}, address


def trust(role) -> dict:
    (statement,) = json.loads(role["assume_role_policy"])["Statement"]
    for test in statement.get("Condition", {}).values():
        for key, value in test.items():
            test[key] = as_list(value)
    return statement


def test_roles_take_the_path_and_boundary_and_trust_only_this_account_and_rotator(root):
    boundary = "arn:aws:iam::123456789012:policy/boundary"
    plan = root.plan({"role_path": "/rotator/", "role_permissions_boundary_arn": boundary})
    roles = {
        r["name"].removeprefix("iam-credentials-rotator-"): r
        for r in resources(plan, "aws_iam_role").values()
    }
    assert set(roles) == {
        "list-users",
        "rotate",
        "handoff",
        "cleanup",
        "rollback",
        "report",
        "check",
        "state-machine",
        "schedule",
    }
    for role in roles.values():
        assert role["path"] == "/rotator/" and role["permissions_boundary"] == boundary, role["name"]
    account = {"aws:SourceAccount": ["123456789012"]}
    states = "arn:aws:states:us-east-1:123456789012:stateMachine:iam-credentials-rotator"
    expected = {
        "lambda": ({"Service": "lambda.amazonaws.com"}, {"StringEquals": account}),
        "state-machine": (
            {"Service": "states.amazonaws.com"},
            {"StringEquals": account, "ArnLike": {"aws:SourceArn": sorted([states, states + "-batch"])}},
        ),
        "schedule": (
            {"Service": "scheduler.amazonaws.com"},
            {
                "StringEquals": account,
                "ArnLike": {
                    "aws:SourceArn": [
                        "arn:aws:scheduler:us-east-1:123456789012:schedule/default/iam-credentials-rotator"
                    ]
                },
            },
        ),
    }
    for name, role in roles.items():
        principal, condition = expected.get(name, expected["lambda"])
        statement = trust(role)
        assert statement["Principal"] == principal and statement["Action"] == "sts:AssumeRole", name
        assert statement["Condition"] == condition, name


@pytest.mark.parametrize(
    "variables, message",
    [
        (
            {"role_path": "rotator"},
            'role_path must be an IAM path: "/", or up to 512 printable ASCII characters',
        ),
        ({"role_path": "/with space/"}, 'such as "/service-roles/"; got "/with space/"'),
        (
            {"role_permissions_boundary_arn": "boundary"},
            "role_permissions_boundary_arn must be the ARN of an IAM managed policy, such as"
            ' arn:aws:iam::123456789012:policy/boundary (use aws_iam_policy.<name>.arn, not its name); got "boundary"',
        ),
    ],
)
def test_bad_role_inputs_are_refused_naming_the_input(root, variables, message):
    assert message in root.plan_error(variables)


def changed(plan) -> dict[str, list[str]]:
    return {
        address: change["change"]["actions"]
        for address, change in plan.resource_changes.items()
        if change["mode"] == "managed" and change["change"]["actions"] != ["no-op"]
    }


def test_adding_or_removing_one_user_changes_one_parameter_and_one_policy_per_function(aws, tmp_path_factory):
    """Users are keyed by name: where a user sits in the list does not matter to any other user's resources.
    The rotation state machine is updated in place too: its definition holds the list Terraform wrote
    (each parameter's digest, issue 24), which the functions check every read against."""
    root = TerraformRoot("tests/fixtures/plan", tmp_path_factory.mktemp("one-user"), aws.endpoint)
    listed = [{"username": name} for name in ["apu", "bart", "carl", "edna", "lisa", "moe", "otto"]]
    outputs = root.apply({"name": "one-user", "users": listed})
    functions = ["list-users", "rotate", "handoff", "cleanup", "rollback", "report", "check"]
    assert outputs["function_arns"] == {
        f: f"arn:aws:lambda:us-east-1:123456789012:function:one-user-{f}" for f in functions
    }
    assert outputs["function_role_arns"] == {
        f: f"arn:aws:iam::123456789012:role/one-user-{f}" for f in functions
    }
    assert outputs["function_log_group_names"] == {f: f"/aws/lambda/one-user-{f}" for f in functions}

    # In a policy that already names a user, so that no policy is created.
    added = next(n for n in names(600, 3) if policy_index(n) in {policy_index(u["username"]) for u in listed})
    policies = {
        f'module.rotator.aws_iam_policy.users["{f}-users-{policy_index(added)}"]' for f in USER_ACTIONS
    }
    plan = root.plan({"name": "one-user", "users": listed[:3] + [{"username": added}] + listed[3:]})
    assert changed(plan) == {
        f'module.rotator.aws_ssm_parameter.users["{added}"]': ["create"],
        "module.rotator.aws_sfn_state_machine.this": ["update"],
        **{policy: ["update"] for policy in policies},
    }

    removed = listed[2]["username"]
    left = [u for u in listed if u["username"] != removed]
    policies = {
        f'module.rotator.aws_iam_policy.users["{f}-users-{policy_index(removed)}"]' for f in USER_ACTIONS
    }
    assert policy_index(removed) in {policy_index(u["username"]) for u in left}  # so its policy stays
    plan = root.plan({"name": "one-user", "users": left})
    assert changed(plan) == {
        f'module.rotator.aws_ssm_parameter.users["{removed}"]': ["delete"],
        "module.rotator.aws_sfn_state_machine.this": ["update"],
        **{policy: ["update"] for policy in policies},
    }
    listed = json.loads(
        plan.resource_changes["module.rotator.aws_sfn_state_machine.this"]["change"]["after"]["definition"]
    )
    assert listed["States"]["ListUsers"]["Parameters"]["listedUsers"] == ",".join(
        sorted(
            f"{parameter_id(u['username'])}={hashlib.sha256(json.dumps(u, separators=(',', ':')).encode()).hexdigest()}"
            for u in left
        )
    )
    root.destroy()
    # keep_logs_on_destroy's default: the logs of which user got which key when outlive the module.
    kept = aws.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/one-user-")["logGroups"]
    assert sorted(g["logGroupName"] for g in kept) == sorted(f"/aws/lambda/one-user-{f}" for f in functions)
    states = aws.client("logs").describe_log_groups(logGroupNamePrefix="/aws/vendedlogs/states/one-user")
    assert [g["logGroupName"] for g in states["logGroups"]] == ["/aws/vendedlogs/states/one-user"]
    functions_left = aws.client("lambda").list_functions()["Functions"]
    assert not any(f["FunctionName"].startswith("one-user-") for f in functions_left)


def test_keep_logs_on_destroy_false_lets_destroy_delete_the_log_groups(root, default_plan):
    groups = resources(default_plan, "aws_cloudwatch_log_group")
    assert len(groups) == 8 and {g["skip_destroy"] for g in groups.values()} == {True}
    groups = resources(root.plan({"keep_logs_on_destroy": False}), "aws_cloudwatch_log_group")
    assert len(groups) == 8 and {g["skip_destroy"] for g in groups.values()} == {False}


def test_log_kms_key_encrypts_every_log_group_and_only_when_given(root, default_plan):
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    groups = resources(root.plan({"log_kms_key_arn": key}), "aws_cloudwatch_log_group")
    # The seven functions' and the state machine's.
    assert len(groups) == 8 and {g["kms_key_id"] for g in groups.values()} == {key}
    assert {g["kms_key_id"] for g in resources(default_plan, "aws_cloudwatch_log_group").values()} == {None}
