"""End to end: `terraform apply` of examples/multi-account on the emulated AWS (the member account
reached through an assumed role, as moto keeps accounts apart), then one real run through the real
state machine rotating the user of each account."""

import json

import pytest

from harness import accounts
from harness.aws import ACCOUNT_ID
from harness.iam_policy import allows, in_flight_tags, role_policies
from harness.terraform import TerraformRoot, provider_override

MEMBER = "444444444444"
# Not the example's default "ci-deployer": examples/complete has one, in the same emulated account.
USER = "multi-deployer"


@pytest.fixture(scope="module")
def stack(aws, third_party, tmp_path_factory):
    root = TerraformRoot("examples/multi-account", tmp_path_factory.mktemp("multi-account"), aws.endpoint)
    (root.dir / "member_override.tf").write_text(provider_override(aws.endpoint, alias="member"))
    outputs = root.apply(
        {
            "third_party_url": third_party.url,
            "member_admin_role_arn": f"arn:aws:iam::{MEMBER}:role/OrganizationAccountAccessRole",
            "username": USER,
        }
    )
    member_iam = aws.admin_client("iam", f"arn:aws:iam::{MEMBER}:role/OrganizationAccountAccessRole")
    return root, outputs, member_iam


def test_one_run_rotates_the_user_of_each_account_and_hands_off_both(aws, stack, third_party):
    root, outputs, member_iam = stack
    assert outputs["member_account_id"] == MEMBER
    assert outputs["member_role_arns"] == {
        f: f"arn:aws:iam::{MEMBER}:role/rotator-multi-member-{f}"
        for f in ["rotate", "rollback", "cleanup", "check"]
    }
    own_iam = aws.client("iam")
    old = {
        "own": own_iam.create_access_key(UserName=USER)["AccessKey"]["AccessKeyId"],
        "member": member_iam.create_access_key(UserName=USER)["AccessKey"]["AccessKeyId"],
    }
    first = len(aws.invocations)

    execution = aws.run_execution(outputs["state_machine_arn"], {})

    assert execution["status"] == "SUCCEEDED", execution
    report = json.loads(execution["output"])
    assert sorted(report["rotated"]) == sorted([USER, f"{MEMBER}/{USER}"])
    new = {}
    for account, iam in [("own", own_iam), ("member", member_iam)]:
        (new[account],) = iam.list_access_keys(UserName=USER)["AccessKeyMetadata"]
        assert new[account]["AccessKeyId"] != old[account] and new[account]["Status"] == "Active"
    delivered = {d["AccessKeyId"]: d for d in third_party.deliveries if d["username"] == USER}
    assert set(delivered) >= {new["own"]["AccessKeyId"], new["member"]["AccessKeyId"]}
    assert delivered[new["member"]["AccessKeyId"]]["metadata"] == "env=prod"
    handler_events = [i.event for i in aws.invocations[first:] if i.function_name == "rotator-multi-handler"]
    assert sorted(e["accountId"] for e in handler_events) == sorted([ACCOUNT_ID, MEMBER])
    # No secret left, none in the history, the logs, the state or the outputs.
    names = [s["Name"] for s in aws.client("secretsmanager").list_secrets()["SecretList"]]
    assert [n for n in names if n.startswith(("rotator-multi/", "rotator-multi@"))] == []
    history = json.dumps(aws.history(execution["executionArn"]), default=str)
    logs = "\n".join(i.logs for i in aws.invocations[first:])
    state = root.state_json() + json.dumps(root.outputs())
    for key in new.values():
        secret = delivered[key["AccessKeyId"]]["SecretAccessKey"]
        assert secret not in history and secret not in logs and secret not in state
    # By tag: every call made in the member account is one the calling function's own member role
    # (issue 24) allows on the user because of the user's tag, and would be denied on a user without it.
    policies = {
        f: role_policies(member_iam, f"rotator-multi-member-{f}")
        for f in ["rotate", "rollback", "cleanup", "check"]
    }
    user_arn, tagged = f"arn:aws:iam::{MEMBER}:user/{USER}", {"iam:ResourceTag/rotated-by": "rotator-multi"}
    member_calls = [
        (i.function_name.removeprefix("rotator-multi-"), call, target)
        for i in aws.invocations[first:]
        for call, target in zip(i.api_calls, i.api_targets)
        if "Signer" in target and accounts.account_of(target["Signer"]) == MEMBER
    ]
    assert {call for _, call, _ in member_calls} >= {"iam:CreateAccessKey", "iam:DeleteAccessKey"}
    assert {f for f, call, _ in member_calls if call == "iam:CreateAccessKey"} == {"rotate"}
    worn_tags = in_flight_tags([(call, target) for _, call, target in member_calls], "rotator-multi")
    for (function, call, target), worn in zip(member_calls, worn_tags):
        action = "iam:" + call.split(":")[1]
        assert target.get("UserName") == USER, (call, target)
        request = request_tags(target)
        assert allows(policies[function], action, user_arn, {**tagged, **worn, **request}), (function, action)
        if action == "iam:GetUser":  # the user's path, read-only on any user (issue 24)
            continue
        assert not allows(
            policies[function], action, user_arn, {"iam:ResourceTag/rotated-by": "someone-else", **request}
        ), action
        assert not allows(policies[function], action, user_arn, request), action
    # TagUser and UntagUser only of the rotator's own tags.
    other = {"aws:TagKeys": ["owner"], "aws:RequestTag/owner": "attacker"}
    assert not allows(policies["rotate"], "iam:TagUser", user_arn, {**tagged, **other})
    assert not allows(
        policies["cleanup"],
        "iam:UntagUser",
        user_arn,
        {"iam:ResourceTag/iam-credentials-rotator/rotator-multi": "rotating", "aws:TagKeys": ["rotated-by"]},
    )
    # Neither the staleness check nor RollBack may create a key.
    for function in ["check", "rollback", "cleanup"]:
        assert not allows(policies[function], "iam:CreateAccessKey", user_arn, tagged), function


def request_tags(target):
    """The condition context of the tags a call carries (TagUser's, UntagUser's keys)."""
    tags = {t["Key"]: t["Value"] for t in target.get("Tags") or []}
    keys = list(tags) or list(target.get("TagKeys") or [])
    return {"aws:TagKeys": keys, **{f"aws:RequestTag/{k}": v for k, v in tags.items()}} if keys else {}
