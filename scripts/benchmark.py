"""Benchmark: rotations of N users through the real state machine on the emulated AWS.

Per N it deploys tests/fixtures/bench with Terraform, gives each user a key, runs what the schedule
runs, and counts from the execution history and the emulated Lambda runtime: state transitions,
the module's own Lambda invocations, AWS API calls by action, history events; it times the run on
the emulator and `terraform plan`; and it prices 1,000 rotations at list prices. The reference
design's figures are derived from its described behaviour (../shared/reference-design.md).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from harness.aws import EmulatedAws
from harness.iam_policy import least_privilege
from harness.terraform import ROOT, TerraformRoot

# us-east-1 list prices, as published on the AWS pricing pages (read 2026-11-27).
PRICES = {
    "state transition": 0.025 / 1000,  # Step Functions Standard
    "lambda request": 0.20 / 1_000_000,
    "lambda GB-second": 0.0000166667,  # x86
    "secret-month": 0.40,  # Secrets Manager, prorated
    "secrets API call": 0.05 / 10_000,
}
PRICE_NOTE = (
    "Prices: us-east-1 list prices read on 2026-11-27: Step Functions Standard $0.025 per 1,000 state "
    "transitions; Lambda $0.20 per 1M requests and $0.0000166667 per GB-second (x86, 128 MB, 300 ms assumed "
    "per invocation); Secrets Manager $0.40 per secret-month (each secret lives cleanup_wait_duration, "
    "5 minutes) and $0.05 per 10,000 API calls. IAM, STS and SSM Standard parameters cost nothing. Free tiers "
    "ignored."
)
SAFETY_COST = (
    "One grace period per run: every user is handed off first, the run waits once, then every old key is "
    "retired, so a run's critical path holds one wait whatever N (before 2.0: one per max_concurrency users, "
    "100 at N = 1,000). Per rotated user on the happy path: 2 state transitions (RotateKey, HandOff), 2 "
    "invocations of the module's functions and 12 API calls. The calls above the floor of 6 are what the "
    "safety features cost: STS GetCallerIdentity (the key is verified before the hand-off; free), "
    "PutSecretValue (the secret is created first, as the user's lock), a GetSecretValue after verification "
    "(only the key the secret holds is handed off, even beside a live twin) and a GetSecretValue in the "
    "clean-up (the run keeps only usernames in its state, so that it stays under 256 KB at 1,000 users); and "
    "the usage check (issue 12): 2 IAM GetAccessKeyLastUsed calls (free), plus 3 transitions per run. "
    "Shared by the users of a run: its ListUsers, two Maps, Wait and Report; per batch of 100 users its "
    "start, LoadUsers, Map, Summarize and clean-up; the users list read one parameter per user, 10 a call. "
    "Before 2.0, measured on 2026-11-28 at N = 1,000: 4.04 transitions, 2.02 invocations and 8.02 API calls "
    "per user, and 100 waits on the critical path (about 8 hours at the defaults)."
)
LAMBDA_SECONDS, LAMBDA_GB, SECRET_MONTHS = 0.3, 0.125, 5 / (60 * 24 * 30)
# The reference CDK construct, per user: a starter Lambda starts one execution per user; the state
# machine runs RotateCredentials, HandleCredentials, Wait, CleanUp.
REFERENCE = {
    "state transitions": 4,
    "own Lambda invocations": 3,
    "API calls": {
        "stepfunctions:StartExecution": 1,
        "iam:ListAccessKeys": 2,
        "iam:CreateAccessKey": 1,
        "secretsmanager:DeleteSecret": 2,
        "secretsmanager:CreateSecret": 1,
        "lambda:Invoke": 1,  # the handler
        "iam:DeleteAccessKey": 1,
    },
}


def cost_per_1000(transitions: float, invocations: float, calls: dict[str, float], handler: float) -> float:
    secrets_calls = sum(n for action, n in calls.items() if action.startswith("secretsmanager:"))
    per_user = (
        transitions * PRICES["state transition"]
        + (invocations + handler)
        * (PRICES["lambda request"] + LAMBDA_SECONDS * LAMBDA_GB * PRICES["lambda GB-second"])
        + SECRET_MONTHS * PRICES["secret-month"]
        + secrets_calls * PRICES["secrets API call"]
    )
    return 1000 * per_user


def measure(aws: EmulatedAws, n: int, workdir: Path) -> dict:
    name = f"bench{n}"
    usernames = [f"{name}-u{i:04d}" for i in range(n)]
    root = TerraformRoot("tests/fixtures/bench", workdir, aws.endpoint)
    try:
        outputs = root.apply({"name": name, "usernames": usernames})
    except Exception as error:  # noqa: BLE001 - reported as the result for this N
        text = " ".join(str(a) for a in error.args)
        reason = text[text.find("Error:") :][:700] if "Error:" in text else text[-700:]
        reason = " ".join(reason.translate({ord(c): " " for c in "│├─╷╵"}).split())
        first = reason.split(" This was checked")[0].split(" Error: ")[0]  # Terraform says it twice
        return {"n": n, "error": first}
    started = time.monotonic()
    root.tf.plan()
    plan_seconds = time.monotonic() - started

    iam = aws.client("iam")
    for user in usernames:
        iam.create_access_key(UserName=user)
    first = len(aws.invocations)
    started = time.monotonic()
    (execution,) = aws.run_schedule(name, timeout=60 + 3 * n)
    run_seconds = time.monotonic() - started
    histories = aws.histories(execution["executionArn"])
    history = [event for events in histories.values() for event in events]
    invocations = [i for i in aws.invocations[first:] if i.function_name.startswith(f"{name}-")]
    own = [i for i in invocations if not i.function_name.endswith("-handler")]
    handler = len(invocations) - len(own)
    # HandOff's lambda:Invoke is the handler's invocation.
    calls = Counter(call for i in own for call in i.api_calls)
    calls["stepfunctions:StartExecution"] = len(histories) - 1  # the run starts a child per batch
    rotated = sum(
        1 for user in usernames if len(iam.list_access_keys(UserName=user)["AccessKeyMetadata"]) == 1
    )
    transitions = sum(1 for e in history if e["type"].endswith("StateEntered"))
    # Waits on the critical path: the run's own (a batch never waits).
    waits = [e for e in history if e["type"] == "WaitStateEntered"]
    return {
        "n": n,
        "status": execution["status"],
        "rotated": rotated,
        "state transitions": transitions / n,
        "own Lambda invocations": len(own) / n,
        "API calls": {action: count / n for action, count in sorted(calls.items())},
        "executions": len(histories),
        "history events": max(len(events) for events in histories.values()),
        "least privilege": least_privilege(aws, name, own),
        "run seconds": run_seconds,
        "critical waits": len(waits),
        "modelled seconds": model(n, run_seconds, len(waits), own),
        "plan seconds": plan_seconds,
        "cost": cost_per_1000(
            transitions / n, len(own) / n, {a: c / n for a, c in calls.items()}, handler / n
        ),
        "outputs": outputs,
    }


# The defaults the benchmark's stack deploys with (tests/fixtures/bench): what the model assumes.
CLEANUP_WAIT, MAX_CONCURRENCY = 300, 10


def model(n: int, run_seconds: float, waits: int, own: list) -> dict[str, float]:
    """A run's length on AWS: the configured waits on its critical path plus the work measured here
    (the run's wall time on the emulator, where waits are not slept, and Lambda functions start as
    local processes). The same work, with the waits of one user after another in slots of
    max_concurrency, is the design before 2.0; the reference runs every user at once, one user's
    work (its functions' durations here) and one wait."""
    per_user = {"rotate", "handoff", "cleanup"}
    work = [i.ended - i.started for i in own if i.function_name.rsplit("-", 1)[-1] in per_user]
    one_user = 3 * sum(work) / max(len(work), 1)
    return {
        "this module": run_seconds + waits * CLEANUP_WAIT,
        "before 2.0": run_seconds + -(-n // MAX_CONCURRENCY) * CLEANUP_WAIT,
        "reference": one_user + CLEANUP_WAIT,
    }


def render(results: list[dict]) -> str:
    reference_calls = sum(REFERENCE["API calls"].values())
    reference_cost = cost_per_1000(
        REFERENCE["state transitions"],
        REFERENCE["own Lambda invocations"],
        REFERENCE["API calls"],
        1,
    )
    lines = []
    for r in results:
        lines.append(f"### N = {r['n']} users")
        lines.append("")
        if "error" in r:
            lines += [f"Not deployable: {r['error']}", ""]
            continue
        calls = r["API calls"]
        lines += [
            f"Run {r['status']}, {r['rotated']} of {r['n']} users rotated.",
            "",
            "| per rotated user | this module | reference design (derived) |",
            "|---|---|---|",
            f"| state transitions | {r['state transitions']:.2f} | {REFERENCE['state transitions']} (+1 execution start) |",
            f"| own Lambda invocations (handler excluded) | {r['own Lambda invocations']:.2f} | {REFERENCE['own Lambda invocations']} |",
            f"| AWS API calls | {sum(calls.values()):.2f} | {reference_calls} |",
        ]
        for action in sorted(set(calls) | set(REFERENCE["API calls"])):
            lines.append(
                f"| &nbsp;&nbsp;{action} | {calls.get(action, 0):.3f} | {REFERENCE['API calls'].get(action, 0)} |"
            )
        lines += [
            f"| USD per 1,000 rotations (list prices) | {r['cost']:.4f} | {reference_cost:.4f} |",
            "",
            f"- Cleanup waits on the run's critical path: {r['critical waits']} (before 2.0: "
            f"{-(-r['n'] // MAX_CONCURRENCY)}, one per {MAX_CONCURRENCY} users; the reference: 1).",
            "- Modelled run length on AWS at the defaults (5-minute wait, 10 users at a time): "
            + ", ".join(f"{k} {v / 60:.1f} min" for k, v in r["modelled seconds"].items())
            + " (waits configured plus the work measured here).",
            f"- History events of the largest execution: {r['history events']} (Standard limit 25,000), "
            f"over {r['executions']} executions (the run and a child per batch of users).",
            f"- Least privilege: {r['least privilege']['calls checked']} API calls checked against the deployed "
            f"policies, {len(r['least privilege']['denied'])} denied; the same actions on another rotator's users, "
            f"secrets and list: {len(r['least privilege']['out of scope but allowed'])} allowed.",
            f"- Wall time of the run on the emulator (measured here, waits skipped): {r['run seconds']:.1f} s.",
            f"- Wall time of `terraform plan` with {r['n']} users (measured here, emulated AWS): {r['plan seconds']:.1f} s.",
            "",
        ]
    lines.append(PRICE_NOTE)
    return "\n".join(lines)


def header(command: str) -> str:
    return (
        "# Benchmarks\n\nProduced by `" + command + "` on a 2-core machine, on the emulated AWS "
        "(moto; Lambda functions run as local subprocesses; Wait states not slept). Counts are exact; "
        "times are this machine's, not AWS's.\n\n" + SAFETY_COST + "\n\n"
    )


def main(argv: list[str]) -> int:
    write = "--write" in argv
    sizes = [int(a) for a in argv if a.isdigit()] or [10, 100, 1000]
    aws = EmulatedAws().start()
    results = []
    try:
        for n in sizes:
            with tempfile.TemporaryDirectory(prefix=f"bench-{n}-") as workdir:
                print(f"N={n}: deploying and rotating...", file=sys.stderr, flush=True)
                results.append(measure(aws, n, Path(workdir)))
    finally:
        aws.stop()
    report = render(results)
    print(report)
    if write:
        command = "scripts/benchmark " + " ".join(str(n) for n in sizes)
        (ROOT / "docs" / "benchmarks.md").write_text(header(command) + report + "\n")
    print(json.dumps([{k: v for k, v in r.items() if k != "outputs"} for r in results]), file=sys.stderr)
    return 0 if all("error" not in r and r["status"] == "SUCCEEDED" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
