"""Benchmark: rotations of N users through the real state machine on the emulated AWS.

Per N it deploys tests/fixtures/bench with Terraform, gives each user a key, runs what the schedule
runs, and counts from the execution history and the emulated Lambda runtime: state transitions,
the module's own Lambda invocations, AWS API calls by action, history events; it times the run on
the emulator and `terraform plan`; and it prices 1,000 rotations at list prices. The reference
design's figures are derived from its described behaviour (../shared/reference-design.md).
With --members it measures instead the cross-account hop: the same usernames in the rotator's account
and in a member account (tests/fixtures/bench_members), API calls per user of each.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from harness.aws import EmulatedAws
from harness.iam_policy import least_privilege
from harness.terraform import ROOT, TerraformRoot, provider_override

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
    "invocations of the module's functions and 17 API calls. The calls above the floor of 6 are what the "
    "safety features cost: IAM GetUser (the user's declared path is checked before anything is created, "
    "issue 24; free), STS GetCallerIdentity (the key is verified before the hand-off; free), "
    "PutSecretValue (the secret is created first, as the user's lock), a GetSecretValue after verification "
    "(only the key the secret holds is handed off, even beside a live twin) and a GetSecretValue in the "
    "clean-up (the run keeps only usernames in its state, so that it stays under 256 KB at 1,000 users); and "
    "the usage check (issue 12): 2 IAM GetAccessKeyLastUsed calls (free), plus 3 transitions per run; and "
    "the in-flight tag (issue 15): IAM TagUser and UntagUser (free), so that a rotation under way ends even "
    "if `users` stops listing its user; and delivered means kept (issue 22): a second TagUser after the "
    "lock (the tag again, with the new key's mark of origin) and a ListAccessKeys that checks the new key "
    "is still Active before the old one is retired (free). "
    "Shared by the users of a run: its ListUsers, two Maps, Wait and Report; per batch of 100 users its "
    "start, LoadUsers, Map, Summarize and clean-up; the users list read one parameter per user, 10 a call. "
    "Before 2.0, measured on 2026-11-28 at N = 1,000: 4.04 transitions, 2.02 invocations and 8.02 API calls "
    "per user, and 100 waits on the critical path (about 8 hours at the defaults)."
)
LAMBDA_SECONDS, LAMBDA_GB, SECRET_MONTHS = 0.3, 0.125, 5 / (60 * 24 * 30)
# The reference CDK construct, per user: a starter Lambda starts one execution per user; the state
# machine runs RotateCredentials, HandleCredentials, Wait, CleanUp.
REFERENCE: dict[str, Any] = {
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
        message = reason.split(" This was checked")[0].split(" Error: ")[0]  # Terraform says it twice
        return {"n": n, "error": message}
    started = time.monotonic()
    root.tf.plan()
    plan_seconds = time.monotonic() - started

    iam = aws.client("iam")
    for user in usernames:
        iam.create_access_key(UserName=user)
    first, first_wait = len(aws.invocations), len(aws.waits)
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
    waited = aws.waits[first_wait:]
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
        "modelled seconds": model(name, n, invocations, waited, transitions),
        "plan seconds": plan_seconds,
        "cost": cost_per_1000(
            transitions / n, len(own) / n, {a: c / n for a, c in calls.items()}, handler / n
        ),
        "outputs": outputs,
    }


# The defaults the benchmark's stack deploys with (tests/fixtures/bench): what the model assumes.
CLEANUP_WAIT, MAX_CONCURRENCY, LAMBDA_MEMORY_MB = 300, 10, 128
# The model's assumptions about AWS, none of them measured here (see model() and MODEL_NOTE).
# s per AWS API call a function makes, in place of the emulator's loopback time: IAM answers in 50-200 ms.
API_LATENCY = 0.1
TRANSITION = 0.05  # s per state transition: Step Functions Standard's scheduling overhead
INVOKE = 0.1  # s per Lambda invocation, warm (a Task state's, or HandOff's of the handler)
COLD_START = 1.0  # s per Lambda instance, once per run: its init (Python runtime, imports of boto3)
CHILD_START = 1.0  # s per batch: starting a child execution and .sync:2 noticing its end
# Lambda gives a function CPU in proportion to its memory, one vCPU at 1,769 MB (AWS Lambda developer
# guide, "Configuring Lambda function memory"); a CPU second measured here is taken as a vCPU second.
CPU_SCALE = 1769 / LAMBDA_MEMORY_MB
MODEL_NOTE = (
    "The modelled run length is a critical-path model, not this machine's wall time: measured here are "
    "each invocation's handler CPU time (imports excluded; boto3 clients counted as created warm, their "
    f"first creation in the instance's cold start), scaled by {CPU_SCALE:.1f} for Lambda's CPU share at "
    f"{LAMBDA_MEMORY_MB} MB (one vCPU at 1,769 MB), and the API calls it made, counted. Assumed, not "
    f"measured: {API_LATENCY * 1000:.0f} ms per API call (in place of the emulator's loopback time; IAM "
    f"answers in 50-200 ms), {INVOKE * 1000:.0f} ms per Lambda invocation, {COLD_START:.0f} s per Lambda "
    f"instance's init once a run, {TRANSITION * 1000:.0f} ms per state transition, {CHILD_START:.0f} s per "
    "child execution, and the configured waits in full. A batch's users run in max_concurrency slots "
    "(RotateKey, then HandOff with the handler it invokes), while batches, clean-ups (max_concurrency "
    "threads sharing one function's CPU) and every other state run one after another, as the state "
    "machines do; before 2.0 and the reference use the same per-user durations, before 2.0 with each user "
    "holding its slot through its own wait and clean-up, the reference with its starter's StartExecution "
    "per user, one after another, then every user at once (IAM's rate limits ignored, in its favour)."
)


def _suffix(invocation, name: str) -> str:
    return invocation.function_name[len(name) + 1 :]


def _cleaned(invocation) -> int:
    """How many users a clean-up invocation took care of (its threads share them)."""
    summary = invocation.event.get("batch", {}).get("summary", {})
    return len(summary.get("handedOff", [])) + len(summary.get("uncertain", []))


def lambda_seconds(invocation, parallelism: int = 1, nested: float = 0.0) -> float:
    """One invocation's modelled duration on AWS, warm: the invoke; the CPU time it used here (its boto3
    clients created warm) scaled to Lambda's CPU share; its API calls at API_LATENCY each (over
    `parallelism` threads, which share the CPU); plus `nested`, the modelled duration of a function it
    invoked synchronously."""
    calls = sum(1 for call in invocation.api_calls if call != "lambda:Invoke")
    cpu = invocation.cpu_seconds - invocation.client_cpu_seconds + invocation.warm_client_cpu_seconds
    return INVOKE + CPU_SCALE * max(0.0, cpu) + API_LATENCY * calls / parallelism + nested


def cold_seconds(invocation) -> float:
    """What an instance's first invocation pays on top: the init (assumed) and its boto3 clients' first
    creation (measured CPU time, scaled)."""
    return COLD_START + CPU_SCALE * max(
        0.0, invocation.client_cpu_seconds - invocation.warm_client_cpu_seconds
    )


def slots(tasks: list[tuple[float, float]], width: int) -> float:
    """How long `width` slots take to run these (seconds warm, seconds more when cold) tasks, each taking
    the first free slot in order, as a Map with MaxConcurrency does; a slot's first task runs cold."""
    free = [0.0] * min(width, len(tasks))
    for i, (warm, cold) in enumerate(tasks):
        slot = free.index(min(free))
        free[slot] += warm + (cold if i < len(free) else 0.0)
    return max(free, default=0.0)


