"""The ready-made credentials handlers (handlers/handoff/), in process: moto for Secrets Manager and
SNS, loopback fakes of each vendor's API. What each third party stores is compared with the key."""

import json
import sys
import time

import boto3
import pytest

from harness.fakes.circleci import FakeCircleCI
from harness.fakes.github import FakeGitHub
from harness.fakes.gitlab import FakeGitLab
from harness.fakes.hcp_terraform import FakeHcpTerraform
from harness.fakes.webhook import FakeWebhook
from harness.terraform import ROOT

sys.path.insert(0, str(ROOT / "handlers"))

from handoff import circleci, core, github_actions, gitlab_ci, hcp_terraform, manual, webhook  # noqa: E402

TOKEN = "api-token-0123456789"
KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


class Context:
    def __init__(self, seconds=30):
        self.deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self):
        return int((self.deadline - time.monotonic()) * 1000)


@pytest.fixture
def event(aws_env, monkeypatch):
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    secrets.create_secret(
        Name="rotator/marge",
        SecretString=json.dumps({"AccessKeyId": KEY_ID, "SecretAccessKey": SECRET, "UserName": "marge"}),
    )
    token_arn = secrets.create_secret(Name="ci-token", SecretString=TOKEN)["ARN"]
    monkeypatch.setenv("TOKEN_SECRET_ARN", token_arn)
    monkeypatch.setenv("HTTP_TIMEOUT_SECONDS", "2")
    return {"username": "marge", "secretName": "rotator/marge", "accountId": "123456789012"}


def configure(monkeypatch, **settings):
    monkeypatch.setenv("HANDLER_SETTINGS", json.dumps(settings))


NAMES = {"key_id_name": "AWS_ACCESS_KEY_ID", "secret_key_name": "AWS_SECRET_ACCESS_KEY"}


# Each pair handler: a fake with its stores, the module's settings, and what the fake stored
# under a name (None when nothing).
def github_case():
    fake = FakeGitHub(
        TOKEN, ["/repos/acme/app/actions", "/repos/acme/app/environments/prod", "/orgs/acme/actions"]
    )
    settings = {"api_url": fake.url, "target": "repository", "repository": "acme/app", **NAMES}
    return github_actions, fake, settings, lambda name: fake.value("/repos/acme/app/actions", name)


def gitlab_case():
    fake = FakeGitLab(TOKEN, ["projects/acme/app", "groups/acme"])
    settings = {"api_url": fake.url, "target": "project", "project": "acme/app", "masked": True, **NAMES}
    return (
        gitlab_ci,
        fake,
        settings,
        lambda name: (fake.variable("projects/acme/app", name) or {}).get("value"),
    )


def circleci_case():
    fake = FakeCircleCI(TOKEN, ["0c4d-ctx"], ["gh/acme/app"])
    settings = {"api_url": fake.url, "target": "context", "context_id": "0c4d-ctx", **NAMES}
    return circleci, fake, settings, lambda name: fake.value("context/0c4d-ctx", name)


def hcp_case():
    fake = FakeHcpTerraform(TOKEN, ["ws-abc123", "varset-xyz"])
    settings = {"address": fake.url, "target": "workspace", "workspace_id": "ws-abc123", **NAMES}
    return hcp_terraform, fake, settings, lambda name: (fake.value("ws-abc123", name) or {}).get("value")


PAIR_CASES = {"github": github_case, "gitlab": gitlab_case, "circleci": circleci_case, "hcp": hcp_case}


@pytest.fixture(params=sorted(PAIR_CASES))
def pair(request):
    module, fake, settings, stored = PAIR_CASES[request.param]()
    yield module, fake, settings, stored
    fake.stop()


def test_each_pair_handler_stores_the_key_and_redelivery_is_harmless(pair, event, monkeypatch):
    module, fake, settings, stored = pair
    configure(monkeypatch, **settings)

    first = module.handler(event, Context())
    again = module.handler(event, Context())

    assert first == again and first["delivered"] == KEY_ID and SECRET not in json.dumps(first)
    assert stored("AWS_ACCESS_KEY_ID") == KEY_ID
    assert stored("AWS_SECRET_ACCESS_KEY") == SECRET
    # Only GitLab's "404 Variable Not Found" to an update, before it creates the variable.
    refused = [(r.method, r.path, r.status) for r in fake.requests if r.status >= 300]
    assert refused in ([], [(r.method, r.path, 404) for r in fake.requests if r.status == 404][:2]), refused


