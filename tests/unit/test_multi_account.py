"""Users of member accounts (issue 11), in process on moto: names, selection, the member role's
credentials, and a rotation and clean-up in the member account."""

import boto3
import pytest

from rotator import cleanup, common, handoff, list_users, report, rollback, rotate
from rotator.common import AmbiguousUserError, UserNotListedError

from .conftest import REGION, key_ids, rotation, write_users_list

MEMBER = "222222222222"
RUN = {
    "executionName": "run-1",
    "executionArn": "arn:aws:states:us-east-1:123456789012:execution:rotator:run-1",
}
PARTS = {
    "/rotator/users/1": {"username": "ci"},
    "/rotator/users/2": {"username": "ci", "accountId": MEMBER, "metadata": "env=prod"},
    "/rotator/users/3": {"username": "solo"},
}


@pytest.fixture
def listed(ssm, monkeypatch):
    RUN["listedUsers"] = write_users_list(ssm, monkeypatch, PARTS)
    monkeypatch.setenv("BATCH_SIZE", "10")


@pytest.fixture
def member(aws_env, monkeypatch):
    """The member account's IAM, as its administrator sees it; the rotator reaches it by its role."""
    monkeypatch.setenv("MEMBER_ROLE_ARN", "arn:aws:iam::{account}:role/rotator-member")
    common._members.clear()
    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{MEMBER}:role/admin", RoleSessionName="test-admin"
    )["Credentials"]
    yield boto3.client(
        "iam",
        region_name=REGION,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    common._members.clear()


def test_names_qualify_only_member_users_and_split_back():
    assert common.qualified_name({"username": "ci"}) == "ci"
    assert common.qualified_name({"username": "ci", "accountId": MEMBER}) == f"{MEMBER}/ci"
    assert common.split_name(f"{MEMBER}/a,b") == (MEMBER, "a,b")
    assert common.split_name("ci") == (None, "ci")


def test_secret_names_of_member_users_cannot_meet_this_accounts(monkeypatch):
    assert common.secret_name("ci") == "rotator/ci"
    assert common.secret_name("ci", MEMBER) == f"rotator@{MEMBER}/ci"
    # This account's user named "<account>,ci" maps under "rotator/", never under "rotator@".
    assert common.secret_name(f"{MEMBER},ci") == f"rotator/{MEMBER}/ci"


def test_batches_carry_each_accounts_user_once_by_qualified_name(listed, context):
    result = list_users.handler({"input": {}, **RUN}, context)
    assert result["batches"] == [
        {
            "parameters": ["/rotator/users/1", "/rotator/users/2", "/rotator/users/3"],
            "usernames": ["ci", f"{MEMBER}/ci", "solo"],
        }
    ]
    loaded = list_users.handler({**result["batches"][0], "rotation": result["rotation"]}, context)
    assert loaded["users"] == list(PARTS.values()) and loaded["unlisted"] == []


@pytest.mark.parametrize(
    "wanted, expected",
    [
        ({"username": "ci", "accountId": MEMBER}, [f"{MEMBER}/ci"]),
        ({"username": "CI", "accountId": "123456789012"}, ["ci"]),  # this account, named
        ({"username": "solo"}, ["solo"]),  # listed in one account only
        ({"accountId": MEMBER}, [f"{MEMBER}/ci"]),  # every user of the account
    ],
)
def test_on_demand_runs_select_by_account(listed, context, wanted, expected):
    result = list_users.handler({"input": wanted, **RUN}, context)
    assert [n for b in result["batches"] for n in b["usernames"]] == expected


def test_an_ambiguous_username_fails_naming_the_accounts(listed, context):
    with pytest.raises(AmbiguousUserError, match=f"listed in several accounts \\(this account, {MEMBER}\\)"):
        list_users.handler({"input": {"username": "ci"}, **RUN}, context)
    with pytest.raises(
        UserNotListedError, match="User 'solo' in account 222222222222 is not in the users list"
    ):
        list_users.handler({"input": {"username": "solo", "accountId": MEMBER}, **RUN}, context)


def test_a_member_user_is_rotated_in_its_account_with_its_own_secret(iam, secrets, member, context):
    iam.create_user(UserName="ci")
    member.create_user(UserName="ci")
    old = member.create_access_key(UserName="ci")["AccessKey"]["AccessKeyId"]
    user = {"username": "ci", "accountId": MEMBER}

    result = rotate.handler({"user": user, "rotation": rotation()}, context)

    new = result["newAccessKeyId"]
    assert key_ids(member, "ci") == {old: "Active", new: "Active"} and key_ids(iam, "ci") == {}
    assert result["secretName"] == f"rotator@{MEMBER}/ci"
    assert handoff.handler_event(result) == {
        "username": "ci",
        "secretName": f"rotator@{MEMBER}/ci",
        "accountId": MEMBER,
    }
    # The same rotation resumes; the clean-up retires the old key in the member account.
    summary = report.summarize_batch([{"username": "ci", "status": "HANDED_OFF"}], [], [user])
    assert summary["handedOff"] == [f"{MEMBER}/ci"]
    done = cleanup.handler(
        {"batch": {"status": "HANDED_OFF", "summary": summary}, "rotation": rotation()}, context
    )
    assert done["rotated"] == [f"{MEMBER}/ci"] and key_ids(member, "ci") == {new: "Active"}
    assert secrets.list_secrets()["SecretList"] == []


def test_a_member_user_the_role_does_not_cover_fails_naming_the_fix(secrets, member, context, monkeypatch):
    real_client = common.client

    def denying(service, **kwargs):
        made = real_client(service, **kwargs)
        if service == "iam" and "aws_session_token" in kwargs:

            def denied(**_):
                raise common.ClientError(
                    {"Error": {"Code": "AccessDenied", "Message": "no"}}, "ListAccessKeys"
                )

            made.list_access_keys = denied
        return made

    monkeypatch.setattr(common, "client", denying)
    user = {"username": "ci", "accountId": MEMBER}
    with pytest.raises(common.UserNotInMemberRoleError, match="add it to modules/member-account's usernames"):
        rotate.handler({"user": user, "rotation": rotation()}, context)
    assert secrets.list_secrets()["SecretList"] == []
    failed = rollback.handler(
        {"user": user, "rotation": rotation(), "error": {"Error": "UserNotInMemberRoleError", "Cause": "{}"}},
        context,
    )
    assert failed["status"] == "FAILED" and failed["rolledBackAccessKeyIds"] == []


def test_an_unreachable_account_names_the_account_the_role_and_the_fix(member, context, monkeypatch):
    real_client = common.client

    def refusing(service, **kwargs):
        made = real_client(service, **kwargs)
        if service == "sts":

            def refused(**_):
                raise common.ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "AssumeRole")

            made.assume_role = refused
        return made

    monkeypatch.setattr(common, "client", refusing)
    with pytest.raises(common.MemberAccountUnreachableError) as raised:
        common.iam_client("333333333333")
    assert str(raised.value).startswith(
        "Account 333333333333 cannot be reached: assuming role arn:aws:iam::333333333333:role/rotator-member "
        'failed (AccessDenied). Apply modules/member-account in account 333333333333 with name = "rotator", '
        'rotator_account_id = "123456789012"'
    )
