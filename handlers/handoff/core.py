"""What every ready-made credentials handler shares: its settings, the key it hands off, the third
party's API token, HTTP calls with a deadline, and the hand-off contract's errors.

Each handler's Terraform module sets:
- HANDLER_SETTINGS: JSON object of the handler's settings (where to write, under which names);
- TOKEN_SECRET_ARN: the Secrets Manager secret holding the third party's API token (absent when the
  handler needs none);
- HTTP_TIMEOUT_SECONDS: the longest any one HTTP call may take.
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import json
import logging
import os
import re
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Iterable, NoReturn

import boto3
from botocore.config import Config

_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})
# Left for the function itself after the last HTTP call gives up, so that the handler's own error,
# not the Lambda's timeout, reaches the rotator.
_SAFETY_MARGIN_SECONDS = 2.0
_BODY_EXCERPT = 300
# Any run of this many characters of a secret is redacted: long enough not to hide ordinary words,
# short enough that what is left of a secret is far too little to guess it.
_REDACT_WINDOW = 12

log = logging.getLogger("handoff")
log.setLevel(logging.INFO)


class PartiallyDeliveredError(Exception):
    """Some of the key's values reached the third party, not all. The rotator must not roll the new
    key back (the third party may hold half of it); it retries the hand-off and, if that keeps
    failing, keeps both keys and reports this error's message. The class name is the contract."""


class HandOffOutcomeUnknownError(Exception):
    """A write may have landed but no answer proves it did or did not (a timeout, a reset connection,
    a 5xx): the rotator keeps both keys and never rolls back. The class name is the contract."""


class ThirdPartyError(Exception):
    """The third party refused a call in a way that proves the call wrote nothing (a 4xx, a redirect,
    a refused connection, a read that failed), or there was no time left to make it."""


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


def _encodings(secret: str) -> list[str]:
    """The forms in which an API may echo a value back: as sent, JSON-escaped (with and without `\\/`),
    URL-encoded, base64."""
    escaped = json.dumps(secret)[1:-1]
    raw = secret.encode()
    forms = {
        secret,
        escaped,
        escaped.replace("/", "\\/"),
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
    }
    return sorted(forms, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str], window: int = _REDACT_WINDOW) -> str:
    """Replaces every stretch of `text` that matches any `window` consecutive characters of any
    encoding of any secret (so a secret cut short, or echoed escaped, is caught too) with ***."""
    hidden = [False] * len(text)
    for secret in secrets:
        for form in _encodings(secret):
            size = min(window, len(form))
            for i in range(len(form) - size + 1):
                piece = form[i : i + size]
                start = text.find(piece)
                while start >= 0:
                    hidden[start : start + size] = [True] * size
                    start = text.find(piece, start + 1)
    out, previous = [], False
    for char, masked in zip(text, hidden):
        if not masked:
            out.append(char)
        elif not previous:
            out.append("***")
        previous = masked
    return "".join(out)


def api_message(text: str) -> str:
    """The API's own error message when the body is JSON that carries one (GitHub and CircleCI
    `message`, GitLab `message`/`error`, JSON:API `errors[].detail`), else the body itself."""
    try:
        document = json.loads(text)
    except ValueError:
        return text
    if isinstance(document, dict):
        errors = document.get("errors")
        if isinstance(errors, list) and errors:
            return "; ".join(
                str(e.get("detail") or e.get("title") or e) if isinstance(e, dict) else str(e) for e in errors
            )
        for name in ("message", "error", "error_description"):
            if document.get(name):
                value = document[name]
                return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would carry the token's header to another URL, and turns a POST into a GET that
    writes nothing: every 3xx is answered to the caller as it came."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirects())


@dataclass
class Response:
    status: int
    headers: Any
    text: str

    def json(self) -> Any:
        """The decoded answer, for the calls whose answer the handler needs."""
        try:
            return json.loads(self.text)
        except ValueError:
            raise ThirdPartyError(f"answered HTTP {self.status} with a body that is not JSON") from None


def _retry_after(headers: Any, now: float) -> float | None:
    """Seconds to wait before retrying, from Retry-After (seconds or an HTTP date), or a rate limit's
    reset (GitHub's x-ratelimit-reset is an epoch time, HCP Terraform's x-ratelimit-reset seconds)."""
    value = headers.get("Retry-After")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
            except (TypeError, ValueError):
                return None
    for name in ("x-ratelimit-reset", "RateLimit-Reset"):
        value = headers.get(name)
        if value:
            try:
                reset = float(value)
            except ValueError:
                continue
            return max(0.0, reset - now) if reset > 1e9 else reset
    return None


