"""What every ready-made credentials handler shares: its settings, the key it hands off, the third
party's API token, HTTP calls with a deadline, and the hand-off contract's errors.

Each handler's Terraform module sets:
- HANDLER_SETTINGS: JSON object of the handler's settings (where to write, under which names);
- TOKEN_SECRET_ARN: the Secrets Manager secret holding the third party's API token (absent when the
  handler needs none);
- HTTP_TIMEOUT_SECONDS: the longest any one HTTP call may take.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import boto3
from botocore.config import Config

_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})
# Left for the function itself after the last HTTP call gives up, so that the handler's own error,
# not the Lambda's timeout, reaches the rotator.
_SAFETY_MARGIN_SECONDS = 2.0
_BODY_EXCERPT = 300

log = logging.getLogger("handoff")
log.setLevel(logging.INFO)


class PartiallyDeliveredError(Exception):
    """Some of the key's values reached the third party, not all. The rotator must not roll the new
    key back (the third party may hold half of it); it retries the hand-off and, if that keeps
    failing, keeps both keys and reports this error's message. The class name is the contract."""


class ThirdPartyError(Exception):
    """The third party refused a call, answered outside 2xx, or did not answer in time."""


class SettingsError(ValueError):
    """The handler's settings or the user's metadata do not say where to write."""


@dataclass(frozen=True)
class Key:
    username: str
    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:  # keeps the secret out of any traceback or log that prints a Key
        return f"Key(username={self.username!r}, access_key_id={self.access_key_id!r})"


def log_event(message: str, **fields: Any) -> None:
    """One JSON line. Callers pass names and key ids only, never secret values."""
    log.info(json.dumps({"message": message, **fields}, sort_keys=True, default=str))


def parse_metadata(text: str | None, allowed: Iterable[str]) -> dict[str, str]:
    """`key=value;key=value` -> dict. Unknown keys are refused rather than ignored: a misspelt
    key would otherwise send the key to the default place instead of the one meant."""
    allowed = sorted(allowed)
    result: dict[str, str] = {}
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in allowed:
            raise SettingsError(
                f"metadata {text!r}: {part.strip()!r} is not key=value with a key among {', '.join(allowed)}"
            )
        result[name] = value.strip()
    return result


def settings(event: dict, overridable: Iterable[str] = ()) -> dict[str, Any]:
    """The module's settings, with the user's metadata overriding the `overridable` ones."""
    configured = json.loads(os.environ.get("HANDLER_SETTINGS") or "{}")
    overridable = list(overridable)
    if overridable:
        configured.update(parse_metadata(event.get("metadata"), overridable))
    return configured


def require(config: dict[str, Any], *names: str) -> list[Any]:
    missing = [name for name in names if not config.get(name)]
    if missing:
        raise SettingsError(
            f"{', '.join(missing)} not set: set it in the module's inputs or in the user's metadata"
        )
    return [config[name] for name in names]


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise SettingsError(f"{value!r} is not true or false")


def _secrets() -> Any:
    return boto3.client("secretsmanager", config=_BOTO_CONFIG)


def read_key(event: dict) -> Key:
    secret = json.loads(_secrets().get_secret_value(SecretId=event["secretName"])["SecretString"])
    return Key(event["username"], secret["AccessKeyId"], secret["SecretAccessKey"])


def read_token() -> str:
    """The third party's API token: a secret's plain string, or the `token` field of its JSON."""
    value = _secrets().get_secret_value(SecretId=os.environ["TOKEN_SECRET_ARN"])["SecretString"].strip()
    if value.startswith("{"):
        return json.loads(value)["token"]
    return value


class Http:
    """JSON calls to one third party's API. Every call ends before the function's own deadline, and
    no error message carries the token or the secret access key."""

    def __init__(self, base_url: str, headers: dict[str, str], context: Any, secrets: Iterable[str]) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = headers
        self.context = context
        self.secrets = [s for s in secrets if s]
        self.timeout = float(os.environ.get("HTTP_TIMEOUT_SECONDS", "10"))

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def _call_timeout(self) -> float:
        remaining = self.context.get_remaining_time_in_millis() / 1000 - _SAFETY_MARGIN_SECONDS
        if remaining <= 0:
            raise ThirdPartyError("no time left for another call before the function's timeout")
        return min(self.timeout, remaining)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, str] | None = None,
        missing_ok: bool = False,
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> Any:
        """The decoded JSON answer (None when empty, or on 404 with missing_ok); raises
        ThirdPartyError on anything but 2xx, a refused connection or a timeout."""
        url = self.base_url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        headers = {**self.headers, **({"Content-Type": content_type} if data is not None else {})}
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        timeout = self._call_timeout()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                text = response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            if missing_ok and error.code == 404:
                return None
            excerpt = self.redact(error.read().decode("utf-8", "replace")[:_BODY_EXCERPT])
            raise ThirdPartyError(f"{method} {url} answered HTTP {error.code}: {excerpt}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            reason = getattr(error, "reason", error)
            # socket.timeout is not yet TimeoutError on Python 3.8 and 3.9.
            if isinstance(reason, (TimeoutError, socket.timeout)) or isinstance(
                error, (TimeoutError, socket.timeout)
            ):
                raise ThirdPartyError(f"{method} {url} did not answer within {timeout:.0f} s") from None
            raise ThirdPartyError(f"{method} {url} failed: {self.redact(str(reason))}") from None
        return json.loads(text) if text.strip() else None


def deliver(key: Key, store: str, writes: list[tuple[str, Callable[[], Any]]]) -> dict[str, str]:
    """Runs the writes (name, function) in order. A failure of the first is re-raised as it is: nothing
    was written, the rotator rolls back. A failure after one succeeded becomes PartiallyDeliveredError
    naming the store, what it now holds and what it lacks, and the user."""
    done: list[str] = []
    for name, write in writes:
        try:
            write()
        except Exception as error:
            if not done:
                raise
            missing = [n for n, _ in writes if n not in done]
            raise PartiallyDeliveredError(
                f"{store}: {', '.join(done)} now hold(s) the new key {key.access_key_id} of user "
                f"{key.username}, but {', '.join(missing)} could not be written "
                f"({type(error).__name__}: {error})"
            ) from error
        done.append(name)
    log_event("credentials handed off", username=key.username, access_key_id=key.access_key_id, store=store)
    return {"delivered": key.access_key_id, "store": store}


def connect(
    event: dict, context: Any, overridable: Iterable[str], url_setting: str, auth: Callable[[str], dict]
) -> tuple[dict[str, Any], Key, Http]:
    """Settings (refused before anything is read when incomplete), the key, and the API client
    authenticated with the token's headers `auth(token)`."""
    config = settings(event, overridable)
    require(config, url_setting, "key_id_name", "secret_key_name")
    key = read_key(event)
    token = read_token()
    return config, key, Http(config[url_setting], auth(token), context, [token, key.secret_access_key])


def deliver_pair(config: dict, key: Key, store: str, put: Callable[[str, str], Any]) -> dict[str, str]:
    """Writes the key id, then the secret key, under the configured names (see deliver)."""
    id_name, secret_name = config["key_id_name"], config["secret_key_name"]
    return deliver(
        key,
        store,
        [
            (id_name, lambda: put(id_name, key.access_key_id)),
            (secret_name, lambda: put(secret_name, key.secret_access_key)),
        ],
    )
