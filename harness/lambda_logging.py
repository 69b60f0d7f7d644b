"""The Python Lambda runtime's root log handler, as the runtime installs it before the function's
code is imported: with the function's LoggingConfig LogFormat JSON (environment AWS_LAMBDA_LOG_FORMAT),
one JSON object per record, with the record's `extra` fields, at the level AWS_LAMBDA_LOG_LEVEL
(ApplicationLogLevel); otherwise its tab-separated text lines. Written from the runtime's own
formatter (awslambdaric's `lambda_runtime_log_utils.JsonFormatter`, which ships only for Linux and
so is not a dependency here) and AWS's description of the format
(https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html#python-logging-advanced)."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback
from typing import Any

# LogRecord's own attributes: every other attribute (what `extra=` set) becomes a field.
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "aws_request_id",
}
# Lambda's levels: TRACE is Python's DEBUG.
_LEVELS = {
    "TRACE": "DEBUG",
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "WARN": "WARNING",
    "ERROR": "ERROR",
    "FATAL": "CRITICAL",
}


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(datefmt="%Y-%m-%dT%H:%M:%SZ")
        self.converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        exc = record.exc_info
        line: dict[str, Any] = {
            "timestamp": self.formatTime(record, self.datefmt),
            "level": logging.getLevelName(min(50, max(0, record.levelno)) // 10 * 10),
            "message": record.getMessage(),
            "logger": record.name,
            "stackTrace": traceback.format_tb(exc[2]) if exc else None,
            "errorType": exc[0].__name__ if exc and exc[0] else None,
            "errorMessage": str(exc[1]) if exc else None,
            "requestId": getattr(record, "aws_request_id", None),
            "location": f"{record.pathname}:{record.funcName}:{record.lineno}" if exc else None,
        }
        line.update((k, v) for k, v in vars(record).items() if k not in _RESERVED and k not in line)
        return json.dumps({k: v for k, v in line.items() if v is not None}, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        text = f"[{record.levelname}]\t{stamp}.{int(record.msecs):03d}Z\t{getattr(record, 'aws_request_id', '')}\t{record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class _RequestId(logging.Filter):
    def __init__(self, request_id: str) -> None:
        super().__init__()
        self.request_id = request_id

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


def install(request_id: str, stream: Any = None) -> logging.Handler:
    """Sets up the root logger as the runtime does for one invocation; returns its handler."""
    json_format = os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter() if json_format else TextFormatter())
    handler.addFilter(_RequestId(request_id))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # The runtime sets the root's level only in JSON format (ApplicationLogLevel); in text format it
    # stays Python's WARNING.
    level = _LEVELS.get(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()) if json_format else None
    root.setLevel(level or ("INFO" if json_format else "WARNING"))
    return handler
