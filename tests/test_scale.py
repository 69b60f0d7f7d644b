"""Rotations at scale, at the module's defaults (an hourly schedule, a 5-minute wait, 10 users at a
time), with the permissions scoped by tag (user_tag_key), as a deployment of that size needs.

150 users run in CI (two batches, a full one and a partial one; CPU-bound, so 300 cost CI minutes and proved
nothing more); 1,000 by hand (`scripts/test -m scale`, about 15
minutes; SCALE_USERS to change it). Each asserts every user rotated, one wait on the run's critical
path, a modelled run under 20 minutes, every execution far from the history limit, the per-user
targets, and least privilege against the deployed policies."""

import os

import pytest

from scripts.benchmark import measure


def check(result, n):
    assert "error" not in result, result.get("error")
    assert result["status"] == "SUCCEEDED" and result["rotated"] == n
    # Batches of 100 users: a child execution each, none near 25,000 events.
    assert result["executions"] == 1 + -(-n // 100)
    assert result["history events"] < 2_500
    # The grace period is paid once per run, whatever n.
    assert result["critical waits"] == 1
    assert result["modelled seconds"]["this module"] < 20 * 60
    assert result["state transitions"] <= 3
    assert result["own Lambda invocations"] <= 2.06
    # 17 per user (1 the path check's GetUser, issue 24; 2 the usage check's GetAccessKeyLastUsed, 3 the in-flight tag's two TagUser
    # and UntagUser, 1 the new key's check before retiring the old, issue 22); the users list read one user per
    # parameter (a page of 10 for the run, 10 names a call for each batch); a start and a
    # DescribeStateMachine (LoadUsers: the list Terraform wrote, issue 24) per batch; Report's PutMetricData
    # (the run's failed-user count, issue 29).
    assert sum(result["API calls"].values()) <= 17 + (n // 10 + 1 + -(-n // 10) + 2 * -(-n // 100) + 1) / n
    privilege = result["least privilege"]
    assert privilege["calls checked"] >= 16 * n
    assert privilege["denied"] == [] and privilege["out of scope but allowed"] == []


def test_a_hundred_and_fifty_users_at_the_defaults(aws, tmp_path):
    check(measure(aws, 150, tmp_path), 150)


@pytest.mark.scale
def test_a_thousand_users_at_the_defaults(aws, tmp_path):
    n = int(os.environ.get("SCALE_USERS", "1000"))
    check(measure(aws, n, tmp_path), n)
