"""Log lines: one JSON object each, carrying the run and the user bound for the invocation."""

import json
import logging
import sys

import pytest

from rotator import common

RUN = "arn:aws:states:us-east-1:123456789012:execution:rotator:run-1"


class Stdout:
    """Whatever sys.stdout is when written to: pytest swaps it between a test's setup and call."""

    def write(self, text: str) -> None:
        sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def lines(capsys, request):
    """A fresh logger writing to the captured stdout; returns a reader of the lines written so far."""
    log = common.logger(f"test.{request.node.name}")
    (handler,) = log.handlers
    handler.setStream(Stdout())
    common.bind()
    yield log, lambda: [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    common.bind()


def test_every_line_is_one_json_object_with_level_logger_and_message(lines):
    log, read = lines
    common.log_event(log, "key created", access_key_id="AKIA1", keys=["a", "b"])
    log.warning("plain %s", "warning")
    first, second = read()
    assert first["message"] == "key created" and first["level"] == "INFO"
    assert first["logger"] == log.name
    assert first["access_key_id"] == "AKIA1" and first["keys"] == ["a", "b"]
    assert first["timestamp"].endswith("+00:00")
    assert second["message"] == "plain warning" and second["level"] == "WARNING"
    # Not bound yet: the correlation fields are there, empty, so one query shape fits every line.
    assert (first["execution_arn"], first["username"]) == (None, None)


def test_bound_run_and_user_are_on_every_later_line_until_bound_again(lines):
    log, read = lines
    common.bind(execution_arn=RUN, username="marge")
    common.log_event(log, "lock taken")
    log.info("no fields")
    common.bind(execution_arn=RUN)  # the next invocation of a warm environment
    common.log_event(log, "batch loaded")
    taken, plain, batch = read()
    for line in (taken, plain):
        assert (line["execution_arn"], line["username"]) == (RUN, "marge")
    assert (batch["execution_arn"], batch["username"]) == (RUN, None)


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
    assert (line["execution_arn"], line["username"]) == expected


def test_exceptions_stay_inside_the_line(lines):
    log, read = lines
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    (line,) = read()
    assert line["level"] == "ERROR" and "ValueError: boom" in line["exception"]


def test_lines_are_not_written_again_by_the_runtime_root_handler(lines, capsys):
    log, read = lines
    root = logging.getLogger()
    plain = logging.StreamHandler()
    root.addHandler(plain)
    try:
        log.info("once")
    finally:
        root.removeHandler(plain)
    assert [line["message"] for line in read()] == ["once"]
    assert capsys.readouterr().err == ""
