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
    }
