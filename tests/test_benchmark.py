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
    # Per rotated user: 4 states, 2 functions and 8 API calls. Shared by all users: the run's
    # ListUsers, Map and Report (3 transitions, 2 functions, and one SSM call per page of 10 users, the
    # last page empty when the one before was full), and per batch of up to 100 users its start,
    # LoadUsers, Map and Report (4 transitions, 2 functions, 2 API calls at 10 users).
    assert result["executions"] == 2
    assert result["state transitions"] == pytest.approx(4 + 7 / n)
    assert result["own Lambda invocations"] == pytest.approx(2 + 4 / n)
    assert sum(result["API calls"].values()) == pytest.approx(8 + (n // 10 + 1 + 2) / n)
    assert result["API calls"]["lambda:Invoke (handler)"] == 1
    assert result["history events"] < 25_000
    assert "| state transitions | 4.70 |" in proc.stdout
    # Every call the functions made is allowed by their deployed policies, and nothing of another
    # rotator's is: neither its users (by tag), nor its secrets, nor its users list.
    privilege = result["least privilege"]
    # Per user its 6 calls (STS GetCallerIdentity needs no permission) and its parameter, which LoadUsers
    # reads; the run's two pages of the users list.
    assert privilege["calls checked"] == 7 * n + 2
    assert privilege["denied"] == [] and privilege["out of scope but allowed"] == []
