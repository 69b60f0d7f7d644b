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


def member_roles(plan):
    """By function: (role, trust policy, inline policy's statements by Sid)."""
    roles = {
        c["index"]: c["change"]["after"]
        for c in plan.resource_changes.values()
        if c["type"] == "aws_iam_role"
    }
    policies = {
        c["index"]: json.loads(c["change"]["after"]["policy"])
        for c in plan.resource_changes.values()
        if c["type"] == "aws_iam_role_policy"
    }
    assert set(roles) == set(policies) == set(FUNCTIONS)
    return {
        f: (
            roles[f],
            json.loads(roles[f]["assume_role_policy"]),
            {s["Sid"]: s for s in policies[f]["Statement"]},
        )
        for f in roles
    }


FUNCTIONS = ["check", "cleanup", "rollback", "rotate"]
# What each function does to a listed user's keys (issue 24: the staleness check and RollBack cannot
# create keys).
ACTIONS = {
    "rotate": [
        "iam:CreateAccessKey",
        "iam:DeleteAccessKey",
        "iam:ListAccessKeys",
        "iam:ListUserTags",
        "iam:TagUser",
    ],
    "rollback": ["iam:DeleteAccessKey", "iam:ListAccessKeys"],
    "cleanup": [
        "iam:DeleteAccessKey",
        "iam:GetAccessKeyLastUsed",
        "iam:ListAccessKeys",
        "iam:UpdateAccessKey",
    ],
    "check": ["iam:ListAccessKeys"],
}
IN_FLIGHT = {
    "rollback": ["iam:DeleteAccessKey", "iam:ListAccessKeys", "iam:UntagUser"],
    "cleanup": [
        "iam:DeleteAccessKey",
        "iam:GetAccessKeyLastUsed",
        "iam:ListAccessKeys",
        "iam:ListUserTags",
        "iam:UntagUser",
        "iam:UpdateAccessKey",
    ],
}
TAGGING = {
    "ForAllValues:StringLike": {
        "aws:TagKeys": ["iam-credentials-rotator/rotator", "iam-credentials-rotator/rotator/*"]
    },
    "StringEqualsIfExists": {"aws:RequestTag/iam-credentials-rotator/rotator": ["rotating"]},
}


def as_list(value):
    return sorted(value) if isinstance(value, list) else [value]


def test_each_role_trusts_only_its_rotator_function_and_reaches_only_the_named_users(root):
    roles = member_roles(root.plan({"usernames": ["ci", "deploy"], "role_path": "/rotation/"}))

    for function, (role, trust, statements) in roles.items():
        assert (role["name"], role["path"]) == (f"rotator-member-{function}", "/rotation/")
        # Issue 29: the rotator's account, on the condition that the caller is the function's role
        # (by ARN, which survives the role's re-creation), not the role's ARN as principal.
        (statement,) = trust["Statement"]
        assert statement["Principal"]["AWS"] == "arn:aws:iam::111111111111:root"
        assert condition(statement) == {
            "ArnEquals": {"aws:PrincipalArn": [f"arn:aws:iam::111111111111:role/rotation/rotator-{function}"]}
        }
        keys = statements["ListedUsersKeys"]
        assert as_list(keys["Action"]) == ACTIONS[function], function
        users = [r.split(":user/")[1] for r in keys["Resource"]]
        assert sorted(users) == ["*/ci", "*/deploy", "ci", "deploy"]
        assert (condition(keys) if "Condition" in keys else {}) == (TAGGING if function == "rotate" else {})
        if function in IN_FLIGHT:
            assert_in_flight(statements["UsersKeysInFlight"], IN_FLIGHT[function])
        else:
            assert "UsersKeysInFlight" not in statements
        expected = {"ListedUsersKeys"} | ({"UsersKeysInFlight"} if function in IN_FLIGHT else set())
        assert set(statements) == expected | ({"ReadUsersPath"} if function == "rotate" else set())
    read_path = roles["rotate"][2]["ReadUsersPath"]
    assert (read_path["Action"], read_path["Resource"]) == ("iam:GetUser", "arn:aws:iam::123456789012:user/*")
    # Neither the staleness check nor RollBack can create a key, nor tag a user.
    for function in ["check", "rollback", "cleanup"]:
        granted = {a for s in roles[function][2].values() for a in as_list(s["Action"])}
        assert not granted & {"iam:CreateAccessKey", "iam:TagUser"}, function
    assert root.plan({"usernames": ["ci"]}).outputs["trusted_role_arns"] == {
        f: f"arn:aws:iam::111111111111:role/rotator-{f}" for f in FUNCTIONS
    }


def assert_in_flight(statement, actions):
    """A user mid-rotation, by the tag RotateKey puts on it, stays in reach of its undo and clean-up
    (never of CreateAccessKey), listed or not (issue 15); UntagUser only of the rotator's tags."""
    assert statement["Sid"] == "UsersKeysInFlight"
    assert as_list(statement["Action"]) == actions
    assert statement["Resource"].endswith(":user/*")
    assert condition(statement) == {
        "StringEquals": {"iam:ResourceTag/iam-credentials-rotator/rotator": ["rotating"]},
        "ForAllValues:StringLike": TAGGING["ForAllValues:StringLike"],  # UntagUser: tag keys only
    }


def test_by_tag_the_roles_reach_users_tagged_with_the_rotators_name(root):
    roles = member_roles(root.plan({"user_tag_key": "rotated-by"}))

    for function, (_, _, statements) in roles.items():
        keys = statements["TaggedUsersKeys"]
        assert keys["Resource"].endswith(":user/*")
        assert condition(keys) == {
            "StringEquals": {"iam:ResourceTag/rotated-by": ["rotator"]},
            **(TAGGING if function == "rotate" else {}),
        }
        if function in IN_FLIGHT:
            assert_in_flight(statements["UsersKeysInFlight"], IN_FLIGHT[function])


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