def test_a_failure_of_the_first_write_is_a_clean_refusal(pair, event, monkeypatch):
    module, fake, settings, stored = pair
    configure(monkeypatch, **settings)
    fake.faults["AWS_ACCESS_KEY_ID"] = 500

    with pytest.raises(core.ThirdPartyError, match="answered HTTP 500"):
        module.handler(event, Context())

    assert stored("AWS_ACCESS_KEY_ID") is None and stored("AWS_SECRET_ACCESS_KEY") is None


def test_a_failure_between_the_writes_is_partially_delivered_naming_what_is_half_written(
    pair, event, monkeypatch
):
    module, fake, settings, stored = pair
    configure(monkeypatch, **settings)
    fake.faults["AWS_SECRET_ACCESS_KEY"] = 503

    with pytest.raises(core.PartiallyDeliveredError) as raised:
        module.handler(event, Context())

    message = str(raised.value)
    assert type(raised.value).__name__ == "PartiallyDeliveredError"
    assert "AWS_ACCESS_KEY_ID now hold(s) the new key AKIAIOSFODNN7EXAMPLE of user marge" in message
    assert (
        "but AWS_SECRET_ACCESS_KEY could not be written (ThirdPartyError: " in message
        and "HTTP 503" in message
    )
    assert SECRET not in message and TOKEN not in message
    assert stored("AWS_ACCESS_KEY_ID") == KEY_ID and stored("AWS_SECRET_ACCESS_KEY") is None


def test_a_third_party_that_does_not_answer_makes_the_handler_refuse_before_its_timeout(
    pair, event, monkeypatch
):
    module, fake, settings, stored = pair
    configure(monkeypatch, **settings)
    fake.hang_seconds = 5
    fake.faults[" /"] = "hang"  # every request
    started = time.monotonic()

    with pytest.raises(core.ThirdPartyError, match="did not answer within 2 s"):
        module.handler(event, Context(seconds=10))

    assert time.monotonic() - started < 4


def test_a_rejected_token_is_a_refusal_whose_message_never_holds_the_token(pair, event, monkeypatch):
    module, fake, settings, stored = pair
    configure(monkeypatch, **settings)
    fake.token = "another-token"

    with pytest.raises(core.ThirdPartyError, match="answered HTTP 401") as raised:
        module.handler(event, Context())

    assert TOKEN not in str(raised.value) and SECRET not in str(raised.value)


def test_metadata_overrides_the_target_and_names_and_unknown_keys_are_refused(event, monkeypatch):
    module, fake, settings, stored = github_case()
    configure(monkeypatch, **settings)
    try:
        event["metadata"] = (
            "target=environment; environment=prod; key_id_name=PROD_ID; secret_key_name=PROD_KEY"
        )
        module.handler(event, Context())
        assert fake.value("/repos/acme/app/environments/prod", "PROD_ID") == KEY_ID
        assert fake.value("/repos/acme/app/environments/prod", "PROD_KEY") == SECRET

        event["metadata"] = "target=organization;organization=acme"
        module.handler(event, Context())
        assert fake.value("/orgs/acme/actions", "AWS_SECRET_ACCESS_KEY") == SECRET
        assert fake.secrets[("/orgs/acme/actions", "AWS_SECRET_ACCESS_KEY")]["visibility"] == "private"

        writes = len(fake.writes())
        event["metadata"] = "repositroy=acme/other"
        with pytest.raises(
            core.SettingsError, match="'repositroy=acme/other' is not key=value with a key among"
        ):
            module.handler(event, Context())
        event["metadata"] = "key_id_name=GITHUB_TOKEN"
        with pytest.raises(core.SettingsError, match="not a valid GitHub secret name"):
            module.handler(event, Context())
        assert len(fake.writes()) == writes
    finally:
        fake.stop()


def test_github_seals_each_value_with_the_targets_public_key(event, monkeypatch):
    module, fake, settings, stored = github_case()
    configure(monkeypatch, **settings)
    try:
        module.handler(event, Context())
        puts = [r for r in fake.requests if r.method == "PUT"]
        assert [r.path for r in puts] == [
            "/repos/acme/app/actions/secrets/AWS_ACCESS_KEY_ID",
            "/repos/acme/app/actions/secrets/AWS_SECRET_ACCESS_KEY",
        ]
        for r in puts:
            assert set(r.body) == {"encrypted_value", "key_id"} and SECRET not in json.dumps(r.body)
            assert r.headers["X-GitHub-Api-Version"] == "2022-11-28"
    finally:
        fake.stop()


