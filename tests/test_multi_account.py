"""Users in member accounts (issue 11), end to end on the emulated AWS with three accounts: the
rotator's, 222222222222 (modules/member-account applied) and 333333333333 (not applied). moto keeps
accounts apart by the credentials of an assumed role; harness/accounts.py makes AssumeRole refuse a
missing role and a caller the trust policy does not name, as AWS does (tests/README.md)."""

import json

import pytest

from harness import accounts
from harness.aws import ACCOUNT_ID
from harness.iam_policy import allows, in_flight_tags, least_privilege, role_policies
from harness.terraform import TerraformRoot, provider_override

MEMBER, UNMANAGED = "222222222222", "333333333333"
ALL = ["ci", "solo", f"{MEMBER}/ci", f"{MEMBER}/pathed", f"{UNMANAGED}/ci"]


@pytest.fixture(scope="module")
def stack(aws, third_party, tmp_path_factory):
    root = TerraformRoot("tests/fixtures/multi", tmp_path_factory.mktemp("multi"), aws.endpoint)
    (root.dir / "member_override.tf").write_text(provider_override(aws.endpoint, alias="member"))
    outputs = root.apply({"third_party_url": third_party.url})
    # An administrator's view of the member account (assumed before AssumeRole is checked: moto has
    # no such admin role).
    member_iam = aws.admin_client("iam", f"arn:aws:iam::{MEMBER}:role/admin")
    aws.assume_role_checked = True
    yield root, outputs, member_iam
    aws.assume_role_checked = False


@pytest.fixture
def runs(aws, stack, third_party):
    """Each case: no secret access key in any history or log, no secret of this rotator left."""
    third_party.reset()
    first_invocation = len(aws.invocations)
    executions = []
    yield executions
    secrets = aws.client("secretsmanager").list_secrets()["SecretList"]
    assert [s["Name"] for s in secrets if s["Name"].startswith(("multi/", "multi@"))] == []
    logs = "\n".join(i.logs for i in aws.invocations[first_invocation:])
    histories = "".join(json.dumps(aws.history(arn), default=str) for arn in executions)
    root = stack[0]
    state = root.state_json() + json.dumps(root.outputs())
    for secret in aws.issued_secrets + [d["SecretAccessKey"] for d in third_party.deliveries]:
        assert secret not in logs and secret not in histories and secret not in state


def keys(iam, username):
    return {
        k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=username)["AccessKeyMetadata"]
    }


def fresh_key(iam, username):
    """The user's one key before the rotation."""
    for key_id in keys(iam, username):
        iam.delete_access_key(UserName=username, AccessKeyId=key_id)
    return iam.create_access_key(UserName=username)["AccessKey"]["AccessKeyId"]


def run(aws, stack, runs, payload):
    execution = aws.run_execution(stack[1]["state_machine_arn"], payload)
    runs.append(execution["executionArn"])
    return execution


def invocations_since(aws, first, suffix):
    return [i for i in aws.invocations[first:] if i.function_name == f"multi-{suffix}"]


