"""End to end: the root module rotating users whose credentials handler is each ready-made handler
(modules/handler-*), against loopback fakes of the vendors' APIs (tests/fixtures/handlers: every
handler and three rotators, applied once, then re-applied to give the rotators the other three). What each fake stores is compared with the user's new secret access key in the emulated IAM;
the third party's failures (401, 404, 422, 5xx, no answer) roll the user back to its old key."""

import json

import pytest

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
    "webhook": {"wh-ok": "", "wh-hangs": ""},
    "github": {
        "gh-ok": "",
        "gh-env": "target=environment;environment=prod",
        "gh-404": "repository=acme/gone",
    },
    "gitlab": {"gl-ok": "", "gl-401": "project=acme/locked"},
    "circleci": {"cc-ok": "", "cc-422": "context_id=ctx-invalid"},
    "hcp": {"tf-ok": "key_id_name=AWS_ID;secret_key_name=AWS_KEY", "tf-503": "workspace_id=ws-down"},
    "manual": {"man-ok": "vendor=acme"},
}


@pytest.fixture(scope="module")
def fakes():
    made = {
        "webhook": FakeWebhook(TOKENS["webhook"], auth="hmac-sha256"),
        "github": FakeGitHub(
            TOKENS["github"], ["/repos/acme/app/actions", "/repos/acme/app/environments/prod"]
        ),
        "gitlab": FakeGitLab(TOKENS["gitlab"], ["projects/acme/app", "projects/acme/locked"]),
        "circleci": FakeCircleCI(TOKENS["circleci"], [CONTEXT, "ctx-invalid"], []),
        "hcp": FakeHcpTerraform(TOKENS["hcp"], ["ws-app", "ws-down"]),
    }
    made["webhook"].hang_seconds = 6  # past the handler's 2 s HTTP timeout, within its 10 s Lambda timeout
    made["webhook"].faults['"wh-hangs"'] = "hang"
    made["gitlab"].faults["acme%2Flocked"] = 401
    made["circleci"].faults["ctx-invalid"] = 422
    made["hcp"].faults["ws-down"] = 503
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


def test_webhook_posts_a_signed_key_and_a_hanging_endpoint_rolls_back(aws, fakes, run):
    old, executions, _, _ = run
    key_id, secret = new_key(aws, "wh-ok", old["wh-ok"])
    assert fakes["webhook"].latest("wh-ok") == {
        "username": "wh-ok",
        "AccessKeyId": key_id,
        "SecretAccessKey": secret,
    }
    cause = failed_users(executions["webhook"])
    assert (
        "wh-hangs (ThirdPartyError: POST http://127.0.0.1:" in cause and "did not answer within 2 s" in cause
    )
    assert aws.access_keys("wh-hangs") == {old["wh-hangs"]: "Active"}


def test_github_secrets_open_to_the_new_key_and_a_missing_repository_rolls_back(aws, fakes, run):
    old, executions, _, _ = run
    github = fakes["github"]
    for user, scope in [
        ("gh-ok", "/repos/acme/app/actions"),
        ("gh-env", "/repos/acme/app/environments/prod"),
    ]:
        key_id, secret = new_key(aws, user, old[user])
        # The fake opened the sealed boxes with its private key.
        assert github.value(scope, "AWS_ACCESS_KEY_ID") in (key_id, new_key(aws, "gh-ok", old["gh-ok"])[0])
        assert github.value(scope, "AWS_SECRET_ACCESS_KEY") == secret
    cause = failed_users(executions["github"])
    assert cause.startswith("1 of 3 users not rotated: gh-404 (ThirdPartyError: GET ")
    assert "/repos/acme/gone/actions/secrets/public-key answered HTTP 404" in cause
    assert aws.access_keys("gh-404") == {old["gh-404"]: "Active"}
    assert not any("/repos/acme/gone/" in r.path for r in github.writes())


def test_gitlab_variables_hold_the_new_key_protected_and_masked_and_401_rolls_back(aws, fakes, run):
    old, executions, _, _ = run
    key_id, secret = new_key(aws, "gl-ok", old["gl-ok"])
    stored = fakes["gitlab"].variable("projects/acme/app", "AWS_SECRET_ACCESS_KEY")
    assert stored["value"] == secret and stored["masked"] is True and stored["protected"] is True
    assert fakes["gitlab"].variable("projects/acme/app", "AWS_ACCESS_KEY_ID")["value"] == key_id
    cause = failed_users(executions["gitlab"])
    assert "gl-401 (ThirdPartyError: PUT " in cause and "answered HTTP 401" in cause
    assert aws.access_keys("gl-401") == {old["gl-401"]: "Active"}


def test_circleci_context_holds_the_new_key_under_its_names_and_422_rolls_back(aws, fakes, run):
    old, executions, _, _ = run
    key_id, secret = new_key(aws, "cc-ok", old["cc-ok"])
    assert fakes["circleci"].value(f"context/{CONTEXT}", "DEPLOY_AWS_ACCESS_KEY_ID") == key_id
    assert fakes["circleci"].value(f"context/{CONTEXT}", "DEPLOY_AWS_SECRET_ACCESS_KEY") == secret
    assert "cc-422 (ThirdPartyError: PUT " in failed_users(executions["circleci"])
    assert aws.access_keys("cc-422") == {old["cc-422"]: "Active"}


def test_hcp_terraform_workspace_holds_sensitive_variables_and_503_rolls_back(aws, fakes, run):
    old, executions, _, _ = run
    key_id, secret = new_key(aws, "tf-ok", old["tf-ok"])
    assert fakes["hcp"].value("ws-app", "AWS_ID")["value"] == key_id
    stored = fakes["hcp"].value("ws-app", "AWS_KEY")
    assert stored["value"] == secret and stored["sensitive"] is True and stored["category"] == "env"
    cause = failed_users(executions["hcp"])
    assert "tf-503 (ThirdPartyError: GET " in cause and "answered HTTP 503" in cause
    assert aws.access_keys("tf-503") == {old["tf-503"]: "Active"}


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
    assert sorted(s["Name"] for s in aws.client("secretsmanager").list_secrets()["SecretList"]) == sorted(
        f"handlers-e2e/{k}-token" for k in TOKENS
    )


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
