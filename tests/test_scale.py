"""At scale, run by hand (about 20 minutes on 2 cores): `scripts/test -m scale`.

One scheduled run of 1,000 users (SCALE_USERS to change it) through the real state machines, with
the permissions scoped by tag (user_tag_key), as a deployment of that size needs. It asserts every
user rotated, every execution far from the history limit, the per-user targets, and least privilege
against the deployed policies."""

import os

import pytest

from scripts.benchmark import measure

N = int(os.environ.get("SCALE_USERS", "1000"))


@pytest.mark.scale
def test_a_thousand_users_are_rotated_with_least_privilege_and_bounded_histories(aws, tmp_path):
    result = measure(aws, N, tmp_path)
    assert "error" not in result, result.get("error")
    assert result["status"] == "SUCCEEDED" and result["rotated"] == N
    # Batches of 100 users: a child execution each, none near 25,000 events.
    assert result["executions"] == 1 + -(-N // 100)
    assert result["history events"] < 2_500
    assert result["state transitions"] <= 5
    assert result["own Lambda invocations"] <= 2.05
    # 8 per user, and the users list read one user per parameter: 101 pages of 10 for the run, and
    # per batch its start and its users 10 at a time (10 x 11 calls).
    assert sum(result["API calls"].values()) <= 8.22
    privilege = result["least privilege"]
    assert privilege["calls checked"] >= 6 * N
    assert privilege["denied"] == [] and privilege["out of scope but allowed"] == []