def test_the_same_username_in_two_accounts_is_rotated_independently_and_a_missing_role_fails_only_its_account(
    aws, stack, third_party, runs
):
    _, outputs, member_iam = stack
    own_iam = aws.client("iam")
    old_own, old_member = fresh_key(own_iam, "ci"), fresh_key(member_iam, "ci")
    first = len(aws.invocations)

    execution = run(aws, stack, runs, {})

    # The unmanaged account's user fails, naming the account, the role and the fix; nobody else does.
    assert execution["status"] == "FAILED" and execution["error"] == "RotationFailedError", execution
    cause = json.loads(execution["cause"])["errorMessage"]
    assert cause.startswith(f"1 of 5 users not rotated: {UNMANAGED}/ci (MemberAccountUnreachableError: ")
    assert (
        f"Account {UNMANAGED} cannot be reached: assuming role arn:aws:iam::{UNMANAGED}:role/multi-member-rotate "
        f'failed (AccessDenied). Apply modules/member-account in account {UNMANAGED} with name = "multi", '
        f'rotator_account_id = "{ACCOUNT_ID}"'
    ) in cause
    (report,) = invocations_since(aws, first, "report")[-1:]
    (batch,) = report.event["batches"]
    assert sorted(batch["rotated"]) == sorted(["ci", "solo", f"{MEMBER}/ci", f"{MEMBER}/pathed"])
    assert batch["failed"] == [f"{UNMANAGED}/ci"]

    # Each account's ci has one new key, in its own IAM, handed off to the third party.
    (new_own,) = keys(own_iam, "ci")
    (new_member,) = keys(member_iam, "ci")
    assert new_own != old_own and new_member != old_member and new_own != new_member
    assert new_member not in keys(own_iam, "ci") and new_own not in keys(member_iam, "ci")
    delivered = {d["AccessKeyId"]: d for d in third_party.deliveries if d["username"] == "ci"}
    assert set(delivered) == {new_own, new_member}
    assert delivered[new_member]["metadata"] == "env=prod" and delivered[new_own]["metadata"] is None
    for key_id, account in [(new_own, ACCOUNT_ID), (new_member, MEMBER)]:
        caller = aws.client(
            "sts", aws_access_key_id=key_id, aws_secret_access_key=delivered[key_id]["SecretAccessKey"]
        ).get_caller_identity()
        assert caller["Arn"] == f"arn:aws:iam::{account}:user/ci"
    (new_pathed,) = keys(member_iam, "pathed")  # a member user with an IAM path

    # The handler's events name each user's account, and its secret (two secrets for two users ci).
    events = {
        (e["accountId"], e["username"]): e
        for e in (i.event for i in invocations_since(aws, first, "handler"))
    }
    assert set(events) == {(ACCOUNT_ID, "ci"), (ACCOUNT_ID, "solo"), (MEMBER, "ci"), (MEMBER, "pathed")}
    assert events[(ACCOUNT_ID, "ci")]["secretName"] == "multi/ci"
    assert events[(MEMBER, "ci")]["secretName"] == f"multi@{MEMBER}/ci"
    assert events[(MEMBER, "ci")]["metadata"] == "env=prod"

    # The cross-account hop's cost (README, Cost): one AssumeRole per member user's RotateKey, none
    # for this account's users; one per account in each batch's clean-up.
    assumes = {}
    for i in invocations_since(aws, first, "rotate"):
        user = i.event["user"]
        assumes[(user.get("accountId") or ACCOUNT_ID, user["username"])] = i.api_calls.count("sts:AssumeRole")
    assert assumes == {
        (ACCOUNT_ID, "ci"): 0,
        (ACCOUNT_ID, "solo"): 0,
        (MEMBER, "ci"): 1,
        (MEMBER, "pathed"): 1,
        (UNMANAGED, "ci"): 1,  # refused: the user fails there
    }
    (cleanup,) = invocations_since(aws, first, "cleanup")
    assert cleanup.api_calls.count("sts:AssumeRole") == 1  # the member account, for both its users

    # The unmanaged account's failure rolled back nothing else; the rotator never reached it.
    rollbacks = invocations_since(aws, first, "rollback")
    assert [r.event["user"] for r in rollbacks] == [{"username": "ci", "accountId": UNMANAGED}]
    assert rollbacks[0].result["status"] == "FAILED"


