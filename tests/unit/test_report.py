import json

import boto3
import pytest

from rotator import report
from rotator.common import RotationFailedError

from .conftest import REGION


@pytest.fixture(autouse=True)
def metrics(aws_env, monkeypatch):
    """The run's report publishes its failed-user count (the failure alarm's metric)."""
    monkeypatch.setenv("METRIC_NAMESPACE", "IAMCredentialsRotator")
    monkeypatch.setenv("ROTATOR_NAME", "rotator")
    return boto3.client("cloudwatch", region_name=REGION)


def published(cloudwatch) -> tuple[float, float | None, float | None]:
    """How many FailedUsers datapoints the runs published, their lowest and highest value."""
    stats = cloudwatch.get_metric_statistics(
        Namespace="IAMCredentialsRotator",
        MetricName="FailedUsers",
        Dimensions=[{"Name": "Rotator", "Value": "rotator"}],
        StartTime="2000-01-01T00:00:00Z",
        EndTime="2100-01-01T00:00:00Z",
        Period=60,
        Statistics=["Minimum", "Maximum", "SampleCount"],
    )
    points = stats["Datapoints"]
    return (
        sum(p["SampleCount"] for p in points),
        min((p["Minimum"] for p in points), default=None),
        max((p["Maximum"] for p in points), default=None),
    )


def summarize(results, unlisted=(), context=None):
    return report.handler({"results": results, "unlisted": list(unlisted)}, context)


def done(summary, rotated=(), failed=None):
    """What the run's clean-up makes of a batch: handed-off users rotated, or failed with a reason."""
    summary = {**summary, "rotated": list(rotated), "handedOff": [], "uncertain": []}
    for username, why in (failed or {}).items():
        summary["failed"] = summary["failed"] + [username]
        summary["details"] = {**summary["details"], username: why}
    return summary


def test_a_batch_summary_is_data_naming_who_was_handed_off_and_who_failed_and_why(context):
    results = [
        {"username": "homer", "status": "HANDED_OFF"},
        {
            "username": "marge",
            "status": "FAILED",
            "error": "RuntimeError",
            "cause": '{"errorMessage": "HTTP 500"}',
        },
        {"username": "ned", "status": "SKIPPED", "error": "RotationInProgressError", "cause": "busy"},
        {"username": "lisa", "status": "UNCERTAIN", "error": "Sandbox.Timedout", "cause": "timed out"},
    ]
    summary = summarize(results, ["bart"], context)
    assert summary["handedOff"] == ["homer"] and summary["uncertain"] == ["lisa"]
    assert summary["failed"] == ["marge"] and summary["skipped"] == ["ned", "bart"]
    assert summary["details"] == {
        "marge": "RuntimeError: HTTP 500",
        "ned": "RotationInProgressError: busy",
        "lisa": "Sandbox.Timedout: timed out",
        "bart": "UserNotListed: removed from the users list",
    }
    assert summary["users"] == 5 and summary["omitted"] == 0


def test_the_run_adds_up_its_batches_and_names_every_failed_user_and_why(context):
    first = summarize(
        [
            {"username": "homer", "status": "HANDED_OFF"},
            {"username": "marge", "status": "FAILED", "error": "RuntimeError", "cause": "HTTP 500"},
        ]
    )
    second = summarize(
        [{"username": "lisa", "status": "HANDED_OFF"}, {"username": "maggie", "status": "HANDED_OFF"}]
    )
    batches = [
        done(first, ["homer"]),
        done(second, ["lisa"], {"maggie": "NoSuchEntity: The third party has the new key"}),
        {
            "status": "FAILED",
            "index": 2,
            "usernames": ["bart", "milhouse"],
            "error": "States.Timeout",
            "cause": "slow",
        },
    ]
    with pytest.raises(RotationFailedError) as failure:
        report.handler({"batches": batches}, context)
    assert str(failure.value) == (
        "4 of 6 users not rotated: the 2 users of batch 3 (States.Timeout: slow); marge (RuntimeError: HTTP 500); "
        "maggie (NoSuchEntity: The third party has the new key)"
    )


