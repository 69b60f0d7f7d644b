import json

import pytest

from rotator import report
from rotator.common import RotationFailedError


def test_names_every_failed_user_and_why(context):
    results = [
        {"username": "homer", "status": "ROTATED"},
        {
            "username": "marge",
            "status": "FAILED",
            "error": "RuntimeError",
            "cause": '{"errorMessage": "HTTP 500"}',
        },
        {"username": "bart", "status": "FAILED", "error": "NoSuchEntityException", "cause": "no user bart"},
    ]
    with pytest.raises(RotationFailedError) as failure:
        report.handler({"results": results}, context)
    assert str(failure.value) == (
        "2 of 3 users not rotated: marge (RuntimeError: HTTP 500); bart (NoSuchEntityException: no user bart)"
    )


def test_skipped_users_do_not_fail_the_run(context):
    results = [
        {"username": "homer", "status": "ROTATED"},
        {
            "username": "ned",
            "status": "SKIPPED",
            "error": "RotationInProgressError",
            "cause": '{"errorMessage": "busy"}',
        },
    ]
    assert report.handler({"results": results}, context) == {
        "users": 2,
        "rotated": ["homer"],
        "skipped": ["ned"],
        "details": {"ned": "RotationInProgressError: busy"},
        "omitted": 0,
    }


def test_a_user_removed_from_the_list_is_skipped(context):
    summary = report.handler(
        {"results": [{"username": "homer", "status": "ROTATED"}], "unlisted": ["bart"]}, context
    )
    assert summary["skipped"] == ["bart"] and summary["rotated"] == ["homer"]


def _failed_batch(message: str, usernames: list[str]) -> dict:
    # What a failed .sync child execution gives its parent: the child's description as cause.
    child_cause = json.dumps({"errorMessage": message, "errorType": "RotationFailedError"})
    cause = json.dumps({"Status": "FAILED", "Error": "RotationFailedError", "Cause": child_cause})
    return {
        "status": "FAILED",
        "index": 0,
        "users": len(usernames),
        "error": "States.TaskFailed",
        "cause": cause,
    }


def test_the_run_adds_up_its_batches_and_names_every_failed_user(context):
    batches = [
        {
            "status": "SUCCEEDED",
            "summary": {"users": 2, "rotated": ["homer", "ned"], "skipped": [], "details": {}, "omitted": 0},
        },
        _failed_batch("1 of 2 users not rotated: marge (RuntimeError: HTTP 500)", ["marge", "bart"]),
        _failed_batch("2 of 2 users not rotated: lisa (X: y); maggie (X: z)", ["lisa", "maggie"]),
    ]
    with pytest.raises(RotationFailedError) as failure:
        report.handler({"batches": batches}, context)
    assert str(failure.value) == (
        "3 of 6 users not rotated: marge (RuntimeError: HTTP 500); lisa (X: y); maggie (X: z)"
    )


def test_a_batch_that_failed_as_a_whole_fails_each_of_its_users(context):
    batch = {"status": "FAILED", "index": 2, "users": 2, "error": "States.Timeout", "cause": "took too long"}
    with pytest.raises(
        RotationFailedError,
        match=r"^2 of 2 users not rotated: the 2 users of batch 3 \(States.Timeout: took too long\)$",
    ):
        report.handler({"batches": [batch]}, context)


def test_the_run_succeeds_when_every_batch_did(context):
    batches = [
        {
            "status": "SUCCEEDED",
            "summary": {"users": 1, "rotated": ["homer"], "skipped": [], "details": {}, "omitted": 0},
        },
        {
            "status": "SUCCEEDED",
            "summary": {
                "users": 1,
                "rotated": [],
                "skipped": ["ned"],
                "details": {"ned": "busy"},
                "omitted": 2,
            },
        },
    ]
    assert report.handler({"batches": batches}, context) == {
        "users": 2,
        "batches": 2,
        "rotated": ["homer"],
        "skipped": ["ned"],
        "details": {"ned": "busy"},
        "omitted": 2,
    }


def test_a_batch_with_many_long_failures_keeps_its_cause_bounded(context):
    results = [
        {"username": f"user-{i:03d}", "status": "FAILED", "error": "E", "cause": "x" * 2000}
        for i in range(100)
    ]
    with pytest.raises(RotationFailedError) as failure:
        report.handler({"results": results}, context)
    message = str(failure.value)
    assert message.startswith("100 of 100 users not rotated: user-000 (E: xxx")
    assert len(message) <= 8_000 and message.endswith("… (more in the executions of the batches)")


def test_a_batch_hands_the_run_its_details_up_to_a_budget(context):
    results = [
        {"username": f"user-{i:03d}", "status": "SKIPPED", "error": "E", "cause": "y" * 400}
        for i in range(100)
    ]
    summary = report.handler({"results": results}, context)
    assert len(summary["skipped"]) == 100
    assert len(json.dumps(summary["details"])) <= 8_500
    assert summary["details"]["user-000"] == "E: " + "y" * 400
    assert summary["omitted"] == 100 - len(summary["details"]) > 0