def test_calls_into_the_member_account_are_only_the_member_roles_on_its_listed_users(
    aws, stack, third_party, runs
):
    """Least privilege in the member account: every call signed with the member role's credentials
    is allowed by the role's deployed policy, on a listed user of that account, and would be denied
    on an unlisted one; the rotator's own roles may assume only the member roles."""
    _, outputs, member_iam = stack
    fresh_key(member_iam, "ci")
    first = len(aws.invocations)

    execution = run(aws, stack, runs, {"username": "ci", "accountId": MEMBER})

    assert execution["status"] == "SUCCEEDED", execution
    # Each function's calls are its own member role's (issue 24).
    member_policies = {
        f"multi-{f}": role_policies(member_iam, f"multi-member-{f}")
        for f in ["rotate", "rollback", "cleanup", "check"]
    }
    user_arn = f"arn:aws:iam::{MEMBER}:user/%s"
    checked, assumed = 0, 0
    signed = [
        (call, target)
        for invocation in aws.invocations[first:]
        for call, target in zip(invocation.api_calls, invocation.api_targets)
        if "Signer" in target
    ]
    worn = iter(in_flight_tags(signed, "multi"))
    for invocation in aws.invocations[first:]:
        own_policies = None
        for call, target in zip(invocation.api_calls, invocation.api_targets):
            if call == "sts:AssumeRole":
                own_policies = own_policies or role_policies(aws.client("iam"), invocation.function_name)
                assert allows(own_policies, "sts:AssumeRole", target["RoleArn"]), (
                    invocation.function_name,
                    target,
                )
                assert not allows(own_policies, "sts:AssumeRole", f"arn:aws:iam::{UNMANAGED}:role/admin")
                assumed += 1
                continue
            if "Signer" not in target:
                continue
            assert accounts.account_of(target["Signer"]) == MEMBER
            assert call.startswith("iam:"), call
            action = "iam:" + call.split(":")[1]
            assert target.get("UserName") == "ci", (call, target)
            policies = member_policies[invocation.function_name]
            request = request_tags(target)
            # The user's in-flight tag (RotateKey's TagUser through UntagUser) is what allows UntagUser.
            assert allows(policies, action, user_arn % "ci", {**next(worn), **request}), action
            if action != "iam:GetUser":  # the user's path: read-only, on any user (issue 24)
                assert not allows(policies, action, user_arn % "outsider", request), action
            assert not allows(policies, action, f"arn:aws:iam::{ACCOUNT_ID}:user/ci", request), action
            checked += 1
    # ListAccessKeys, TagUser, CreateAccessKey (rotate); ListAccessKeys, GetAccessKeyLastUsed,
    # DeleteAccessKey, UntagUser (clean-up).
    assert checked >= 7 and assumed >= 2
    assert "iam-credentials-rotator/multi" not in {
        t["Key"] for t in member_iam.list_user_tags(UserName="ci")["Tags"]
    }
    assert keys(member_iam, "outsider") == {}
    # In the rotator's account, as for any rotator: every other call allowed, none out of scope
    # (another rotator's secrets and users list, a user not listed, the same role in another account).
    if "multi-outsider" not in {u["UserName"] for u in aws.client("iam").list_users()["Users"]}:
        aws.client("iam").create_user(UserName="multi-outsider")
    own = [i for i in aws.invocations[first:] if not i.function_name.endswith("-handler")]
    privilege = least_privilege(aws, "multi", own)
    assert privilege["calls checked"] >= 10
    assert privilege["denied"] == [] and privilege["out of scope but allowed"] == []


def test_each_member_role_trusts_only_its_rotator_function_and_touches_only_listed_users(aws, stack):
    """Issue 24: one member role per function. Issue 29: each trusts the rotator's account on the
    condition aws:PrincipalArn = the function's role, not the role as principal."""
    _, outputs, member_iam = stack
    rotator_role = f"arn:aws:iam::{ACCOUNT_ID}:role/multi-%s"
    functions = ["rotate", "rollback", "cleanup", "check"]
    assert outputs["member_role_arns"][MEMBER] == outputs["member_role_arns_here"]
    sts = aws.client("sts")
    for function in functions:
        role = member_iam.get_role(RoleName=f"multi-member-{function}")["Role"]
        assert role["Arn"] == outputs["member_role_arns"][MEMBER][function]
        trust = role["AssumeRolePolicyDocument"]
        trust = json.loads(trust) if isinstance(trust, str) else trust
        assert trust["Statement"][0]["Principal"]["AWS"] == f"arn:aws:iam::{ACCOUNT_ID}:root"
        assert accounts.trusts(trust, rotator_role % function, ACCOUNT_ID)
        # Not the rotator's other roles, nor a role of the same name in another account.
        for other in ["handoff", "list-users", "report", "state-machine", *functions]:
            if other != function:
                assert not accounts.trusts(trust, rotator_role % other, ACCOUNT_ID), (function, other)
        assert not accounts.trusts(trust, f"arn:aws:iam::{UNMANAGED}:role/multi-{function}", UNMANAGED)
        # And AssumeRole (checked by the harness as AWS does) agrees: the hand-off function is refused.
        with pytest.raises(sts.exceptions.ClientError, match="AccessDenied"):
            sts.assume_role(RoleArn=role["Arn"], RoleSessionName="multi-handoff")
        assert sts.assume_role(RoleArn=role["Arn"], RoleSessionName=f"multi-{function}")["Credentials"]
    policies = role_policies(member_iam, "multi-member-rotate")
    for user, allowed in [("ci", True), ("team/pathed", True), ("outsider", False)]:
        for action in ["iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:ListAccessKeys"]:
            assert allows(policies, action, f"arn:aws:iam::{MEMBER}:user/{user}") is allowed, (user, action)
    # The read-only staleness check and RollBack cannot create keys, even for a listed user.
    for function in ["check", "rollback"]:
        policies = role_policies(member_iam, f"multi-member-{function}")
        assert not allows(policies, "iam:CreateAccessKey", f"arn:aws:iam::{MEMBER}:user/ci"), function
        assert not allows(policies, "iam:TagUser", f"arn:aws:iam::{MEMBER}:user/ci"), function


