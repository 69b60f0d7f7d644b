"""End to end: `terraform apply` of examples/complete (KMS key, alarms to SNS, metadata, custom
durations, deactivate mode) on the emulated AWS, and a scheduled rotation through it."""

import json

import pytest

from harness.iam_policy import least_privilege
from harness.terraform import TerraformRoot

USERS = ["ci-deployer", "ci-publisher", "reporting"]


@pytest.fixture(scope="module")
def stack(aws, third_party, tmp_path_factory):
    root = TerraformRoot("examples/complete", tmp_path_factory.mktemp("complete"), aws.endpoint)
    return root.apply({"third_party_url": third_party.url})


def test_scheduled_rotation_with_kms_deactivate_and_metadata(aws, stack, third_party):
    iam = aws.client("iam")
    old = {u: iam.create_access_key(UserName=u)["AccessKey"]["AccessKeyId"] for u in USERS}
    secrets = aws.client("secretsmanager")
    encryption = {}

    def record_encryption(function_name, event):
        if function_name == "rotator-complete-handler":
            encryption[event["username"]] = secrets.describe_secret(SecretId=event["secretName"]).get(
                "KmsKeyId"
            )
        return

    aws.lambda_hook = record_encryption
    waits = len(aws.waits)
    first = len(aws.invocations)
    try:
        (execution,) = aws.run_schedule("rotator-complete")
    finally:
        aws.lambda_hook = None

    assert execution["status"] == "SUCCEEDED", execution
    for user in USERS:
        new = third_party.latest(user)["AccessKeyId"]
        assert aws.access_keys(user) == {old[user]: "Inactive", new: "Active"}
        assert encryption[user] == stack["kms_key_arn"]
    assert third_party.latest("ci-deployer")["metadata"] == "ci=circleci;context=deploy-prod"
    assert third_party.latest("reporting")["metadata"] is None
    assert aws.waits[waits:] == [600]  # once per run, after every hand-off
    # This rotator's secrets (other test files' stacks may share this emulated AWS).
    assert [
        s["Name"] for s in secrets.list_secrets()["SecretList"] if s["Name"].startswith("rotator-complete/")
    ] == []
    history = json.dumps(aws.history(execution["executionArn"]), default=str)
    assert not any(secret in history for secret in aws.issued_secrets)

    # The users are reached through their tag (user_tag_key): every call the functions made is
    # allowed by the deployed policies, and none of them on a user tagged for another rotator.
    iam.create_user(UserName="rotator-complete-outsider", Tags=[{"Key": "rotated-by", "Value": "other"}])
    own = [i for i in aws.invocations[first:] if not i.function_name.endswith("-handler")]
    privilege = least_privilege(aws, "rotator-complete", own)
    assert privilege["calls checked"] >= 6 * len(USERS)
    assert privilege["denied"] == [] and privilege["out of scope but allowed"] == []


def test_alarms_notify_the_alerts_topic(aws, stack):
    alarms = {a["AlarmName"]: a for a in aws.client("cloudwatch").describe_alarms()["MetricAlarms"]}
    for name in stack["alarm_names"]:
        assert alarms[name]["AlarmActions"] == [stack["alerts_topic_arn"]]
    stale = alarms["rotator-complete-rotation-stale"]
    assert (stale["MetricName"], stale["Period"], stale["EvaluationPeriods"]) == (
        "OldestAccessKeyAge",
        86400,
        1,
    )
    assert stale["Dimensions"] == [{"Name": "Rotator", "Value": "rotator-complete"}]
    assert stale["Threshold"] == 172_800  # 48 hours: schedule_duration "12h", twice, plus a day
    assert stale["OKActions"] == [stack["alerts_topic_arn"]]


def test_functions_run_on_arm64_and_log_to_groups_under_the_logs_key(aws, stack):
    """The example's choices reach AWS: Graviton functions (which ran the rotation above: their code is
    pure Python), and log groups encrypted with the example's customer-managed key."""
    lambda_client, logs = aws.client("lambda"), aws.client("logs")
    names = [
        f"rotator-complete-{f}" for f in ["list-users", "rotate", "handoff", "cleanup", "rollback", "report"]
    ]
    for name in names:
        config = lambda_client.get_function_configuration(FunctionName=name)
        assert config["Architectures"] == ["arm64"], name
        assert config["LoggingConfig"]["LogFormat"] == "JSON", name
    groups = {
        g["logGroupName"]: g
        for g in logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/rotator-complete-")["logGroups"]
    }
    keys = {g.get("kmsKeyId") for name, g in groups.items() if not name.endswith("-handler")}
    (key,) = keys
    assert key and key.startswith("arn:aws:kms:") and key != stack["kms_key_arn"]
    assert any(i.function_name == "rotator-complete-rotate" and not i.errored for i in aws.invocations)
