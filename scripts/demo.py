"""The README's first command: deploys examples/complete on an emulated AWS (moto) with real Terraform and
the real AWS provider, and shows, step by step:
  1. the apply;
  2. a scheduled rotation of every user, and what the third party received;
  3. a rotation whose hand-off one user's third party refuses: that user is rolled back;
  4. a rotation whose third party keeps calling AWS with its old key: the usage check keeps both keys;
  5. the destroy (after a pause for trying the stack yourself, with --keep);
  6. a ready-made handler (examples/handler-webhook) posting a key, HMAC-signed, to an endpoint.
For each step it names the AWS CLI command that shows the same on AWS."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

from harness.aws import EmulatedAws, Invocation
from harness.fakes.webhook import FakeWebhook
from harness.terraform import TerraformRoot
from harness.third_party import ThirdParty

EXAMPLE, NAME = "examples/complete", "rotator-complete"
USERS = ["ci-deployer", "ci-publisher", "reporting"]
LIVE = sys.stdout.isatty()  # step-by-step progress in a terminal; summaries only otherwise (--progress)
STARTED = time.monotonic()
STEPS = {
    "key created": "new key {access_key_id} created (id only; the secret goes to Secrets Manager)",
    "secret stored": "stored in secret {secret_name}",
    "key verified": "verified: AWS accepts the new key",
    "inactive key deleted": "last period's inactive key {access_key_id} deleted, freeing its slot",
    "rolled back": "rolled back: new key deleted, the third party keeps the old key",
    "old key deactivated": "old key {access_key_id} deactivated (deleted at the next rotation)",
    "old key deleted": "old key {access_key_id} deleted",
}


def say(message: str = "") -> None:
    print(message, flush=True)


def progress(message: str) -> None:
    """A line during set-up, with the time since the demo started: set-up is most of the first minute."""
    say(f"    [{time.monotonic() - STARTED:5.1f} s] {message}")


def on_aws(*commands: str) -> None:
    """The AWS CLI commands that show the same on AWS (the emulator answers them too, see --keep)."""
    for command in commands:
        say(f"    on AWS: {command}")


def steps(invocation: Invocation) -> list[tuple[str, str]]:
    """What one Lambda invocation did, per user, read from its own JSON log lines."""
    if invocation.function_name == f"{NAME}-handler":
        user = invocation.event.get("username", "")
        if invocation.errored:
            result = invocation.result
            return [(user, f"hand-off FAILED: {result.get('errorType')}: {result.get('errorMessage')}")]
        return [(user, "handed off to the third party")]
    lines = []
    for line in invocation.logs.splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if record.get("message") in STEPS and record.get("username"):
            lines.append((record["username"], STEPS[record["message"]].format(**record)))
    return lines


def wait_label(index: int, seconds: int) -> str | None:
    """The run's first wait is the grace period; each later one is a usage re-check's (the old key was used
    too recently to tell whether the third party switched). Re-checks are told once, then counted."""
    if index == 0:
        return f"grace period: both keys valid for {seconds} s while the third party switches (the demo skips waits)"
    if index == 1:
        return f"usage re-check: the old key was used recently; looking again every {seconds} s"
    return None


def watch(aws: EmulatedAws, arn: str) -> dict:
    """Prints each user's steps as the functions finish, until the execution ends."""
    seen, first_wait = len(aws.invocations), len(aws.waits)
    told = first_wait
    while True:
        described = aws.client("stepfunctions").describe_execution(executionArn=arn)
        for invocation in aws.invocations[seen:]:
            for user, step in steps(invocation) if LIVE else []:
                say(f"    {user:<13} {step}")
        seen = len(aws.invocations)
        for index in range(told - first_wait, len(aws.waits) - first_wait):
            label = wait_label(index, aws.waits[first_wait + index])
            if LIVE and label:
                say(f"    {'(every user)' if index == 0 else '(the run)':<13} {label}")
        told = len(aws.waits)
        if described["status"] != "RUNNING":
            if LIVE and told - first_wait > 1:
                say(f"    {'(the run)':<13} usage re-checked {told - first_wait - 1} times")
            return described
        time.sleep(0.1)


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join("    " + line for line in lines)


def outcome(execution: dict, user: str, new: list[str], old_still_active: bool) -> str:
    """What became of a user's keys, in the words of the run's report."""
    cause = json.loads(execution.get("cause") or "{}").get("errorMessage", "")
    if not new:
        return "rolled back, old key kept"
    if old_still_active:
        return "old key still in use: both kept" if f"{user} (NeverSwitched" in cause else "both kept"
    return "rotated"


