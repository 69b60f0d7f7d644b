"""The ready-made credentials handlers (handlers/handoff/), in process: moto for Secrets Manager and
SNS, loopback fakes of each vendor's API. What each third party stores is compared with the key."""

import base64
import json
import socket
import sys
import time
import urllib.parse

import boto3
import pytest

from harness.fakes.base import Fault
from harness.fakes.circleci import FakeCircleCI
from harness.fakes.github import FakeGitHub
from harness.fakes.gitlab import FakeGitLab
from harness.fakes.hcp_terraform import FakeHcpTerraform
from harness.fakes.webhook import FakeWebhook
from harness.fakes.webhook import receiver as webhook_receiver
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


def test_a_4xx_to_the_first_write_is_a_clean_refusal(pair, event, monkeypatch):
    # Was HTTP 500 before issue 23: a 5xx to a write no longer proves that nothing was written.
    module, fake, settings, stored = pair
    configure(monkeypatch, **settings)
    fake.faults["AWS_ACCESS_KEY_ID"] = 422

    with pytest.raises(core.ThirdPartyError, match="answered HTTP 422"):
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
    # A 5xx to a write: its outcome is unknown (HCP Terraform's list, a read, fails first there).
    assert "but AWS_SECRET_ACCESS_KEY could not be written (" in message and "HTTP 503" in message
    assert "HandOffOutcomeUnknownError: " in message or module is hcp_terraform
    assert SECRET not in message and TOKEN not in message
    assert stored("AWS_ACCESS_KEY_ID") == KEY_ID and stored("AWS_SECRET_ACCESS_KEY") is None


def test_a_third_party_that_does_not_answer_ends_before_the_functions_timeout_read_refused_write_unknown(
    pair, event, monkeypatch
):
    """Before issue 23 every hang was a refusal; a write that got no answer may have landed."""
    module, fake, settings, stored = pair
    configure(monkeypatch, **settings)
    fake.hang_seconds = 5
    fake.faults[" /"] = "hang"  # every request
    started = time.monotonic()

    with pytest.raises(
        (core.ThirdPartyError, core.HandOffOutcomeUnknownError), match="did not answer within 2 s"
    ) as raised:
        module.handler(event, Context(seconds=10))

    # CircleCI's and GitLab's first call is a write; GitHub and HCP Terraform read first.
    expected = core.HandOffOutcomeUnknownError if module in (circleci, gitlab_ci) else core.ThirdPartyError
    assert type(raised.value) is expected, raised.value
    assert time.monotonic() - started < 8  # the function's 10 s less the 2 s margin


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


# Issue 23: what real vendors do that the kind fakes never did. Each test failed before the fix.

WRITES = ("PUT /", "POST /", "PATCH /")


@pytest.mark.parametrize("kind", ["text", "empty"])
def test_a_2xx_is_success_whatever_its_body(pair, event, monkeypatch, kind):
    module, fake, settings, stored = pair
    configure(monkeypatch, **settings)
    for write in WRITES:
        fake.faults[write] = Fault(kind)

    assert module.handler(event, Context())["delivered"] == KEY_ID

    assert stored("AWS_ACCESS_KEY_ID") == KEY_ID and stored("AWS_SECRET_ACCESS_KEY") == SECRET


@pytest.mark.parametrize("auth", ["bearer", "hmac-sha256"])
def test_a_webhook_answering_200_ok_as_text_has_the_key(event, monkeypatch, auth):
    fake = FakeWebhook(TOKEN, auth=auth)
    configure(monkeypatch, url=fake.url, auth=auth)
    try:
        assert webhook.handler(event, Context())["delivered"] == KEY_ID
        assert fake.requests[-1].status == 200 and fake.latest("marge")["SecretAccessKey"] == SECRET
    finally:
        fake.stop()


@pytest.mark.parametrize("kind", ["slow", "reset", "after"])
def test_a_write_that_landed_unanswered_is_an_unknown_outcome_never_a_refusal(event, monkeypatch, kind):
    """The webhook's POST and HCP Terraform's create are not idempotent: not retried, unknown."""
    fake = FakeWebhook(TOKEN, auth="hmac-sha256")
    fake.hang_seconds = 4
    fake.faults["POST /"] = Fault(kind, status=502)
    configure(monkeypatch, url=fake.url, auth="hmac-sha256")
    try:
        with pytest.raises(core.HandOffOutcomeUnknownError, match="the write may have landed") as raised:
            webhook.handler(event, Context())
        assert fake.latest("marge")["SecretAccessKey"] == SECRET  # it did land
        assert len(fake.requests) == 1 and SECRET not in str(raised.value) and TOKEN not in str(raised.value)
    finally:
        fake.stop()
    module, fake, settings, stored = hcp_case()
    fake.hang_seconds = 4
    fake.faults["POST /"] = Fault(kind, status=502)
    configure(monkeypatch, **settings)
    try:
        with pytest.raises(core.HandOffOutcomeUnknownError, match="may or may not hold the new key"):
            module.handler(event, Context())
        assert stored("AWS_ACCESS_KEY_ID") == KEY_ID and [r.method for r in fake.requests] == ["GET", "POST"]
    finally:
        fake.stop()


