"""Plan tests of users in member accounts (issue 11): how they are stored, what the rotator's roles
may assume, and the inputs refused at plan."""

import hashlib
import json

import pytest

from harness.aws import ACCOUNT_ID
from harness.terraform import TerraformRoot

MEMBER = "222222222222"


@pytest.fixture(scope="module")
def root(aws, tmp_path_factory):
    return TerraformRoot("tests/fixtures/plan", tmp_path_factory.mktemp("plan-multi"), aws.endpoint)


@pytest.fixture(scope="module")
def plan(root):
    return root.plan(
        {
            "users": [
                {"username": "ci"},
                {"username": "ci", "account_id": MEMBER, "metadata": "env=prod"},
                {"username": "deploy", "account_id": ACCOUNT_ID},  # this account, named
            ]
        }
    )


def resources(plan, type_):
    return {
        address: change["change"]["after"]
        for address, change in plan.resource_changes.items()
        if change["type"] == type_
    }


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def role_policy(plan, function):
    policies = resources(plan, "aws_iam_role_policy")
    return json.loads(policies[f'module.rotator.aws_iam_role_policy.this["{function}"]']["policy"])


def test_the_same_username_is_stored_once_per_account_and_this_accounts_users_as_before(plan):
    parameters = resources(plan, "aws_ssm_parameter")
    prefix = "module.rotator.aws_ssm_parameter.users"
    assert set(parameters) == {f'{prefix}["ci"]', f'{prefix}["{MEMBER}/ci"]', f'{prefix}["deploy"]'}
    own, member = parameters[f'{prefix}["ci"]'], parameters[f'{prefix}["{MEMBER}/ci"]']
    # This account's users keep the parameter name and item they had before accounts existed.
    assert own["name"] == "/iam-credentials-rotator/users/" + digest("ci")
    assert own["value"] == '{"username":"ci"}'
    assert parameters[f'{prefix}["deploy"]']["value"] == '{"username":"deploy"}'
    assert member["name"] == "/iam-credentials-rotator/users/" + digest(f"{MEMBER}:ci")
    assert json.loads(member["value"]) == {"username": "ci", "accountId": MEMBER, "metadata": "env=prod"}


def test_the_functions_that_touch_keys_may_assume_exactly_their_own_member_roles(plan):
    """Issue 24: one member role per function, each assumed by that function only."""
    member_role = f"arn:aws:iam::{MEMBER}:role/iam-credentials-rotator-member-%s"
    functions = ["rotate", "rollback", "cleanup", "check"]
    assert plan.outputs["member_role_names"] == {f: f"iam-credentials-rotator-member-{f}" for f in functions}
    assert plan.outputs["member_role_arns"] == {MEMBER: {f: member_role % f for f in functions}}
    lambdas = {f["function_name"]: f for f in resources(plan, "aws_lambda_function").values()}
    for function in functions:
        statements = {s["Sid"]: s for s in role_policy(plan, function)["Statement"]}
        assert statements["AssumeMemberRoles"]["Action"] == "sts:AssumeRole"
        assert statements["AssumeMemberRoles"]["Resource"] == member_role % function
        assert (
            lambdas[f"iam-credentials-rotator-{function}"]["environment"][0]["variables"]["MEMBER_ROLE_ARN"]
            == "arn:aws:iam::{account}:role/iam-credentials-rotator-member-" + function
        )
    for function in ["list-users", "handoff", "report"]:
        assert "AssumeMemberRoles" not in {s["Sid"] for s in role_policy(plan, function)["Statement"]}


def test_member_users_are_named_by_their_member_role_not_by_the_rotators_policies(plan):
    documents = [json.loads(p["policy"]) for p in resources(plan, "aws_iam_policy").values()]
    named = {r for d in documents for s in d["Statement"] for r in s["Resource"]}
    assert named and all(f":iam::{ACCOUNT_ID}:user/" in arn for arn in named)
    assert any(arn.endswith(":user/ci") for arn in named)
    # The member users' secrets ("<name>@<account>/<username>") are the rotator's, in this account.
    secrets = {s["Sid"]: s for s in role_policy(plan, "rotate")["Statement"]}["RotatorSecrets"]["Resource"]
    assert sorted(secrets) == [
        f"arn:aws:secretsmanager:us-east-1:{ACCOUNT_ID}:secret:iam-credentials-rotator/*",
        f"arn:aws:secretsmanager:us-east-1:{ACCOUNT_ID}:secret:iam-credentials-rotator@*",
    ]


def test_without_member_users_nothing_about_accounts_is_planned(root):
    plan = root.plan({"users": [{"username": "ci"}]})
    assert plan.outputs["member_role_arns"] == {}
    for function in ["rotate", "check"]:
        statements = role_policy(plan, function)["Statement"]
        assert "AssumeMemberRoles" not in {s["Sid"] for s in statements}
    functions = {f["function_name"]: f for f in resources(plan, "aws_lambda_function").values()}
    assert "MEMBER_ROLE_ARN" not in functions["iam-credentials-rotator-rotate"]["environment"][0]["variables"]


BAD_INPUTS = [
    (
        [{"username": "ci", "account_id": "2222"}, {"username": "cd", "account_id": "22222222222a"}],
        'users: account_id must be an AWS account id, 12 digits such as "222222222222" (or null for the '
        'rotator\'s own account); these are not: ci ("2222"), cd ("22222222222a").',
    ),
    (
        [
            {"username": "ci", "account_id": MEMBER},
            {"username": "CI", "account_id": MEMBER},
            {"username": "ci"},
        ],
        "users: each user may be listed once per account (IAM user names are case-insensitive); listed more "
        f"than once: ci in account {MEMBER}, CI in account {MEMBER}.",
    ),
    (
        [{"username": "ci"}, {"username": "ci", "account_id": ACCOUNT_ID}],
        f'users: each user may be listed once per account; listed both with account_id = "{ACCOUNT_ID}" '
        "(this account) and without: ci. Keep one of the two entries.",
    ),
]


@pytest.mark.parametrize("users, message", BAD_INPUTS, ids=["malformed", "duplicate", "own-account-twice"])
def test_bad_accounts_are_refused_at_plan_naming_the_users(root, users, message):
    assert message in root.plan_error({"users": users})