def summary(aws: EmulatedAws, before: dict, execution: dict, first_invocation: int) -> str:
    rows = [["user", "old key id", "new key id", "result", "duration"]]
    for user in USERS:
        old = [k for k, status in before[user].items() if status == "Active"]
        active = [k for k, status in aws.access_keys(user).items() if status == "Active"]
        new = [k for k in active if k not in old]
        mine = [i for i in aws.invocations[first_invocation:] if user in {u for u, _ in steps(i)}]
        took = f"{mine[-1].ended - mine[0].started:.1f} s" if mine else "-"
        rows.append(
            [
                user,
                ",".join(old) or "(none)",
                ",".join(new) or "-",
                outcome(execution, user, new, bool(set(old) & set(active))),
                took,
            ]
        )
    return f"    run {execution['status']}\n" + table(rows)


def rotate(aws: EmulatedAws, third_party: ThirdParty, title: str) -> dict:
    before = {user: aws.access_keys(user) for user in USERS}
    delivered = len(third_party.deliveries)
    say(title)
    first = len(aws.invocations)
    (arn,) = aws.fire_schedule(NAME)
    execution = watch(aws, arn)
    say(summary(aws, before, execution, first))
    if execution["status"] == "FAILED":
        say(
            f"    the run's error, as the failure alarm's operator reads it: {json.loads(execution['cause'])['errorMessage']}"
        )
    received = [f"{d['username']} {d['AccessKeyId']}" for d in third_party.deliveries[delivered:]]
    say(
        f"    the third party received (key ids shown; it got the secrets too): {', '.join(received) or 'nothing'}"
    )
    left = [s["Name"] for s in aws.client("secretsmanager").list_secrets()["SecretList"]]
    why = (
        "each new key's secret is deleted once its hand-off is settled: only the third party holds the key"
        if not left
        else "kept as the lock of a user a person must look at (the run's error says what to check)"
    )
    say(f"    secrets left: {len(left)} ({why})")
    on_aws(
        f"aws stepfunctions describe-execution --execution-arn {arn}",
        f"aws iam list-access-keys --user-name {USERS[0]}",
        f"aws logs tail /aws/lambda/{NAME}-rotate --since 1h",
    )
    return execution


def never_switches(aws: EmulatedAws, third_party: ThirdParty) -> None:
    """The usage check at work: reporting's third party takes the new key but keeps calling AWS with
    the old one (IAM records each key's last use), so neither key is deleted: the old one is in use, the new one
    was delivered."""
    held = third_party.latest("reporting")
    held_sts = aws.client(
        "sts", aws_access_key_id=held["AccessKeyId"], aws_secret_access_key=held["SecretAccessKey"]
    )
    # Waits are not slept here: each moves the clock that dates a key's use by its length.
    aws.waits_move_last_use_clock, aws.wait_hook = True, lambda seconds: held_sts.get_caller_identity()
    try:
        rotate(
            aws, third_party, "4/6 next period, reporting's third party keeps calling AWS with its old key"
        )
    finally:
        aws.waits_move_last_use_clock, aws.wait_hook, aws.last_use_clock_offset = False, None, 0.0
    keys = aws.access_keys("reporting")
    new = (
        ",".join(k for k, status in keys.items() if k != held["AccessKeyId"] and status == "Active")
        or "(none)"
    )
    say(
        f"    reporting's old key {held['AccessKeyId']} still active: {keys.get(held['AccessKeyId']) == 'Active'};"
        f" its new key {new} (the handler delivered it) still active: {keys.get(new) == 'Active'}"
    )


def ready_made(aws: EmulatedAws) -> None:
    """A ready-made handler at work: examples/handler-webhook POSTs each key, HMAC-signed, to an endpoint
    (here a loopback fake that checks the signature); no Python of the user's own."""
    webhook = FakeWebhook(token="demo-hmac-key", auth="hmac-sha256")
    try:
        with tempfile.TemporaryDirectory(prefix="rotator-demo-webhook-") as workdir:
            say("6/6 a ready-made handler: examples/handler-webhook, no Python of yours...")
            token = aws.client("secretsmanager").create_secret(
                Name="rotator-webhook/hmac-key", SecretString=webhook.token
            )["ARN"]
            iam = aws.client("iam")
            iam.create_user(UserName="ci-deployer")
            old = iam.create_access_key(UserName="ci-deployer")["AccessKey"]["AccessKeyId"]
            root = TerraformRoot("examples/handler-webhook", Path(workdir), aws.endpoint)
            root.apply({"token_secret_arn": token, "url": webhook.url})
            (arn,) = aws.fire_schedule("rotator-webhook")
            execution = watch(aws, arn)
            received = webhook.latest("ci-deployer") or {}
            say(
                f"    run {execution['status']}: the endpoint received key {received.get('AccessKeyId')} for "
                f"ci-deployer, signed with the HMAC key from Secrets Manager; old key {old} deleted: "
                f"{old not in aws.access_keys('ci-deployer')}"
            )
            root.destroy()
            aws.client("secretsmanager").delete_secret(SecretId=token, ForceDeleteWithoutRecovery=True)
            for key in aws.access_keys("ci-deployer"):
                iam.delete_access_key(UserName="ci-deployer", AccessKeyId=key)
            iam.delete_user(UserName="ci-deployer")
    finally:
        webhook.stop()