def _rate_limited(code: int, headers: Any) -> bool:
    if code == 429:
        return True
    # GitHub's primary and secondary rate limits answer 403 with one of these headers; any other
    # 403 is a refusal.
    return code == 403 and (
        bool(headers.get("Retry-After")) or str(headers.get("x-ratelimit-remaining")) == "0"
    )


class Http:
    """Calls to one third party's API. Every call ends before the function's own deadline; no
    redirect is followed; no error message carries the token or the secret access key. A write
    whose outcome is unknown (no answer, a reset connection, a 5xx) raises HandOffOutcomeUnknownError
    unless the call is idempotent and a retry within the time left succeeded."""

    def __init__(self, base_url: str, headers: dict[str, str], context: Any, secrets: Iterable[str]) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = headers
        self.context = context
        self.secrets = [s for s in secrets if s]
        self.timeout = float(os.environ.get("HTTP_TIMEOUT_SECONDS", "10"))

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def _excerpt(self, text: str) -> str:
        # Redact first: cutting first could leave a piece of a secret that no longer matches it.
        return self.redact(api_message(text).strip())[:_BODY_EXCERPT]

    def _time_left(self) -> float:
        return self.context.get_remaining_time_in_millis() / 1000 - _SAFETY_MARGIN_SECONDS

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
        idempotent: bool = False,
        url: str | None = None,
    ) -> Response | None:
        """The answer of a 2xx whatever its body (None on 404 with missing_ok). Raises ThirdPartyError
        when the answer proves nothing was written, HandOffOutcomeUnknownError when a write may have
        landed. Rate limits (429, GitHub's 403 with Retry-After or x-ratelimit-remaining: 0) are
        waited out while the function has time; reads, and idempotent writes, are retried once after
        a 5xx, a reset or a timeout."""
        if url is None:
            url = self.base_url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        headers = {**self.headers, **({"Content-Type": content_type} if data is not None else {})}
        write = method not in ("GET", "HEAD")
        retry_unknown = not write or idempotent
        unknown: str | None = None  # why an earlier attempt of this write may have landed
        retries = 0  # after a 5xx, a reset or a timeout: once
        waits = 0  # for a rate limit: as long as the function has time
        while True:
            timeout = min(self.timeout, self._time_left())
            if timeout <= 0:
                self._fail(
                    unknown, f"{method} {url}: no time left for another attempt before the function's timeout"
                )
            try:
                request = urllib.request.Request(url, data=data, headers=headers, method=method)
                with _OPENER.open(request, timeout=timeout) as response:
                    text = response.read().decode("utf-8", "replace")
                return Response(response.status, response.headers, text)
            except urllib.error.HTTPError as error:
                code, answer = error.code, error.headers
                excerpt = self._excerpt(error.read().decode("utf-8", "replace"))
                if 300 <= code < 400:
                    location = self.redact(str(answer.get("Location") or "nowhere"))
                    self._fail(
                        unknown,
                        f"{method} {url} answered HTTP {code} redirecting to {location}: not followed "
                        "(set the API's URL to where it now lives)",
                    )
                if _rate_limited(code, answer):
                    wait = _retry_after(answer, time.time())
                    wait = min(2.0**waits, 8.0) if wait is None else wait
                    if wait + min(self.timeout, 1.0) <= self._time_left():
                        waits += 1
                        time.sleep(wait)
                        continue
                    self._fail(
                        unknown,
                        f"{method} {url} answered HTTP {code} (rate limited; retry after {wait:.0f} s, past "
                        f"the function's time left): {excerpt}",
                    )
                if missing_ok and code == 404 and unknown is None:
                    return None
                message = f"{method} {url} answered HTTP {code}: {excerpt}"
                if code >= 500 and write:
                    unknown = f"{message} (the write may have landed)"
                    if retry_unknown and retries < 1:
                        retries += 1
                        continue
                    raise HandOffOutcomeUnknownError(unknown) from None
                if code >= 500 and retries < 1:
                    retries += 1
                    continue
                self._fail(unknown, message)
            except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
                reason = getattr(error, "reason", error)
                timed_out = isinstance(reason, (TimeoutError, socket.timeout)) or isinstance(
                    error, (TimeoutError, socket.timeout)
                )
                if timed_out:
                    message = f"{method} {url} did not answer within {timeout:.0f} s"
                elif isinstance(
                    reason, (ConnectionRefusedError, socket.gaierror, ssl.SSLCertVerificationError)
                ):
                    # Nothing reached the third party (no connection, no name, a certificate the
                    # handshake refused before any request was sent): a refusal, like any 4xx.
                    self._fail(unknown, f"{method} {url} failed: {self.redact(str(reason))}")
                else:
                    message = (
                        f"{method} {url} failed: {self.redact(type(reason).__name__ + ': ' + str(reason))}"
                    )
                if not write:
                    # A read that timed out is not retried: that would take another timeout's time.
                    if retries < 1 and not timed_out:
                        retries += 1
                        continue
                    self._fail(unknown, message)
                unknown = f"{message} (the write may have landed)"
                if retry_unknown and retries < 1:
                    retries += 1
                    continue
                raise HandOffOutcomeUnknownError(unknown) from None
            except ValueError as error:  # http.client.InvalidURL and the like: nothing was sent
                self._fail(unknown, f"{method} {url!r} could not be sent: {self.redact(str(error))}")

    def get(self, path: str = "", *, query: dict[str, str] | None = None, url: str | None = None) -> Response:
        """A read whose answer the handler needs."""
        response = self.request("GET", path, query=query, url=url)
        if response is None:  # only missing_ok answers None
            raise ThirdPartyError(f"GET {url or path} answered nothing")
        return response

    @staticmethod
    def _fail(unknown: str | None, message: str) -> NoReturn:
        """A refusal, unless an earlier attempt of the same write may have landed."""
        if unknown is not None:
            raise HandOffOutcomeUnknownError(f"{unknown}; then {message}")
        raise ThirdPartyError(message)

    def same_origin(self, url: str) -> str:
        """`url` when it is on the API's own scheme, host and port (a pagination link), else a refusal:
        the token's header must never go to another host."""
        url = urllib.parse.urljoin(self.base_url + "/", url)
        mine, theirs = urllib.parse.urlsplit(self.base_url), urllib.parse.urlsplit(url)
        if (mine.scheme, mine.netloc) != (theirs.scheme, theirs.netloc):
            raise ThirdPartyError(f"a pagination link points to another host ({theirs.netloc}): not followed")
        return url


