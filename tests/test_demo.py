"""The README's first command works: the demo deploys, rotates, rolls back one user, keeps both keys of a
third party still on its old key, pauses for a rotation started by hand (--keep), and cleans up."""

import json
import re
import signal
import subprocess
import sys
import threading
import time

import boto3

from harness.terraform import ROOT


def start_by_hand(lines: list[str]) -> dict:
    """What a user does at the --keep pause: the printed on-demand command, through boto3."""
    text = "\n".join(lines)
    endpoint = re.search(r"AWS_ENDPOINT_URL=(\S+)", text).group(1)
    arn = re.search(r"start-execution --state-machine-arn (\S+) --input '(.*)'", text)
    sfn = boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    started = sfn.start_execution(stateMachineArn=arn.group(1), input=arn.group(2))["executionArn"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=started)
        if described["status"] != "RUNNING":
            return described
        time.sleep(1)
    raise AssertionError(f"the execution started by hand did not end: {started}")


def test_demo_rotates_then_rolls_back_a_refused_hand_off():
    # --progress: every user's step as when run in a terminal (piped, the demo prints summaries only).
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.demo", "--progress", "--keep"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    paused = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if "press Ctrl-C here to go on" in line:
                paused.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        # A bound, not a target: the demo takes two to six minutes alone, more beside other test files.
        assert paused.wait(900), "\n".join(lines)
        by_hand = start_by_hand(lines)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(600) == 0, "\n".join(lines)
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(10)
    out = "\n".join(lines)
    assert by_hand["status"] == "SUCCEEDED", by_hand
    assert json.loads(by_hand["output"])["rotated"] == ["ci-deployer"], by_hand["output"]

    assert "    run SUCCEEDED" in out and "    run FAILED" in out
    assert out.count("  rotated  ") >= 3
    assert "ci-publisher  " in out and "rolled back, old key kept" in out
    assert "secret access keys in the execution history: 0; secrets left: 0" in out
    assert "1 of 3 users not rotated: ci-publisher (HTTPError: HTTP Error 500" in out
    assert "terraform destroy" in out and "done in" in out
    # A third party that keeps using its old key: the new key was delivered, so the usage check keeps both
    # (issue 22: it used to delete the new key) and fails the user, naming what to check.
    assert "4/6 next period, reporting's third party keeps calling AWS with its old key" in out
    assert "reporting (NeverSwitched: " in out and "still on the old key: both kept." in out
    assert "old key still in use: both kept" in out
    assert re.search(
        r"old key AKIA\w+ still active: True; its new key AKIA\w+ \(.*\) still active: True", out
    )
    # A ready-made handler at work: the webhook received the new key, signed; the old key is gone.
    assert "6/6 a ready-made handler: examples/handler-webhook" in out
    assert "run SUCCEEDED: the endpoint received key AKIA" in out and "old key AKIA" in out
    assert "deleted: True" in out

    # Set-up says what it is doing, with the time; each step, what happened and where to see it on AWS.
    assert re.search(r"\[\s*\d+\.\d s\] terraform apply: ", out)
    assert re.search(r"\[\s*\d+\.\d s\] applied: \d\d+ resources", out)
    for user in ["ci-deployer", "ci-publisher", "reporting"]:
        assert re.search(rf"    {user} +new key AKIA\w+ created \(id only", out), user
        assert re.search(rf"    {user} +handed off to the third party", out), user
    assert "ci-publisher  hand-off FAILED: " in out
    assert re.search(r"the third party received \(key ids shown.*\): ci-deployer AKIA\w+", out)
    assert out.count("on AWS: aws stepfunctions describe-execution --execution-arn arn:aws:states:") == 3
    assert "on AWS: aws iam list-access-keys --user-name ci-deployer" in out
    # Waits are labelled for what they are: the grace period once per run, usage re-checks told once.
    assert out.count("grace period: both keys valid for 600 s") >= 3
    assert re.search(r"usage re-check: the old key was used recently; looking again every \d+ s", out)
    assert out.count("usage re-check: ") <= 1
    assert "Next: deploy examples/basic in an AWS account of yours" in out