def keep(aws: EmulatedAws, state_machine_arn: str) -> None:
    """--keep: the stack stays up until Ctrl-C, for trying the on-demand rotation by hand."""
    say("    the stack stays up (--keep). In another terminal, with the AWS CLI:")
    say(
        f"      export AWS_ENDPOINT_URL={aws.endpoint} AWS_ACCESS_KEY_ID=testing"
        " AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1"
    )
    say(
        f"      aws stepfunctions start-execution --state-machine-arn {state_machine_arn}"
        f' --input \'{{"username": "{USERS[0]}"}}\''
    )
    say(f"      aws iam list-access-keys --user-name {USERS[0]}")
    say("    press Ctrl-C here to go on (destroy, then the ready-made handler).")
    with contextlib.suppress(KeyboardInterrupt):
        signal.pause()
    # Runs started by hand have ended or end now; the demo's own summaries read the keys again.
    for execution in aws.client("stepfunctions").list_executions(
        stateMachineArn=state_machine_arn, statusFilter="RUNNING"
    )["executions"]:
        aws.wait_execution(execution["executionArn"])


def arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="It takes two to six minutes and needs no AWS account; nothing leaves this machine.",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="after step 4, keep the emulated AWS and the stack up until Ctrl-C, to start a rotation by hand",
    )
    parser.add_argument(
        "--progress",
        action="store_true",
        help="show every user's steps even when the output is not a terminal (the default in a terminal)",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    global LIVE
    options = arguments(argv)
    LIVE = LIVE or options.progress
    say(f"1/6 terraform apply of {EXAMPLE} on an emulated AWS (Terraform 1.15.5, hashicorp/aws 5.100.0)")
    progress("starting the emulated AWS (moto) and a fake third party on 127.0.0.1")
    aws = EmulatedAws().start()
    third_party = ThirdParty()
    try:
        with tempfile.TemporaryDirectory(prefix="rotator-demo-") as workdir:
            progress("terraform init: a private copy of the repository, the provider from the lock file")
            root = TerraformRoot(EXAMPLE, Path(workdir), aws.endpoint)
            progress("terraform apply: roles, functions, state machines, schedule, alarms (about a minute)")
            outputs = root.apply({"third_party_url": third_party.url})
            created = len(root.tf.execute_command("state", "list").out.split())
            progress(f"applied: {created} resources")
            say(f"    state machine {outputs['state_machine_arn']}")
            say(
                f"    secrets encrypted with {outputs['kms_key_arn']}; alarms {', '.join(outputs['alarm_names'])}"
            )
            for user in USERS:  # the keys the third party holds today
                aws.client("iam").create_access_key(UserName=user)

            rotate(aws, third_party, "2/6 the schedule fires (rate(12 hours)): every user is rotated")
            history = json.dumps(
                aws.history(
                    aws.client("stepfunctions").list_executions(stateMachineArn=outputs["state_machine_arn"])[
                        "executions"
                    ][0]["executionArn"]
                ),
                default=str,
            )
            leaked = sum(secret in history for secret in aws.issued_secrets)
            say(
                f"    secret access keys in the execution history: {leaked}; secrets left: "
                f"{len(aws.client('secretsmanager').list_secrets()['SecretList'])}"
            )

            third_party.fail_for.add("ci-publisher")
            rotate(aws, third_party, "3/6 next period, the third party refuses ci-publisher's new key")
            third_party.fail_for.clear()
            never_switches(aws, third_party)
            if options.keep:
                keep(aws, outputs["state_machine_arn"])
            say("5/6 terraform destroy...")
            root.destroy()
        ready_made(aws)
    finally:
        third_party.stop()
        aws.stop()
    say(f"done in {time.monotonic() - STARTED:.0f} s.")
    say(
        "Next: deploy examples/basic in an AWS account of yours (its README: terraform apply, then start one"
        " user's rotation); README.md for the handler contract and failure handling; scripts/test runs every"
        " test (about half an hour)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