def next_link(headers: Any) -> str | None:
    """The rel="next" URL of an RFC 8288 Link header (GitHub's pagination), if any."""
    for part in (headers.get("Link") or "").split(","):
        match = re.match(r"\s*<([^>]+)>\s*;(.*)", part)
        if match and re.search(r'rel="?next"?', match.group(2)):
            return match.group(1)
    return None


def deliver(key: Key, store: str, writes: list[tuple[str, Callable[[], Any]]]) -> dict[str, str]:
    """Runs the writes (name, function) in order. A refusal of the first is re-raised as it is: nothing
    was written, the rotator rolls back. An unknown outcome of the first is HandOffOutcomeUnknownError
    naming the store and the key (the rotator keeps both keys). A failure after one succeeded becomes
    PartiallyDeliveredError naming the store, what it now holds and what it lacks, and the user."""
    done: list[str] = []
    for name, write in writes:
        try:
            write()
        except HandOffOutcomeUnknownError as error:
            if not done:
                raise HandOffOutcomeUnknownError(
                    f"{store}: {name} may or may not hold the new key {key.access_key_id} of user "
                    f"{key.username} ({error})"
                ) from None
            raise _partial(key, store, writes, done, error) from None
        except Exception as error:
            if not done:
                raise
            raise _partial(key, store, writes, done, error) from None
        done.append(name)
    log_event("credentials handed off", username=key.username, access_key_id=key.access_key_id, store=store)
    return {"delivered": key.access_key_id, "store": store}


def _partial(
    key: Key, store: str, writes: list, done: list[str], error: Exception
) -> PartiallyDeliveredError:
    missing = [n for n, _ in writes if n not in done]
    return PartiallyDeliveredError(
        f"{store}: {', '.join(done)} now hold(s) the new key {key.access_key_id} of user "
        f"{key.username}, but {', '.join(missing)} could not be written "
        f"({type(error).__name__}: {error})"
    )


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