def test_users_failing_alike_are_named_once_with_their_reason_and_actions_follow_the_reason(context):
    summary = summarize(
        [{"username": u, "status": "FAILED", "error": "E", "cause": "same"} for u in ["a", "b"]]
    )
    summary = done(summary)
    summary["users"] += 1
    summary["failed"].append("c")
    summary["details"]["c"] = "Sandbox.Timedout: late"
    summary["actions"]["c"] = "both keys were kept"
    with pytest.raises(RotationFailedError) as failure:
        report.handler({"batches": [summary]}, context)
    assert (
        str(failure.value)
        == "3 of 3 users not rotated: a, b (E: same); c (Sandbox.Timedout: late): both keys were kept"
    )


def test_the_run_succeeds_when_no_user_failed_and_returns_its_summary(context):
    skipped = summarize(
        [{"username": "ned", "status": "SKIPPED", "error": "AlreadyRotatedError", "cause": "done"}]
    )
    rotated = done(summarize([{"username": "homer", "status": "HANDED_OFF"}]), ["homer"])
    assert report.handler({"batches": [rotated, done(skipped)]}, context) == {
        "users": 2,
        "batches": 2,
        "rotated": ["homer"],
        "skipped": ["ned"],
        "failed": [],
        "details": {"ned": "AlreadyRotatedError: done"},
        "omitted": 0,
    }


def test_a_batch_whose_clean_up_failed_names_its_handed_off_users(context):
    summary = summarize([{"username": "homer", "status": "HANDED_OFF"}])
    with pytest.raises(RotationFailedError, match=r"homer \(States.TaskFailed: the clean-up failed"):
        report.handler(
            {
                "batches": [
                    {
                        "status": "CLEANUP_FAILED",
                        "batch": {"status": "HANDED_OFF", "summary": summary},
                        "error": "States.TaskFailed",
                    }
                ]
            },
            context,
        )


def test_a_thousand_users_all_failing_stay_within_step_functions_limits(context):
    """10 batches of 100 users with 64-character names, each failing with a long, distinct reason:
    every batch summary within its budget, the run's state within 256 KB, its error within the
    32 KB cause limit, and every failed user counted."""
    batches = []
    for b in range(10):
        results = [
            {
                "username": f"{b}{i:02d}".rjust(64, "u"),
                "status": "FAILED",
                "error": "E",
                "cause": f"{b}{i}" + "x" * 2000,
            }
            for i in range(100)
        ]
        batches.append(done(summarize(results)))
    for summary in batches:
        assert len(json.dumps({k: summary[k] for k in ("details", "actions")})) <= 9_000
    assert len(json.dumps({"batches": batches})) < 256 * 1024
    with pytest.raises(RotationFailedError) as failure:
        report.handler({"batches": batches}, context)
    message = str(failure.value)
    assert message.startswith("1000 of 1000 users not rotated: ") and len(message) <= 30_000
    assert sum(len(s["failed"]) for s in batches) == 1000


def test_each_run_publishes_its_failed_user_count_for_the_alarm_zero_included(context, metrics):
    clean = done(summarize([{"username": "homer", "status": "HANDED_OFF"}]), ["homer"])
    report.handler({"batches": [clean]}, context)
    assert published(metrics) == (1, 0, 0)
    failing = summarize(
        [
            {"username": "marge", "status": "FAILED", "error": "RuntimeError", "cause": "HTTP 500"},
            {"username": "lisa", "status": "HANDED_OFF"},
        ]
    )
    with pytest.raises(RotationFailedError):
        report.handler({"batches": [done(failing, [], {"lisa": "NoSuchEntity: gone"})]}, context)
    assert published(metrics) == (2, 0, 2)
    # A batch's summary is not a run: it publishes nothing.
    summarize([{"username": "ned", "status": "HANDED_OFF"}])
    assert published(metrics) == (2, 0, 2)