def model(name: str, n: int, invocations: list, waits: list[int], transitions: int) -> dict[str, float]:
    """A run's length on AWS at the defaults, along its critical path, from the durations measured here
    and the workflow's shape (statemachine/*.asl.json), with MODEL_NOTE's assumptions.

    This module: ListUsers; then each batch after the other (HandOffEachBatch's MaxConcurrency is 1): a
    child execution's start, LoadUsers, the batch's users in max_concurrency slots (each RotateKey +
    HandOff + their 2 transitions; a slot's first user pays the cold starts of RotateKey, HandOff and
    the handler), Summarize; then the configured waits; then each batch's clean-up after the other
    (CleanUpEachBatch's MaxConcurrency is 1; max_concurrency threads inside); then Report. Every other
    state transition is counted once, on the critical path. Before 2.0: every user's RotateKey, HandOff,
    Wait and its share of the clean-up in max_concurrency slots. The reference: its starter's StartExecution
    per user, then the slowest user's RotateKey, handler, Wait and clean-up, every user at once."""
    by_kind: dict[str, list] = {}
    for i in invocations:
        by_kind.setdefault(_suffix(i, name), []).append(i)
    handler_of: dict[str, list] = {}
    for i in by_kind.get("handler", []):
        handler_of.setdefault(i.event.get("username"), []).append(i)

    user_seconds: dict[str, float] = {}
    user_cold: dict[str, float] = {}
    for i in by_kind.get("rotate", []):
        user = i.event["user"]["username"]
        user_seconds[user] = user_seconds.get(user, 0.0) + lambda_seconds(i) + TRANSITION
        user_cold.setdefault(user, 0.0)
        user_cold[user] = max(user_cold[user], cold_seconds(i))
    for i in by_kind.get("handoff", []):
        user = i.event["user"]["username"]
        nested = cold = 0.0
        for call in i.api_calls:
            if call == "lambda:Invoke":
                handled = handler_of.get(user, [])
                nested += API_LATENCY + (lambda_seconds(handled[0]) if handled else 0.0)
                cold += cold_seconds(handled.pop(0)) if handled else 0.0
        user_seconds[user] = user_seconds.get(user, 0.0) + lambda_seconds(i, nested=nested) + TRANSITION
        user_cold[user] = user_cold.get(user, 0.0) + cold_seconds(i) + cold
    per_user = [(seconds, user_cold.get(user, 0.0)) for user, seconds in user_seconds.items()]

    listing = [i for i in by_kind.get("list-users", []) if "parameters" not in i.event]
    loads = [i for i in by_kind.get("list-users", []) if "parameters" in i.event]
    summaries = [i for i in by_kind.get("report", []) if "results" in i.event]
    reports = [i for i in by_kind.get("report", []) if "results" not in i.event]
    cleanups = [(i, max(1, min(MAX_CONCURRENCY, _cleaned(i)))) for i in by_kind.get("cleanup", [])]
    # The first batch's slots start RotateKey's, HandOff's and the handler's instances; later batches,
    # seconds apart, find them warm.
    batches = sum(
        CHILD_START
        + lambda_seconds(load)
        + slots(
            [
                (user_seconds.get(u, 0.0), user_cold.get(u, 0.0) if index == 0 else 0.0)
                for u in load.event["usernames"]
            ],
            MAX_CONCURRENCY,
        )
        for index, load in enumerate(loads)
    ) + sum(lambda_seconds(s) for s in summaries)
    cleanup = sum(lambda_seconds(i, threads) for i, threads in cleanups)
    # ListUsers, the first Summarize and the first clean-up start their functions' instances.
    firsts = [kind[0] for kind in (listing, summaries or reports, [i for i, _ in cleanups]) if kind]
    shared = (
        sum(lambda_seconds(i) for i in listing + reports)
        + (transitions - 2 * len(per_user)) * TRANSITION
        + sum(cold_seconds(i) for i in firsts)
    )
    this_module = shared + batches + sum(waits) + cleanup

    # A user's share of the threaded clean-ups' work, had it an invocation of its own as before 2.0.
    cleanup_work = sum((lambda_seconds(i, threads) - INVOKE) * threads for i, threads in cleanups)
    cleanup_per_user = INVOKE + cleanup_work / max(1, len(per_user))
    before = slots(
        [(s + CLEANUP_WAIT + 2 * TRANSITION + cleanup_per_user, cold) for s, cold in per_user],
        MAX_CONCURRENCY,
    )
    # The reference: its starter (cold) starts an execution per user, then every user at once, cold.
    slowest = max((s + cold for s, cold in per_user), default=0.0)
    reference = (
        COLD_START
        + INVOKE
        + n * API_LATENCY
        + slowest
        + CLEANUP_WAIT
        + 2 * TRANSITION
        + cleanup_per_user
        + COLD_START
    )
    return {
        "this module": this_module,
        "before 2.0": shared + before,
        "reference": reference,
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
            + " (a critical-path model: the durations measured here, AWS's latencies assumed; see above).",
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


MEMBER_ACCOUNT = "555555555555"
MEMBERS_START, MEMBERS_END = "<!-- members -->", "<!-- /members -->"


def measure_members(aws: EmulatedAws, n: int, workdir: Path) -> dict:
    """The cross-account hop's cost: the same n usernames in the rotator's account and in a member
    account (tests/fixtures/bench_members), rotated in one run; API calls per user of each account."""
    name = f"benchm{n}"
    usernames = [f"{name}-u{i:03d}" for i in range(n)]
    root = TerraformRoot("tests/fixtures/bench_members", workdir, aws.endpoint)
    (root.dir / "member_override.tf").write_text(provider_override(aws.endpoint, alias="member"))
    root.apply({"name": name, "usernames": usernames, "member_account_id": MEMBER_ACCOUNT})
    member_iam = aws.admin_client("iam", f"arn:aws:iam::{MEMBER_ACCOUNT}:role/admin")
    for iam in (aws.client("iam"), member_iam):
        for user in usernames:
            iam.create_access_key(UserName=user)
    first = len(aws.invocations)
    (execution,) = aws.run_schedule(name, timeout=120 + 6 * n)
    own = [
        i
        for i in aws.invocations[first:]
        if i.function_name.startswith(f"{name}-") and not i.function_name.endswith("-handler")
    ]
    calls: dict[str, Counter] = {"own": Counter(), "member": Counter()}
    for i in own:
        state = i.event.get("user") if isinstance(i.event, dict) else None
        if isinstance(state, dict):  # a user's own state: RotateKey, HandOff, RollBack
            calls["member" if state.get("accountId") else "own"].update(i.api_calls)
    cleanups = [i for i in own if i.function_name.endswith("-cleanup")]
    return {
        "n": n,
        "status": execution["status"],
        "per user": {account: {k: v / n for k, v in sorted(c.items())} for account, c in calls.items()},
        "clean-up AssumeRole per batch": sum(i.api_calls.count("sts:AssumeRole") for i in cleanups)
        / max(len(cleanups), 1),
    }


def render_members(result: dict) -> str:
    own, member = result["per user"]["own"], result["per user"]["member"]
    extra = {k: member.get(k, 0) - own.get(k, 0) for k in sorted(set(own) | set(member))}
    extra = {k: v for k, v in extra.items() if v}
    return (
        f"{MEMBERS_START}\n## Users in a member account\n\n"
        f"Produced by `scripts/benchmark --members {result['n']}`: {result['n']} usernames in the rotator's "
        f"account and the same in a member account (modules/member-account, by tag), one run "
        f"({result['status']}). A user's own states (RotateKey, HandOff) make {sum(own.values()):.2f} API "
        f"calls per user of the rotator's account and {sum(member.values()):.2f} per member user: "
        + ", ".join(f"{v:+.2f} {k}" for k, v in extra.items())
        + f" per user (RotateKey assumes the member role once per invocation: AssumeRole is free). Each "
        f"batch's clean-up assumes it {result['clean-up AssumeRole per batch']:.2f} times (once per "
        f"member account).\n{MEMBERS_END}"
    )


def members_section(text: str) -> str:
    """The cross-account section of docs/benchmarks.md as it stands ("" when there is none)."""
    if MEMBERS_START not in text:
        return ""
    return text[text.index(MEMBERS_START) : text.index(MEMBERS_END) + len(MEMBERS_END)]


def header(command: str) -> str:
    return (
        "# Benchmarks\n\nProduced by `" + command + "` on a 2-core machine, on the emulated AWS "
        "(moto; Lambda functions run as local subprocesses; Wait states not slept). Counts are exact; "
        "times are this machine's, not AWS's.\n\n" + SAFETY_COST + "\n\n" + MODEL_NOTE + "\n\n"
    )


def main(argv: list[str]) -> int:
    write = "--write" in argv
    docs = ROOT / "docs" / "benchmarks.md"
    if "--members" in argv:
        n = next((int(a) for a in argv if a.isdigit()), 10)
        aws = EmulatedAws().start()
        try:
            with tempfile.TemporaryDirectory(prefix="bench-members-") as workdir:
                result = measure_members(aws, n, Path(workdir))
        finally:
            aws.stop()
        section = render_members(result)
        print(section)
        if write:
            text = docs.read_text()
            text = text.replace(members_section(text), "")
            docs.write_text(text.rstrip("\n") + "\n\n" + section + "\n")
        print(json.dumps(result), file=sys.stderr)
        return 0 if result["status"] == "SUCCEEDED" else 1
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
        # The cross-account section is measured apart (--members): keep it.
        kept = members_section(docs.read_text() if docs.exists() else "")
        docs.write_text(header(command) + report + "\n" + ("\n" + kept + "\n" if kept else ""))
    print(json.dumps([{k: v for k, v in r.items() if k != "outputs"} for r in results]), file=sys.stderr)
    return 0 if all("error" not in r and r["status"] == "SUCCEEDED" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
