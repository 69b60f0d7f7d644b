"""End to end: the root module rotating users whose credentials handler is each ready-made handler
(modules/handler-*), against loopback fakes of the vendors' APIs (tests/fixtures/handlers: every
handler and three rotators, applied once, then re-applied to give the rotators the other three). What each fake stores is compared with the user's new secret access key in the emulated IAM;
the third party's refusals (401, 404, 422, a redirect, a read's 5xx) roll the user back to its old key;
a write that may have landed unseen (no answer, a reset connection) keeps both keys (issue 23)."""

import json

import pytest

from harness.fakes.base import Fault
from harness.fakes.circleci import FakeCircleCI
from harness.fakes.github import FakeGitHub
from harness.fakes.gitlab import FakeGitLab
from harness.fakes.hcp_terraform import FakeHcpTerraform
from harness.fakes.webhook import FakeWebhook
from harness.terraform import TerraformRoot

CONTEXT = "5f0b3c1e-0000-4000-8000-000000000001"
TOKENS = {k: f"{k}-token-7d1c9e" for k in ["webhook", "github", "gitlab", "circleci", "hcp"]}
# Rotator => user => metadata. Users named *-ok are delivered; each other user meets one failure.
USERS = {
    "webhook": {"wh-ok": "", "wh-hangs": "", "wh-reset": ""},
    "github": {
        "gh-ok": "",
        "gh-env": "target=environment;environment=prod",
        "gh-404": "repository=acme/gone",
        "gh-org": "target=organization;organization=acme",
        "gh-space": "target=environment;environment=prod eu;key_id_name=EU_ID;secret_key_name=EU_KEY",
    },
    "gitlab": {
        "gl-ok": "",
        "gl-401": "project=acme/locked",
        "gl-kept": "environment_scope=production;key_id_name=PROD_ID;secret_key_name=PROD_KEY",
        "gl-moved": "project=acme/moved",
    },
    "circleci": {"cc-ok": "", "cc-422": "context_id=ctx-invalid", "cc-429": "context_id=ctx-busy"},
    "hcp": {
        "tf-ok": "key_id_name=AWS_ID;secret_key_name=AWS_KEY",
        "tf-503": "workspace_id=ws-down",
        "tf-paged": "workspace_id=ws-big",
    },
    "manual": {"man-ok": "vendor=acme"},
}


ORG_REPOSITORIES = {i: f"acme/repo-{i}" for i in range(5000, 5120)}
GITLAB_KEPT = {
    "protected": True,
    "masked": False,
    "variable_type": "file",
    "raw": False,
    "description": "deploy",
}


@pytest.fixture(scope="module")
def fakes():
    made = {
        "webhook": FakeWebhook(TOKENS["webhook"], auth="hmac-sha256"),
        "github": FakeGitHub(
            TOKENS["github"],
            [
                "/repos/acme/app/actions",
                "/repos/acme/app/environments/prod",
                "/repos/acme/app/environments/prod eu",
                "/orgs/acme/actions",
            ],
            ORG_REPOSITORIES,
        ),
        "gitlab": FakeGitLab(
            TOKENS["gitlab"], ["projects/acme/app", "projects/acme/locked", "projects/acme/moved"]
        ),
        "circleci": FakeCircleCI(TOKENS["circleci"], [CONTEXT, "ctx-invalid", "ctx-busy"], []),
        "hcp": FakeHcpTerraform(TOKENS["hcp"], ["ws-app", "ws-down", "ws-big"]),
    }
    made["webhook"].hang_seconds = 6  # past the handler's 2 s HTTP timeout, within its Lambda timeout
    made["webhook"].faults['"wh-hangs"'] = "hang"
    made["webhook"].faults['"wh-reset"'] = Fault("reset")  # the key lands, the answer never comes
    # An admin restricted this organization secret to 120 repositories (two pages), the other to all.
    made["github"].org_secret("acme", "AWS_ACCESS_KEY_ID", "selected", list(ORG_REPOSITORIES))
    made["github"].org_secret("acme", "AWS_SECRET_ACCESS_KEY", "all")
    made["gitlab"].faults["acme%2Flocked"] = 401
    made["gitlab"].faults["acme%2Fmoved"] = Fault(
        "redirect", status=301, location=made["webhook"].url + "/moved"
    )
    for name in ("PROD_ID", "PROD_KEY"):
        made["gitlab"].existing("projects/acme/app", name, "production", **GITLAB_KEPT)
    made["circleci"].faults["ctx-busy"] = Fault("rate", retry_after=1, times=2)
    made["circleci"].faults["ctx-invalid"] = 422
    made["hcp"].faults["ws-down"] = 503
    for i in range(130):  # the rotated variables are on the second page of 100
        made["hcp"].existing("ws-big", f"OTHER_{i:03d}")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        made["hcp"].existing("ws-big", name, sensitive=True)
    yield made
    for fake in made.values():
        fake.stop()


