"""Plan tests of modules/member-account: the role it creates, whom it trusts, what it may touch (by
name or by tag), and the inputs it refuses. The deployed role at work is tests/test_multi_account.py."""

import json

import pytest

from harness.terraform import TerraformRoot


@pytest.fixture(scope="module")
def root(aws, tmp_path_factory):
    return TerraformRoot("tests/fixtures/member_plan", tmp_path_factory.mktemp("member-plan"), aws.endpoint)


def condition(statement):
    """The statement's Condition with every value as a list: hashicorp/aws 5.x renders a condition of
    one value as a string, where 3.x wrote a one-element list; IAM reads both alike."""
    return {
        test: {key: value if isinstance(value, list) else [value] for key, value in keys.items()}
        for test, keys in statement["Condition"].items()
    }


def member_role(plan):
    (role,) = [c["change"]["after"] for c in plan.resource_changes.values() if c["type"] == "aws_iam_role"]
    (policy,) = [
        c["change"]["after"] for c in plan.resource_changes.values() if c["type"] == "aws_iam_role_policy"
    ]
    return role, json.loads(role["assume_role_policy"]), json.loads(policy["policy"])


def test_the_role_trusts_only_the_rotators_key_functions_and_reaches_only_the_named_users(root):
    role, trust, policy = member_role(root.plan({"usernames": ["ci", "deploy"], "role_path": "/rotation/"}))

    assert (role["name"], role["path"]) == ("rotator-member", "/rotation/")
    (statement,) = trust["Statement"]
    assert sorted(statement["Principal"]["AWS"]) == [
        f"arn:aws:iam::111111111111:role/rotation/rotator-{f}"
        for f in ("check", "cleanup", "rollback", "rotate")
    ]
    assert condition(statement) == {"StringEquals": {"aws:PrincipalAccount": ["111111111111"]}}
    keys, in_flight = policy["Statement"]
    assert sorted(keys["Action"]) == [
        "iam:CreateAccessKey",
        "iam:DeleteAccessKey",
        "iam:GetAccessKeyLastUsed",
        "iam:ListAccessKeys",
        "iam:ListUserTags",
        "iam:TagUser",
        "iam:UpdateAccessKey",
    ]
    users = [r.split(":user/")[1] for r in keys["Resource"]]
    assert sorted(users) == ["*/ci", "*/deploy", "ci", "deploy"] and "Condition" not in keys
    assert_in_flight(in_flight)


def assert_in_flight(statement):
    """A user mid-rotation, by the tag RotateKey puts on it, stays in reach of its undo and clean-up
    (never of CreateAccessKey), listed or not (issue 15)."""
    assert statement["Sid"] == "UsersKeysInFlight"
    assert sorted(statement["Action"]) == [
        "iam:DeleteAccessKey",
        "iam:GetAccessKeyLastUsed",
        "iam:ListAccessKeys",
        "iam:ListUserTags",
        "iam:UntagUser",
        "iam:UpdateAccessKey",
    ]
    assert statement["Resource"].endswith(":user/*")
    assert condition(statement) == {
        "StringEquals": {"iam:ResourceTag/iam-credentials-rotator/rotator": ["rotating"]}
    }


def test_by_tag_the_role_reaches_users_tagged_with_the_rotators_name(root):
    _, _, policy = member_role(root.plan({"user_tag_key": "rotated-by"}))

    keys, in_flight = policy["Statement"]
    assert keys["Resource"].endswith(":user/*")
    assert condition(keys) == {"StringEquals": {"iam:ResourceTag/rotated-by": ["rotator"]}}
    assert_in_flight(in_flight)


BAD_INPUTS = [
    (
        {"rotator_account_id": "1111", "usernames": ["ci"]},
        'rotator_account_id must be an AWS account id, 12 digits such as "111111111111"; got "1111".',
    ),
    ({"name": "has spaces", "usernames": ["ci"]}, "name must be the rotator's name: 1 to 40 letters"),
    ({"role_path": "rotation", "usernames": ["ci"]}, 'role_path must be an IAM path: "/", or up to 512'),
    (
        {"usernames": ["bad name"]},
        'usernames: every username must be a valid IAM user name, 1 to 64 characters from letters, digits and _+=,.@- ; these are not: "bad name".',
    ),
    (
        {"user_tag_key": "aws:owner"},
        'user_tag_key must be an IAM tag key: 1 to 128 letters, digits, spaces or _.:/=+-@, not starting with "aws:"; got "aws:owner".',
    ),
    (
        {},
        "Set exactly one of usernames (the users by name) and user_tag_key (the users by tag); got 0 usernames and user_tag_key null.",
    ),
    (
        {"usernames": ["ci"], "user_tag_key": "rotated-by"},
        'Set exactly one of usernames (the users by name) and user_tag_key (the users by tag); got 1 usernames and user_tag_key "rotated-by".',
    ),
]


@pytest.mark.parametrize("variables, message", BAD_INPUTS, ids=[json.dumps(v)[:50] for v, _ in BAD_INPUTS])
def test_bad_member_inputs_are_refused_at_plan_naming_the_input(root, variables, message):
    assert message in root.plan_error(variables)
