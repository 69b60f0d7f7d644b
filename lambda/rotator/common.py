"""Helpers shared by the rotator's Lambda functions: clients, logging, naming, errors."""

from __future__ import annotations

import json
import logging
import os
import re
from typing import Any

import boto3
from botocore.config import Config

# Standard mode retries throttling and transient errors with exponential backoff and jitter.
_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8})

# IAM user names may contain ',' but secret names may not; any other IAM character is allowed.
_NOT_IN_SECRET_NAMES = re.compile(r"[^A-Za-z0-9/_+=.@-]")


def client(service: str) -> Any:
    return boto3.client(service, config=_BOTO_CONFIG)


def logger(name: str) -> logging.Logger:
    log = logging.getLogger(name)
    log.setLevel(os.environ.get("LOG_LEVEL", "INFO"))
    return log


def log_event(log: logging.Logger, message: str, **fields: Any) -> None:
    """Logs one JSON line. Callers pass key ids and names only, never secret values."""
    log.info(json.dumps({"message": message, **fields}, sort_keys=True, default=str))


def secret_name(prefix: str, username: str, access_key_id: str) -> str:
    """The secret of one key: the key id makes it unique, so no two rotations share a secret."""
    return f"{prefix}{_NOT_IN_SECRET_NAMES.sub('_', username)}/{access_key_id}"


def required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"environment variable {name} is not set")
    return value


class RotationError(Exception):
    """A rotation that cannot go on; its class name becomes the Step Functions error name."""


class UserNotListedError(RotationError):
    pass


class TwoActiveKeysError(RotationError):
    pass