def test_gitlab_group_variables_are_created_then_updated_with_the_asked_flags(event, monkeypatch):
    module, fake, settings, stored = gitlab_case()
    configure(monkeypatch, **{**settings, "target": "group", "group": "acme", "protected": True})
    try:
        module.handler(event, Context())
        module.handler(event, Context())
        variable = fake.variable("groups/acme", "AWS_SECRET_ACCESS_KEY")
        assert variable["value"] == SECRET and variable["masked"] is True and variable["protected"] is True
        assert [(r.method, r.status) for r in fake.requests][:2] == [("PUT", 404), ("POST", 201)]
        assert [(r.method, r.status) for r in fake.requests][-2:] == [("PUT", 200), ("PUT", 200)]
    finally:
        fake.stop()


def test_circleci_project_and_hcp_varset_targets(event, monkeypatch):
    module, fake, settings, stored = circleci_case()
    configure(monkeypatch, **{**settings, "target": "project", "project_slug": "gh/acme/app"})
    try:
        module.handler(event, Context())
        assert fake.value("project/gh/acme/app", "AWS_SECRET_ACCESS_KEY") == SECRET
    finally:
        fake.stop()
    module, fake, settings, stored = hcp_case()
    configure(monkeypatch, **{**settings, "target": "varset", "varset_id": "varset-xyz"})
    try:
        module.handler(event, Context())
        module.handler(event, Context())
        stored_var = fake.value("varset-xyz", "AWS_SECRET_ACCESS_KEY")
        assert (
            stored_var["value"] == SECRET
            and stored_var["sensitive"] is True
            and stored_var["category"] == "env"
        )
        assert [r.method for r in fake.requests] == ["GET", "POST", "POST", "GET", "PATCH", "PATCH"]
    finally:
        fake.stop()


@pytest.mark.parametrize("auth", ["bearer", "hmac-sha256"])
def test_webhook_posts_the_key_authenticated_and_raises_unless_2xx(event, monkeypatch, auth):
    fake = FakeWebhook(TOKEN, auth=auth, header="X-Hub-Signature-256")
    configure(monkeypatch, url=fake.url, auth=auth, signature_header="X-Hub-Signature-256")
    event["metadata"] = "anything; the endpoint gets it as written"
    try:
        assert webhook.handler(event, Context())["delivered"] == KEY_ID
        delivered = fake.latest("marge")
        assert delivered == {
            "username": "marge",
            "AccessKeyId": KEY_ID,
            "SecretAccessKey": SECRET,
            "metadata": "anything; the endpoint gets it as written",
        }
        fake.token = "rotated-elsewhere"
        with pytest.raises(core.ThirdPartyError, match="answered HTTP 401"):
            webhook.handler(event, Context())
        fake.token = TOKEN
        fake.faults["marge"] = 422
        with pytest.raises(core.ThirdPartyError, match="answered HTTP 422"):
            webhook.handler(event, Context())
    finally:
        fake.stop()


def test_manual_handler_announces_the_secret_and_the_commands_never_the_key(aws_env, monkeypatch):
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name="hand-offs")["TopicArn"]
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    monkeypatch.setenv("TOPIC_ARN", topic)
    token = "AQCEAAAAKgAAAAMAAAAAAAAAAb+token/with'quote"

    manual.handler({"username": "marge", "secretName": "rotator/marge", "taskToken": token}, Context())
    manual.handler({"username": "homer", "secretName": "rotator/homer", "metadata": "vendor=acme"}, Context())

    bodies = [
        json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    ]
    acknowledged, plain = sorted(bodies, key=lambda b: "homer" in b["Message"])
    assert acknowledged["Subject"] == "New IAM access key for marge"
    text = acknowledged["Message"]
    assert "aws secretsmanager get-secret-value --secret-id rotator/marge" in text
    quoted = "'AQCEAAAAKgAAAAMAAAAAAAAAAb+token/with'\"'\"'quote'"
    assert f"aws stepfunctions send-task-success --task-token {quoted} --task-output '{{}}'" in text
    assert f"aws stepfunctions send-task-failure --task-token {quoted} --error HandOffRefused --cause" in text
    assert "send-task" not in plain["Message"] and "Metadata: vendor=acme" in plain["Message"]
    assert "cleanup wait" in plain["Message"]
    for body in bodies:
        assert "SecretAccessKey" not in body["Message"] and SECRET not in body["Message"]


def test_metadata_parser():
    assert core.parse_metadata(" a=1 ;b = x=y;;", ["a", "b"]) == {"a": "1", "b": "x=y"}
    assert core.parse_metadata(None, ["a"]) == {}
    with pytest.raises(core.SettingsError):
        core.parse_metadata("novalue", ["novalue"])
