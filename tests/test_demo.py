"""The README's first command works: the demo deploys, rotates, rolls back one user, and cleans up."""

import re
import subprocess
import sys

from harness.terraform import ROOT


def test_demo_rotates_then_rolls_back_a_refused_hand_off():
    # A bound, not a target: the demo takes two to three minutes alone, more beside other test files.
    proc = subprocess.run(
        [sys.executable, "-m", "scripts.demo"], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
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
    # Not a terminal: no step-by-step progress.
    assert "created (id only" not in out
