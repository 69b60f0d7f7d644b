"""Log lines: one JSON object each (Lambda's JSON log format, emulated as the runtime writes it:
harness/lambda_logging.py), carrying the run and the user bound for the invocation."""

import json
import logging
import sys

import pytest

from harness import lambda_logging
from rotator import common

RUN = "arn:aws:states:us-east-1:123456789012:execution:rotator:run-1"


class Stdout:
    """Whatever sys.stdout is when written to: pytest swaps it between a test's setup and call."""

    def write(self, text: str) -> None:
        sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def lines(capsys, request, monkeypatch):
    """The runtime's root handler in JSON format writing to the captured stdout, and a logger of the
    rotator; returns the logger and a reader of the lines written so far."""
    monkeypatch.setenv("AWS_LAMBDA_LOG_FORMAT", "JSON")
    monkeypatch.setenv("AWS_LAMBDA_LOG_LEVEL", getattr(request, "param", "INFO"))
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    lambda_logging.install("request-1", stream=Stdout())
    log = common.logger(f"test.{request.node.name}")
    common.bind()
    yield log, lambda: [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    common.bind()
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


def test_every_line_is_one_json_object_with_level_logger_and_message(lines):
    log, read = lines
    common.log_event(log, "key created", access_key_id="AKIA1", keys=["a", "b"])
    log.warning("plain %s", "warning")
    first, second = read()
    assert first["message"] == "key created" and first["level"] == "INFO"
    assert first["logger"] == log.name
    assert first["access_key_id"] == "AKIA1" and first["keys"] == ["a", "b"]
    assert first["timestamp"].endswith("Z") and first["requestId"] == "request-1"
    assert second["message"] == "plain warning" and second["level"] == "WARNING"
    # Not bound yet: Lambda's JSON format leaves out a field whose value is null.
    assert "execution_arn" not in first and "username" not in first


def test_bound_run_and_user_are_on_every_later_line_until_bound_again(lines):
    log, read = lines
    common.bind(execution_arn=RUN, username="marge")
    common.log_event(log, "lock taken")
    log.info("no fields")
    common.bind(execution_arn=RUN)  # the next invocation of a warm environment
    common.log_event(log, "batch loaded")
    taken, plain, batch = read()
    for line in (taken, plain):
        assert (line.get("execution_arn"), line.get("username")) == (RUN, "marge")
    assert (batch.get("execution_arn"), batch.get("username")) == (RUN, None)


@pytest.mark.parametrize(
    "event, expected",
    [
        ({"username": "marge", "rotation": {"id": "run-1", "executionArn": RUN}}, (RUN, "marge")),
        ({"input": {}, "executionArn": RUN, "executionName": "run-1"}, (RUN, None)),
        ({"parameters": [], "usernames": ["marge"], "rotation": {"executionArn": RUN}}, (RUN, None)),
        ({"username": "marge"}, (None, "marge")),
        ([], (None, None)),
    ],
)
def test_a_state_input_binds_the_run_and_the_user(lines, event, expected):
    log, read = lines
    common.bind_event(event)
    log.info("bound")
    (line,) = read()
    assert (line.get("execution_arn"), line.get("username")) == expected


def test_exceptions_stay_inside_the_line(lines):
    log, read = lines
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    (line,) = read()
    assert line["level"] == "ERROR" and (line["errorType"], line["errorMessage"]) == ("ValueError", "boom")
    assert any("raise ValueError" in frame for frame in line["stackTrace"])


@pytest.mark.parametrize("lines", ["WARN"], indirect=True)
def test_the_application_log_level_drops_lower_records(lines):
    log, read = lines
    common.log_event(log, "key created", access_key_id="AKIA1")
    log.warning("kept")
    assert [line["message"] for line in read()] == ["kept"]