@pytest.mark.parametrize("kind", ["reset", "after"])
def test_an_idempotent_write_is_retried_once_and_a_success_is_a_success(pair, event, monkeypatch, kind):
    module, fake, settings, stored = pair
    configure(monkeypatch, **settings)
    if module in (gitlab_ci, hcp_terraform):  # their idempotent write is the update: make the variables exist
        module.handler(event, Context())
    for write in ("PUT /", "PATCH /"):
        fake.faults[write] = Fault(kind, status=500, times=1)

    assert module.handler(event, Context())["delivered"] == KEY_ID

    assert stored("AWS_ACCESS_KEY_ID") == KEY_ID and stored("AWS_SECRET_ACCESS_KEY") == SECRET
    assert [r.status for r in fake.writes()].count(0 if kind == "reset" else 500) == 1


def test_a_write_that_keeps_failing_with_5xx_is_unknown_and_names_the_key(pair, event, monkeypatch):
    module, fake, settings, stored = pair
    configure(monkeypatch, **settings)
    for write in WRITES:
        fake.faults[write] = Fault("after", status=500)

    with pytest.raises(core.HandOffOutcomeUnknownError) as raised:
        module.handler(event, Context())

    assert f"may or may not hold the new key {KEY_ID} of user marge" in str(raised.value)
    assert stored("AWS_ACCESS_KEY_ID") == KEY_ID  # the fake took it, then answered 500


@pytest.mark.parametrize("status", [302, 307])  # 301 in the end-to-end test
def test_a_redirect_is_never_followed_and_is_a_refusal_naming_the_location(pair, event, monkeypatch, status):
    module, fake, settings, stored = pair
    elsewhere = FakeWebhook("other")  # records anything that would follow the redirect
    configure(monkeypatch, **settings)
    fake.faults[" /"] = Fault("redirect", status=status, location=elsewhere.url + "/moved")
    try:
        with pytest.raises(core.ThirdPartyError, match=f"answered HTTP {status} redirecting to ") as raised:
            module.handler(event, Context())
        assert elsewhere.url + "/moved" in str(raised.value) and "not followed" in str(raised.value)
        assert elsewhere.requests == [] and len(fake.requests) == 1
        assert stored("AWS_ACCESS_KEY_ID") is None
    finally:
        elsewhere.stop()


@pytest.mark.parametrize(
    "case,status", [("github", 429), ("github", 403), ("gitlab", 429), ("circleci", 429), ("hcp", 429)]
)
def test_a_rate_limit_is_waited_out_within_the_functions_time(event, monkeypatch, case, status):
    """429 with Retry-After everywhere; GitHub's secondary rate limit is a 403 with Retry-After (a 403
    elsewhere is a refusal: see the next tests)."""
    module, fake, settings, stored = PAIR_CASES[case]()
    configure(monkeypatch, **settings)
    fake.faults[" /"] = Fault("rate", status=status, retry_after=1, times=1)
    started = time.monotonic()
    try:
        assert module.handler(event, Context())["delivered"] == KEY_ID

        assert stored("AWS_SECRET_ACCESS_KEY") == SECRET and time.monotonic() - started >= 1
        first, again = fake.requests[:2]  # the limited request wrote nothing; its repeat reached the API
        assert first.status == status and not first.landed and again.landed
        assert (again.method, again.path) == (first.method, first.path)
    finally:
        fake.stop()


def test_a_rate_limit_past_the_functions_time_refuses_if_nothing_was_written(pair, event, monkeypatch):
    module, fake, settings, stored = pair
    configure(monkeypatch, **settings)
    fake.faults[" /"] = Fault("rate", retry_after=60)
    started = time.monotonic()

    with pytest.raises(core.ThirdPartyError, match=r"answered HTTP 429 \(rate limited; retry after 60 s"):
        module.handler(event, Context())

    assert time.monotonic() - started < 2 and stored("AWS_ACCESS_KEY_ID") is None