def request_tags(target):
    """The condition context of the tags a call carries (TagUser's, UntagUser's keys)."""
    tags = {t["Key"]: t["Value"] for t in target.get("Tags") or []}
    keys = list(tags) or list(target.get("TagKeys") or [])
    return {"aws:TagKeys": keys, **{f"aws:RequestTag/{k}": v for k, v in tags.items()}} if keys else {}


def test_on_demand_runs_name_the_account_when_the_username_is_ambiguous(aws, stack, third_party, runs):
    _, outputs, member_iam = stack
    own_iam = aws.client("iam")
    before_own, before_member = keys(own_iam, "ci"), keys(member_iam, "ci")

    ambiguous = run(aws, stack, runs, {"username": "ci"})

    assert ambiguous["status"] == "FAILED" and ambiguous["error"] == "AmbiguousUserError"
    assert (
        f"User 'ci' is listed in several accounts (this account, {MEMBER}, {UNMANAGED}); start the run with "
        '{"username": "ci", "accountId": "<account id>"} to rotate one of them.'
    ) == json.loads(ambiguous["cause"])["errorMessage"]
    assert keys(own_iam, "ci") == before_own and keys(member_iam, "ci") == before_member

    own = run(aws, stack, runs, {"username": "ci", "accountId": ACCOUNT_ID})
    assert own["status"] == "SUCCEEDED", own
    assert keys(member_iam, "ci") == before_member and set(keys(own_iam, "ci")) != set(before_own)

    solo = run(aws, stack, runs, {"username": "solo"})  # listed in one account: no account needed
    assert solo["status"] == "SUCCEEDED", solo


def test_the_staleness_check_fails_while_a_listed_account_cannot_be_reached(aws, stack):
    """So that its alarm fires (a missing datapoint breaches): a member account's keys are never
    left unwatched in silence."""
    response = aws.client("lambda").invoke(FunctionName="multi-check", Payload=b"{}")
    assert response.get("FunctionError")
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "MemberAccountUnreachableError"
    assert f"Account {UNMANAGED} cannot be reached" in error["errorMessage"]


# Issue 22's member-account paths: the rule that a key which may have reached the third party is
# never deleted holds across the account boundary too.


def test_a_member_users_refused_hand_off_is_rolled_back_in_its_own_account(aws, stack, third_party, runs):
    """The handler refuses a member user's key: RollBack, through the member role, deletes the new key
    in the member account and the secret; the third party's key there is untouched."""
    _, _, member_iam = stack
    old = fresh_key(member_iam, "pathed")
    third_party.fail_for.add("pathed")
    first = len(aws.invocations)

    execution = run(aws, stack, runs, {"username": "pathed", "accountId": MEMBER})

    assert execution["status"] == "FAILED"
    cause = json.loads(execution["cause"])["errorMessage"]
    assert f"{MEMBER}/pathed (HTTPError: HTTP Error 500: Internal Server Error)" in cause
    assert keys(member_iam, "pathed") == {old: "Active"}
    (rollback,) = invocations_since(aws, first, "rollback")
    (deleted,) = rollback.result["rolledBackAccessKeyIds"]
    assert deleted != old and "iam:DeleteAccessKey" in rollback.api_calls
    assert all(accounts.account_of(t["Signer"]) == MEMBER for t in rollback.api_targets if "Signer" in t)
    assert "iam-credentials-rotator/multi" not in {
        t["Key"] for t in member_iam.list_user_tags(UserName="pathed")["Tags"]
    }


class MemberTrust:
    """Makes the member account's rotator roles trust nobody (an administrator's change there), and
    puts their trust back."""

    def __init__(self, member_iam) -> None:
        self.iam = member_iam
        roles = [r for r in member_iam.list_roles()["Roles"] if r["RoleName"].startswith("multi-member")]
        self.trusts = {r["RoleName"]: r["AssumeRolePolicyDocument"] for r in roles}

    def withdraw(self) -> None:
        nobody = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{MEMBER}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        for name in self.trusts:
            self.iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(nobody))

    def restore(self) -> None:
        for name, document in self.trusts.items():
            document = document if isinstance(document, str) else json.dumps(document)
            self.iam.update_assume_role_policy(RoleName=name, PolicyDocument=document)