@pytest.fixture(scope="module")
def stack(aws, fakes, tmp_path_factory):
    root = TerraformRoot("tests/fixtures/handlers", tmp_path_factory.mktemp("handlers"), aws.endpoint)
    variables = {"urls": {k: f.url for k, f in fakes.items()}, "tokens": TOKENS, "users": USERS}
    root.apply({**variables, "assigned": ROUNDS[0]})
    return root, variables


ROUNDS = [
    {"a": "webhook", "b": "github", "c": "gitlab"},
    {"a": "circleci", "b": "hcp", "c": "manual"},
]


@pytest.fixture(scope="module")
def run(aws, stack):
    """Every user gets an old key its third party uses; then, in each round, the rotators get their
    handlers and run once, all at once. Returns the old keys, each handler's execution, the secret name
    prefix each handler's users had, and the manual handler's messages as subscribers got them."""
    root, variables = stack
    iam = aws.client("iam")
    old = {
        user: iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
        for users in USERS.values()
        for user in users
    }
    outputs = root.outputs()
    inbox = subscribe_queue(aws, outputs["topic_arn"])
    executions, prefixes = {}, {}
    for number, assigned in enumerate(ROUNDS):
        if number:
            outputs = root.apply({**variables, "assigned": assigned})
        arns = {
            handler: aws.start_execution(outputs["state_machine_arns"][slot], "{}")
            for slot, handler in assigned.items()
        }
        executions.update({handler: aws.wait_execution(arn, timeout=180) for handler, arn in arns.items()})
        prefixes.update({handler: f"rotator-{slot}/" for slot, handler in assigned.items()})
    messages = aws.client("sqs").receive_message(QueueUrl=inbox, MaxNumberOfMessages=10)
    return old, executions, prefixes, messages.get("Messages", [])


def subscribe_queue(aws, topic_arn):
    """An SQS queue subscribed to the manual handler's topic: what its subscribers receive."""
    sqs = aws.client("sqs")
    queue = sqs.create_queue(QueueName="manual-hand-offs")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    return queue


def new_key(aws, user, old):
    """The user's only key, after a rotation that replaced `old`: (id, secret from moto's IAM)."""
    keys = aws.access_keys(user)
    assert len(keys) == 1 and old not in keys, (user, keys)
    (key_id,) = keys
    secret = next(
        k.secret_access_key for k in aws.moto_iam_user(user).access_keys if k.access_key_id == key_id
    )
    return key_id, secret


def failed_users(execution):
    assert execution["status"] == "FAILED", execution
    return json.loads(execution["cause"])["errorMessage"]


def both_keys_kept(aws, execution, user, old):
    """The user's old key and the new one it may have handed off, both active, and the run failed
    naming the user's unknown hand-off."""
    keys = aws.access_keys(user)
    (new,) = set(keys) - {old}
    assert keys == {old: "Active", new: "Active"}, (user, keys)
    cause = failed_users(execution)
    assert f"{user} (HandOffOutcomeUnknownError: " in cause, cause
    secret = next(k.secret_access_key for k in aws.moto_iam_user(user).access_keys if k.access_key_id == new)
    return new, secret, cause


def test_webhook_answered_200_ok_as_text_has_the_key_and_an_unanswered_one_keeps_both(aws, fakes, run):
    old, executions, _, _ = run
    key_id, secret = new_key(aws, "wh-ok", old["wh-ok"])
    assert fakes["webhook"].latest("wh-ok") == {
        "username": "wh-ok",
        "AccessKeyId": key_id,
        "SecretAccessKey": secret,
    }
    # Delivered by the webhook handler deployed on arm64 (its module's function.architecture).
    config = aws.client("lambda").get_function_configuration(FunctionName="e2e-webhook")
    assert config["Architectures"] == ["arm64"]
    ok = next(r for r in fakes["webhook"].requests if (r.body or {}).get("username") == "wh-ok")
    assert ok.status == 200 and fakes["webhook"].rejections == []  # "OK", text/plain, from the receiver
    # Before issue 23 a hanging endpoint rolled the key back: it may have taken the key, so both stay.
    _, _, cause = both_keys_kept(aws, executions["webhook"], "wh-hangs", old["wh-hangs"])
    assert "did not answer within 2 s (the write may have landed)" in cause
    # The reset connection came after the receiver took the key: deleting it would break the receiver.
    new, secret, cause = both_keys_kept(aws, executions["webhook"], "wh-reset", old["wh-reset"])
    assert fakes["webhook"].latest("wh-reset")["SecretAccessKey"] == secret


