"""The benchmark command runs (at N=10, as CI does) and the happy path meets its per-user targets."""

import json
import subprocess
import sys

import pytest

from harness.terraform import ROOT


def test_benchmark_at_ten_users_meets_the_per_user_targets():
    proc = subprocess.run(
        [sys.executable, "-m", "scripts.benchmark", "10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (result,) = json.loads(proc.stderr.strip().splitlines()[-1])
    n = result["n"]
    assert result["status"] == "SUCCEEDED" and result["rotated"] == n
    # Per rotated user: 2 states (RotateKey, HandOff), 2 functions and 17 API calls, 1 of them the
    # GetUser that checks the user's declared path (issue 24), 2 of them the usage
    # check's GetAccessKeyLastUsed, 3 the in-flight tag's TagUser (twice: before the lock, and again
    # after it with the new key's mark of origin) and UntagUser, and 1 the ListAccessKeys that checks the
    # new key is still Active before the old one is retired (issue 22) (the wait is the run's, once; the
    # clean-up is per batch). Shared by all
    # users: the run's ListUsers, two Maps, the batch's start, the Wait, the usage check's start, count
    # and choice, the batch's clean-up and Report (10 transitions, 3 functions), and per
    # batch of up to 100 users its LoadUsers, Map and Summarize (3 transitions, 2 functions); the
    # users list read one SSM call per page of 10 users (the last page empty when the one before was
    # full), and 10 users per GetParameters call; one StartExecution per batch; and per batch LoadUsers'
    # DescribeStateMachine, the list Terraform wrote (issue 24; ListUsers has it in its parameters);
    # Report's PutMetricData (the run's failed-user count, issue 29).
    assert result["executions"] == 2
    assert result["critical waits"] == 1
    assert result["state transitions"] == pytest.approx(2 + 13 / n)
    assert result["own Lambda invocations"] == pytest.approx(2 + 5 / n)
    assert sum(result["API calls"].values()) == pytest.approx(
        17 + (n // 10 + 1 + -(-n // 10) + 1 + 1 + 1) / n
    )
    assert result["API calls"]["iam:GetUser"] == 1  # the user's path (issue 24)
    assert result["API calls"]["stepfunctions:DescribeStateMachine"] == pytest.approx(1 / n)
    assert result["API calls"]["iam:GetAccessKeyLastUsed"] == 2  # the usage check's cost
    assert result["API calls"]["lambda:Invoke"] == 1  # HandOff invoking the handler
    assert result["API calls"]["iam:TagUser"] == 2 and result["API calls"]["iam:UntagUser"] == 1  # 15, 22
    assert result["API calls"]["iam:ListAccessKeys"] == 2  # RotateKey's, and the clean-up's (issue 22)
    assert result["history events"] < 25_000
    assert "| state transitions | 3.30 |" in proc.stdout
    # Every call the functions made is allowed by their deployed policies, and nothing of another
    # rotator's is: neither its users (by tag), nor its secrets, nor its users list.
    privilege = result["least privilege"]
    # Per user its 16 calls (STS GetCallerIdentity needs no permission) and its parameter, which
    # LoadUsers reads; the run's two pages of the users list; LoadUsers' DescribeStateMachine; Report's
    # PutMetricData.
    assert privilege["calls checked"] == 17 * n + 2 + 1 + 1
    assert privilege["denied"] == [] and privilege["out of scope but allowed"] == []


def test_a_member_accounts_users_cost_one_assume_role_more_each():
    """Issue 11: the cross-account hop, measured by the benchmark command (`--members`)."""
    proc = subprocess.run(
        [sys.executable, "-m", "scripts.benchmark", "--members", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stderr.strip().splitlines()[-1])
    own, member = result["per user"]["own"], result["per user"]["member"]
    assert {k: member.get(k, 0) - own.get(k, 0) for k in set(own) | set(member)} == {
        **dict.fromkeys(own, 0),
        "sts:AssumeRole": 1,
    }
    assert result["clean-up AssumeRole per batch"] == 1
    assert "+1.00 sts:AssumeRole per user" in proc.stdout