def test_a_plain_403_is_a_refusal_not_a_rate_limit(pair, event, monkeypatch):
    module, fake, settings, stored = pair
    configure(monkeypatch, **settings)
    fake.faults[" /"] = 403

    with pytest.raises(core.ThirdPartyError, match="answered HTTP 403: injected HTTP 403"):
        module.handler(event, Context())
    assert len(fake.requests) == 1


def test_an_error_echoing_the_secret_in_any_encoding_or_cut_short_never_carries_it(event, monkeypatch):
    echoes = {
        "json-escaped": lambda text: json.dumps(
            {"message": "bad value " + json.loads(text)["SecretAccessKey"].replace("/", "\\/")}
        )[:-2],
        "cut at 300": lambda text: "x" * 280 + json.loads(text)["SecretAccessKey"],
        "url-encoded": lambda text: "value="
        + urllib.parse.quote(json.loads(text)["SecretAccessKey"], safe=""),
        "base64": lambda text: "got "
        + base64.b64encode(json.loads(text)["SecretAccessKey"].encode()).decode(),
        "a piece": lambda text: "near "
        + json.loads(text)["SecretAccessKey"][5:19]
        + " and a token "
        + TOKEN[:13],
    }
    for name, echo in echoes.items():
        fake = FakeWebhook(TOKEN)
        configure(monkeypatch, url=fake.url, auth="bearer")
        fake.faults["POST /"] = Fault("status", status=422, body=lambda text, echo=echo: echo(text).encode())
        try:
            with pytest.raises(core.ThirdPartyError, match="answered HTTP 422") as raised:
                webhook.handler(event, Context())
        finally:
            fake.stop()
        message = str(raised.value)
        for secret in (SECRET, TOKEN):
            for form in core._encodings(secret):
                windows = {form[i : i + 12] for i in range(len(form) - 11)}
                assert not any(w in message for w in windows), (name, message)
        assert "***" in message, (name, message)


def test_redaction_prefers_the_apis_own_message():
    body = json.dumps(
        {"message": "Validation failed", "documentation_url": "https://docs.example", "echo": SECRET}
    )
    assert core.api_message(body) == "Validation failed"
    assert core.api_message(
        json.dumps({"errors": [{"status": "422", "detail": "Key has already been taken"}]})
    ) == ("Key has already been taken")
    assert core.redact("a " + SECRET[:11] + " b", [SECRET]) == "a " + SECRET[:11] + " b"  # 11 chars: kept
    assert core.redact("a " + SECRET[3:15] + " b", [SECRET]) == "a *** b"


def test_github_organization_secrets_keep_what_an_admin_set(event, monkeypatch):
    repositories = {i: f"acme/repo-{i}" for i in range(1000, 1150)}  # two pages of 100
    fake = FakeGitHub(TOKEN, ["/orgs/acme/actions"], repositories)
    fake.org_secret("acme", "AWS_ACCESS_KEY_ID", "selected", list(repositories))
    fake.org_secret("acme", "AWS_SECRET_ACCESS_KEY", "all")
    configure(
        monkeypatch,
        api_url=fake.url,
        target="organization",
        organization="acme",
        visibility="private",
        **NAMES,
    )
    try:
        github_actions.handler(event, Context())
        key_id = fake.secrets[("/orgs/acme/actions", "AWS_ACCESS_KEY_ID")]
        secret = fake.secrets[("/orgs/acme/actions", "AWS_SECRET_ACCESS_KEY")]
        assert key_id["value"] == KEY_ID and key_id["visibility"] == "selected"
        assert sorted(key_id["selected"]) == sorted(repositories)
        assert secret["value"] == SECRET and secret["visibility"] == "all"
        pages = [r.query.get("page") for r in fake.requests if r.path.endswith("/repositories")]
        assert pages == [None, "2"]
        # A secret the handler creates gets the module's visibility.
        configure(
            monkeypatch,
            api_url=fake.url,
            target="organization",
            organization="acme",
            visibility="private",
            key_id_name="NEW_ID",
            secret_key_name="NEW_KEY",
        )
        github_actions.handler(event, Context())
        assert fake.secrets[("/orgs/acme/actions", "NEW_KEY")]["visibility"] == "private"
    finally:
        fake.stop()


def test_github_environment_names_are_url_encoded(event, monkeypatch):
    fake = FakeGitHub(TOKEN, ["/repos/acme/app/environments/prod eu/1"])
    configure(
        monkeypatch,
        api_url=fake.url,
        target="environment",
        repository="acme/app",
        environment="prod eu/1",
        **NAMES,
    )
    try:
        github_actions.handler(event, Context())
        assert fake.value("/repos/acme/app/environments/prod eu/1", "AWS_SECRET_ACCESS_KEY") == SECRET
    finally:
        fake.stop()