def test_github_secrets_open_to_the_new_key_and_a_missing_repository_rolls_back(aws, fakes, run):
    old, executions, _, _ = run
    github = fakes["github"]
    for user, scope in [
        ("gh-ok", "/repos/acme/app/actions"),
        ("gh-env", "/repos/acme/app/environments/prod"),
    ]:
        key_id, secret = new_key(aws, user, old[user])
        # The fake opened the sealed boxes with its private key.
        assert github.value(scope, "AWS_ACCESS_KEY_ID") == key_id
        assert github.value(scope, "AWS_SECRET_ACCESS_KEY") == secret
    cause = failed_users(executions["github"])
    assert cause.startswith("1 of 5 users not rotated: gh-404 (ThirdPartyError: GET ")
    assert "/repos/acme/gone/actions/secrets/public-key answered HTTP 404" in cause
    assert aws.access_keys("gh-404") == {old["gh-404"]: "Active"}
    assert not any("/repos/acme/gone/" in r.path for r in github.writes())


def test_github_organization_secrets_keep_their_visibility_and_environments_may_hold_spaces(aws, fakes, run):
    old, _, _, _ = run
    github = fakes["github"]
    key_id, secret = new_key(aws, "gh-org", old["gh-org"])
    id_secret = github.secrets[("/orgs/acme/actions", "AWS_ACCESS_KEY_ID")]
    key_secret = github.secrets[("/orgs/acme/actions", "AWS_SECRET_ACCESS_KEY")]
    assert id_secret["value"] == key_id and key_secret["value"] == secret
    assert id_secret["visibility"] == "selected" and sorted(id_secret["selected"]) == sorted(ORG_REPOSITORIES)
    assert key_secret["visibility"] == "all"
    key_id, secret = new_key(aws, "gh-space", old["gh-space"])
    assert github.value("/repos/acme/app/environments/prod eu", "EU_ID") == key_id
    assert github.value("/repos/acme/app/environments/prod eu", "EU_KEY") == secret


def test_gitlab_variables_hold_the_new_key_protected_and_masked_and_401_rolls_back(aws, fakes, run):
    old, executions, _, _ = run
    key_id, secret = new_key(aws, "gl-ok", old["gl-ok"])
    stored = fakes["gitlab"].variable("projects/acme/app", "AWS_SECRET_ACCESS_KEY")
    assert stored["value"] == secret and stored["masked"] is True and stored["protected"] is True
    assert fakes["gitlab"].variable("projects/acme/app", "AWS_ACCESS_KEY_ID")["value"] == key_id
    cause = failed_users(executions["gitlab"])
    assert "gl-401 (ThirdPartyError: PUT " in cause and "answered HTTP 401" in cause
    assert aws.access_keys("gl-401") == {old["gl-401"]: "Active"}


def test_gitlab_keeps_an_existing_variables_attributes_and_a_redirect_rolls_back(aws, fakes, run):
    old, executions, _, _ = run
    gitlab = fakes["gitlab"]
    key_id, secret = new_key(aws, "gl-kept", old["gl-kept"])
    for name, value in (("PROD_ID", key_id), ("PROD_KEY", secret)):
        variable = gitlab.variable("projects/acme/app", name, "production")
        assert variable == {**variable, **GITLAB_KEPT, "value": value}, variable
    cause = failed_users(executions["gitlab"])
    assert "gl-moved (ThirdPartyError: PUT " in cause and "answered HTTP 301 redirecting to " in cause
    assert aws.access_keys("gl-moved") == {old["gl-moved"]: "Active"}
    assert not any(r.path.endswith("/moved") for r in fakes["webhook"].requests)  # never followed


def test_circleci_context_holds_the_new_key_under_its_names_and_422_rolls_back(aws, fakes, run):
    old, executions, _, _ = run
    key_id, secret = new_key(aws, "cc-ok", old["cc-ok"])
    assert fakes["circleci"].value(f"context/{CONTEXT}", "DEPLOY_AWS_ACCESS_KEY_ID") == key_id
    assert fakes["circleci"].value(f"context/{CONTEXT}", "DEPLOY_AWS_SECRET_ACCESS_KEY") == secret
    assert "cc-422 (ThirdPartyError: PUT " in failed_users(executions["circleci"])
    assert aws.access_keys("cc-422") == {old["cc-422"]: "Active"}
    # Rate limited twice (429, Retry-After: 1), then delivered within the function's time.
    key_id, secret = new_key(aws, "cc-429", old["cc-429"])
    assert fakes["circleci"].value("context/ctx-busy", "DEPLOY_AWS_SECRET_ACCESS_KEY") == secret
    assert [r.status for r in fakes["circleci"].requests if "ctx-busy" in r.path][:3] == [429, 429, 200]