@pytest.fixture
def member_trust(stack):
    trust = MemberTrust(stack[2])
    assert trust.trusts, "no member role found"
    yield trust
    trust.restore()


def test_a_clean_up_that_cannot_reach_the_member_account_keeps_both_keys_until_a_person_decides(
    aws, stack, third_party, runs, member_trust
):
    """The member role stops trusting the rotator during the wait, after the hand-off: the delivered key
    is the third party's and the old one may still be in use, so both stay, the user fails naming the
    account, and the lock stays. Once the trust is back and a person has retired the old key, the next
    run heals the lock and rotates as usual."""
    _, _, member_iam = stack
    old = fresh_key(member_iam, "pathed")
    aws.wait_hook = lambda seconds: member_trust.withdraw()
    try:
        execution = run(aws, stack, runs, {"username": "pathed", "accountId": MEMBER})
    finally:
        aws.wait_hook = None
        member_trust.restore()

    assert execution["status"] == "FAILED"
    cause = json.loads(execution["cause"])["errorMessage"]
    assert f"{MEMBER}/pathed (MemberAccountUnreachableError: Account {MEMBER} cannot be reached" in cause
    assert "both keys kept" in cause
    delivered = third_party.latest("pathed")["AccessKeyId"]
    assert keys(member_iam, "pathed") == {old: "Active", delivered: "Active"}
    lock = f"multi@{MEMBER}/pathed"
    assert lock in {s["Name"] for s in aws.client("secretsmanager").list_secrets()["SecretList"]}

    # While both keys are active only a person can tell which the third party uses: still refused.
    still = run(aws, stack, runs, {"username": "pathed", "accountId": MEMBER})
    assert still["status"] == "FAILED"
    assert "StaleRotationError" in json.loads(still["cause"])["errorMessage"]
    assert keys(member_iam, "pathed") == {old: "Active", delivered: "Active"}

    member_iam.delete_access_key(UserName="pathed", AccessKeyId=old)  # the person's decision
    healed = run(aws, stack, runs, {"username": "pathed", "accountId": MEMBER})
    assert healed["status"] == "SUCCEEDED", healed.get("cause")
    (newest,) = keys(member_iam, "pathed")
    assert newest not in (old, delivered) and third_party.latest("pathed")["AccessKeyId"] == newest


def test_a_member_user_removed_from_users_after_its_hand_off_is_still_cleaned_up(
    aws, stack, third_party, runs
):
    """`terraform apply` drops the member user from `users` and from the member role's usernames during
    the wait: the clean-up still retires its old key there, by the in-flight tag the role's policy
    still honours, and leaves the rotator no reach over the user."""
    root, _, member_iam = stack
    old = fresh_key(member_iam, "pathed")
    applied = []

    def remove(seconds):
        if applied:
            return
        # The fixture's administrator provider assumes a role moto does not hold: unchecked meanwhile
        # (the run is held in its wait until the apply ends).
        aws.assume_role_checked = False
        try:
            applied.append(root.apply({"third_party_url": third_party.url, "member_listed": ["ci"]}))
        finally:
            aws.assume_role_checked = True

    aws.wait_hook = remove
    try:
        # The run waits for a whole `terraform apply` mid-run: a bound for a loaded machine.
        execution = aws.run_execution(
            stack[1]["state_machine_arn"], {"username": "pathed", "accountId": MEMBER}, timeout=600
        )
        runs.append(execution["executionArn"])
        assert applied, "the user was not removed mid-run"
        after = role_policies(member_iam, "multi-member-cleanup")
    finally:
        aws.wait_hook = None
        aws.assume_role_checked = False
        try:
            root.apply({"third_party_url": third_party.url})
        finally:
            aws.assume_role_checked = True

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    (new,) = keys(member_iam, "pathed")
    assert new != old and third_party.latest("pathed")["AccessKeyId"] == new
    assert "iam-credentials-rotator/multi" not in {
        t["Key"] for t in member_iam.list_user_tags(UserName="pathed")["Tags"]
    }
    # What let the clean-up reach it: the in-flight tag, not a listing (moto enforces no policy on the
    # member role's calls; tests/README.md).
    pathed = f"arn:aws:iam::{MEMBER}:user/team/pathed"
    worn = {"iam:ResourceTag/iam-credentials-rotator/multi": "rotating"}
    for action in ["iam:DeleteAccessKey", "iam:GetAccessKeyLastUsed", "iam:UntagUser"]:
        assert allows(after, action, pathed, worn) and not allows(after, action, pathed), action