def test_gitlab_keeps_every_attribute_of_an_existing_variable(event, monkeypatch):
    module, fake, settings, stored = gitlab_case()
    attributes = {
        "protected": True,
        "masked": False,
        "raw": False,
        "variable_type": "file",
        "description": "deploy",
    }
    for name in NAMES.values():
        fake.existing("projects/acme/app", name, "production", **attributes)
        fake.existing("projects/acme/app", name, "staging", **attributes)  # same key, another scope
    configure(monkeypatch, **{**settings, "environment_scope": "production", "protected": False})
    try:
        module.handler(event, Context())
        for name, value in zip(NAMES.values(), (KEY_ID, SECRET)):
            variable = fake.variable("projects/acme/app", name, "production")
            assert variable == {**variable, **attributes, "value": value, "environment_scope": "production"}
            assert fake.variable("projects/acme/app", name, "staging")["value"] == "set-by-its-owners"
        assert all(set(r.body) == {"value"} for r in fake.writes())
    finally:
        fake.stop()


def test_hcp_terraform_finds_variables_past_the_first_page(event, monkeypatch):
    module, fake, settings, stored = hcp_case()
    for i in range(130):
        fake.existing("ws-abc123", f"OTHER_{i:03d}")
    ids = [fake.existing("ws-abc123", name, sensitive=True) for name in NAMES.values()]  # on page 2
    configure(monkeypatch, **settings)
    try:
        module.handler(event, Context())
        assert [r.method for r in fake.requests] == ["GET", "GET", "PATCH", "PATCH"]
        assert [r.path.rsplit("/", 1)[1] for r in fake.writes()] == ids
        assert fake.keys("ws-abc123").count("AWS_SECRET_ACCESS_KEY") == 1
        assert stored("AWS_SECRET_ACCESS_KEY") == SECRET
    finally:
        fake.stop()


def test_a_pagination_link_to_another_host_is_not_followed(event, monkeypatch):
    http = core.Http("https://api.github.com", {}, Context(), [])
    assert http.same_origin("/orgs/acme?page=2") == "https://api.github.com/orgs/acme?page=2"
    with pytest.raises(core.ThirdPartyError, match="another host"):
        http.same_origin("https://evil.example/orgs/acme?page=2")


def test_the_webhook_signs_timestamp_and_delivery_and_the_example_receiver_rejects_replays(
    event, monkeypatch
):
    fake = FakeWebhook(TOKEN, auth="hmac-sha256")
    configure(monkeypatch, url=fake.url, auth="hmac-sha256")
    try:
        webhook.handler(event, Context())
        webhook.handler(event, Context())
        first, second = fake.requests
        assert first.status == second.status == 200 and fake.rejections == []
        assert first.headers["X-Rotator-Delivery"] != second.headers["X-Rotator-Delivery"]
    finally:
        fake.stop()
    receiver = webhook_receiver
    raw = json.dumps(first.body, sort_keys=True).encode()
    headers = {k: first.headers[k] for k in ("X-Rotator-Timestamp", "X-Rotator-Delivery", "X-Signature-256")}
    seen = receiver.MemorySeen()
    stamp = int(headers["X-Rotator-Timestamp"])
    assert receiver.verify(headers, raw, TOKEN, seen, now=stamp)["AccessKeyId"] == KEY_ID
    with pytest.raises(receiver.Rejected, match="already received: a replay"):
        receiver.verify(headers, raw, TOKEN, seen, now=stamp)
    with pytest.raises(receiver.Rejected, match="outside the 300 s tolerance"):
        receiver.verify(headers, raw, TOKEN, receiver.MemorySeen(), now=stamp + 301)
    for changed in (
        {**headers, "X-Rotator-Timestamp": str(stamp + 1)},
        {**headers, "X-Rotator-Delivery": "another"},
    ):
        with pytest.raises(receiver.Rejected, match="signature does not match"):
            receiver.verify(changed, raw, TOKEN, receiver.MemorySeen(), now=stamp)
    with pytest.raises(receiver.Rejected, match="signature does not match"):
        receiver.verify(headers, raw.replace(b"marge", b"homer"), TOKEN, receiver.MemorySeen(), now=stamp)


def test_a_refused_connection_is_a_refusal_even_for_a_write(event, monkeypatch):
    with socket.socket() as closed:  # a port nothing listens on once this closes
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    configure(monkeypatch, url=f"http://127.0.0.1:{port}/credentials", auth="bearer")

    with pytest.raises(core.ThirdPartyError, match="failed: .*Connection refused"):
        webhook.handler(event, Context())
