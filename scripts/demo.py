"""The README's first command: deploy examples/basic on the emulated AWS and rotate its users."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from tests.harness.aws import EmulatedAws
from tests.harness.terraform import TerraformRoot
from tests.harness.third_party import ThirdParty

USERS = ["homer", "marge", "ned"]


def say(message: str) -> None:
    print(message, flush=True)


def keys(aws: EmulatedAws, user: str) -> list[str]:
    return [k["AccessKeyId"] for k in aws.client("iam").list_access_keys(UserName=user)["AccessKeyMetadata"]]


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def rotation_report(aws: EmulatedAws, third_party: ThirdParty, before: dict, execution: dict) -> str:
    rows = [["user", "key before", "key after", "handed to third party", "result"]]
    for user in USERS:
        after = keys(aws, user)
        delivered = [d["AccessKeyId"] for d in third_party.deliveries if d["username"] == user]
        changed = after != before[user]
        rows.append(
            [
                user,
                ",".join(before[user]) or "(none)",
                ",".join(after) or "(none)",
                delivered[-1] if changed and delivered else "-",
                "rotated" if changed else "untouched",
            ]
        )
    return f"execution {execution['status']}\n" + table(rows)


def main() -> int:
    started = time.monotonic()
    aws = EmulatedAws().start()
    third_party = ThirdParty()
    try:
        with tempfile.TemporaryDirectory(prefix="rotator-demo-") as workdir:
            say("1/4 terraform init + apply of examples/basic on the emulated AWS (hashicorp/aws 3.39.0)...")
            root = TerraformRoot("examples/basic", Path(workdir), aws.endpoint)
            outputs = root.apply({"lambda_runtime": "python3.8", "third_party_url": third_party.url})
            say(f"    state machine: {outputs['state_machine_arn']}")
            say(f"    users list:    SSM parameter {outputs['users_parameter_name']}")

            iam = aws.client("iam")
            for user in ["homer", "marge"]:
                iam.create_access_key(UserName=user)
            before = {user: keys(aws, user) for user in USERS}
            say(
                "2/4 the schedule fires (EventBridge rule 'rotator-basic', rate(1 hour)): rotating every user..."
            )
            (execution,) = aws.run_schedule("rotator-basic")
            say(rotation_report(aws, third_party, before, execution))
            say(
                f"    each user waited {sorted(set(aws.waits))} s (cleanup_wait_duration) before its old key was deleted;"
            )
            say("    the demo skips the waiting, the module does not.")
            history = json.dumps(aws.history(execution["executionArn"]), default=str)
            leaked = [d for d in third_party.deliveries if d["SecretAccessKey"] in history]
            say(f"    secret access keys found in the execution history: {len(leaked)}")
            secrets = aws.client("secretsmanager").list_secrets()["SecretList"]
            say(f"    secrets left in Secrets Manager: {len(secrets)}")

            before = {user: keys(aws, user) for user in USERS}
            say("3/4 on-demand rotation of one user:")
            command = f"aws stepfunctions start-execution --state-machine-arn {outputs['state_machine_arn']} --input '{{\"username\": \"marge\"}}'"
            say(f"    $ {command}")
            execution = aws.run_execution(outputs["state_machine_arn"], {"username": "marge"})
            say(rotation_report(aws, third_party, before, execution))

            say("4/4 terraform destroy...")
            root.destroy()
    finally:
        third_party.stop()
        aws.stop()
    say(
        f"done in {time.monotonic() - started:.0f} s. Next: README.md (usage, handler contract), examples/basic, scripts/test."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