def test_hcp_terraform_workspace_holds_sensitive_variables_and_503_rolls_back(aws, fakes, run):
    old, executions, _, _ = run
    key_id, secret = new_key(aws, "tf-ok", old["tf-ok"])
    assert fakes["hcp"].value("ws-app", "AWS_ID")["value"] == key_id
    stored = fakes["hcp"].value("ws-app", "AWS_KEY")
    assert stored["value"] == secret and stored["sensitive"] is True and stored["category"] == "env"
    cause = failed_users(executions["hcp"])
    assert "tf-503 (ThirdPartyError: GET " in cause and "answered HTTP 503" in cause
    assert aws.access_keys("tf-503") == {old["tf-503"]: "Active"}
    # The variables were on the second page: updated in place, not created again (422) every run.
    key_id, secret = new_key(aws, "tf-paged", old["tf-paged"])
    assert fakes["hcp"].value("ws-big", "AWS_SECRET_ACCESS_KEY")["value"] == secret
    assert fakes["hcp"].keys("ws-big").count("AWS_ACCESS_KEY_ID") == 1


def test_manual_handler_announces_which_secret_to_read_and_never_the_key(aws, run):
    old, executions, prefixes, messages = run
    assert executions["manual"]["status"] == "SUCCEEDED", executions["manual"]
    key_id, secret = new_key(aws, "man-ok", old["man-ok"])
    (message,) = messages
    text = json.loads(message["Body"])["Message"]
    assert "IAM user man-ok has a new access key" in text and "Metadata: vendor=acme" in text
    assert f"aws secretsmanager get-secret-value --secret-id {prefixes['manual']}man-ok" in text
    assert secret not in text and key_id not in text


def test_nothing_secret_reached_histories_logs_or_state_and_secrets_are_gone(aws, stack, run):
    root, _ = stack
    old, executions, _, _ = run
    histories = "".join(json.dumps(aws.history(e["executionArn"]), default=str) for e in executions.values())
    logs = "\n".join(i.logs for i in aws.invocations)
    state = root.state_json() + json.dumps(root.outputs())
    for secret in aws.issued_secrets:
        assert secret not in histories and secret not in logs and secret not in state
    for token in TOKENS.values():
        assert token not in histories and token not in logs
    # Only the tokens are left of this fixture's secrets (other test files' stacks may share this
    # emulated AWS and keep their own).
    ours = ("handlers-e2e/",) + tuple(f"rotator-{slot}/" for slot in ROUNDS[0])
    names = [s["Name"] for s in aws.client("secretsmanager").list_secrets()["SecretList"]]
    assert sorted(n for n in names if n.startswith(ours)) == sorted(f"handlers-e2e/{k}-token" for k in TOKENS)


def test_each_handler_role_may_read_only_its_token_secret(aws, stack, run):
    iam = aws.client("iam")
    for name, role in stack[0].outputs()["handler_role_names"].items():
        policy = iam.get_role_policy(RoleName=role, PolicyName=role)["PolicyDocument"]
        reads = [s for s in policy["Statement"] if "secretsmanager:GetSecretValue" in json.dumps(s["Action"])]
        if name == "manual":
            assert reads == []
            continue
        (read,) = reads
        resources = [read["Resource"]] if isinstance(read["Resource"], str) else read["Resource"]
        assert len(resources) == 1 and f"handlers-e2e/{name}-token" in resources[0], (name, resources)


def test_bad_handler_inputs_are_refused_at_plan_each_naming_the_input_and_the_fix(aws, tmp_path):
    root = TerraformRoot("tests/fixtures/handler_inputs", tmp_path, aws.endpoint)

    error = root.plan_error(
        {
            "url": "http://hooks.example.com/keys",
            "token_secret_arn": "ghp_0123456789abcdef",
            "function": {"timeout": 10, "http_timeout_seconds": 8},
            "github_runtime": "python3.14",
        }
    )

    assert 'url must be an https:// URL such as "https://example.com/credentials"' in error
    assert 'plain http only to 127.0.0.1 or localhost); got "http://hooks.example.com/keys"' in error
    assert "token_secret_arn must be the ARN of a Secrets Manager secret" in error
    assert "never the token itself). Got a value that is not such an ARN." in error
    assert "function.http_timeout_seconds must be at least 1 and at most half of function.timeout" in error
    assert "function.runtime must be python3.8 to python3.13" in error and 'got "python3.14"' in error
