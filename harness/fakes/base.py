"""What every fake API shares: an HTTP server on 127.0.0.1, routing, authentication, pagination, a
record of requests, and injected faults (what real vendors do that a kind fake never does)."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import struct
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

Route = tuple[str, str, Callable[..., tuple]]

# Faults answered before the request reaches the API (nothing is written) ...
BEFORE = {"status", "hang", "rate", "redirect"}
# ... and after it (the write landed, then the answer goes wrong).
AFTER = {"text", "empty", "slow", "reset", "after"}


@dataclass
class Fault:
    """kind: status (answer `status`, write nothing), hang (no answer for hang_seconds, then 504,
    nothing written), rate (429, or `status` 403 as GitHub's secondary limit, with Retry-After:
    `retry_after`), redirect (`status` 301/302/307/308 to `location`), text (the write lands, answered
    200 text/plain "OK"), empty (lands, 200 with no body), slow (lands, answered after hang_seconds),
    reset (lands, the connection is reset without an answer), after (lands, answered `status` 5xx).
    times: how many matching requests it applies to (None: all)."""

    kind: str
    status: int = 0
    times: int | None = None
    retry_after: float = 1
    location: str = "https://api.example.net/moved"
    body: Any = None  # for status: the answer's body, or a function of the request's body text

    def __post_init__(self) -> None:
        if self.kind not in BEFORE | AFTER:
            raise ValueError(f"unknown fault kind {self.kind!r}")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: Any  # case-insensitive, as HTTP header names are
    body: Any
    status: int  # 0: the connection was reset without an answer
    landed: bool  # the request reached the API's logic (a write took effect if it succeeded)


class FakeApi:
    """Subclasses define `routes()` ((method, path regex, function(match, query, body) -> (status,
    body) or (status, body, headers))), `authorized(headers, raw body)` and `unauthorized` (the
    vendor's 401 body)."""

    prefix = ""
    unauthorized: Any = {"message": "Unauthorized"}
    content_type = "application/json"

    def __init__(self, token: str) -> None:
        self.token = token
        self.requests: list[Recorded] = []
        # Substring of "METHOD path" or of the body -> Fault, an HTTP status (Fault("status")) or
        # "hang" (Fault("hang")).
        self.faults: dict[str, Fault | int | str] = {}
        self.hang_seconds = 15.0
        self.current_headers: Any = {}
        self._lock = threading.Lock()
        fake = self
        routes = [
            (method, re.compile(f"^{self.prefix}{pattern}$"), fn) for method, pattern, fn in self.routes()
        ]

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                query = dict(urllib.parse.parse_qsl(url.query))
                status, answer, headers, after = fake._answer(
                    self.command, url.path, query, self.headers, raw, routes
                )
                if after == "reset":
                    # SO_LINGER 0: closing sends a TCP reset, as a proxy that drops the connection does.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    return
                if after == "slow":
                    time.sleep(fake.hang_seconds)
                if after == "text":
                    status, data, kind = 200, b"OK", "text/plain; charset=utf-8"
                elif after == "empty":
                    status, data, kind = 200, b"", None
                elif isinstance(answer, bytes):
                    data, kind = answer, "text/plain; charset=utf-8"
                else:
                    data = b"" if answer is None else json.dumps(answer).encode()
                    kind = fake.content_type if answer is not None else None
                self.send_response(status)
                if kind:
                    self.send_header("Content-Type", kind)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                # The client may have given up waiting (a "slow" answer).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def authorized(self, headers: Any, raw: bytes) -> bool:
        raise NotImplementedError

    def _answer(self, method, path, query, headers, raw, routes) -> tuple[int, Any, dict, str | None]:
        text = raw.decode("utf-8", "replace")
        self._text = text
        fault = self._fault(f"{method} {path}", text)
        status, answer, landed = 0, None, False
        extra: dict = {}
        if fault is not None and fault.kind in BEFORE:
            status, answer, extra = self._before(fault)
        elif not self.authorized(headers, raw):
            status, answer = 401, self.unauthorized
        else:
            try:
                body = json.loads(text) if text.strip() else None
            except ValueError:
                status, answer = 400, {"message": "Problems parsing JSON"}
            else:
                status, answer, extra = self._route(method, path, query, body, headers, routes)
                landed = True
        # Only a write that took effect (a 2xx from the API's logic) is then answered wrongly.
        succeeded = landed and 200 <= status < 300
        after = fault.kind if fault is not None and fault.kind in AFTER and succeeded else None
        if after == "after" and fault is not None:
            status, answer = fault.status or 502, {"message": "Bad Gateway"}
        recorded_status = 0 if after == "reset" else (200 if after in ("text", "empty") else status)
        with self._lock:
            self.requests.append(
                Recorded(method, path, query, headers, json_or_none(text), recorded_status, landed)
            )
        return status, answer, extra, after

    def _before(self, fault: Fault) -> tuple[int, Any, dict]:
        if fault.kind == "hang":
            time.sleep(self.hang_seconds)
            return 504, {"message": "Gateway Timeout"}, {}
        if fault.kind == "rate":
            return (
                fault.status or 429,
                {"message": "API rate limit exceeded"},
                {"Retry-After": f"{fault.retry_after:g}"},
            )
        if fault.kind == "redirect":
            return fault.status or 302, None, {"Location": fault.location}
        if fault.body is not None:
            return fault.status, fault.body(self._text) if callable(fault.body) else fault.body, {}
        return fault.status, {"message": f"injected HTTP {fault.status}"}, {}

    def _fault(self, request: str, text: str) -> Fault | None:
        with self._lock:
            for match, fault in list(self.faults.items()):
                if match in request or match in text:
                    if isinstance(fault, int):
                        return Fault("status", status=fault)
                    if fault == "hang":
                        return Fault("hang")
                    assert isinstance(fault, Fault)
                    if fault.times is not None:
                        if fault.times <= 0:
                            continue
                        fault.times -= 1
                    return fault
        return None

    def _route(self, method, path, query, body, headers, routes) -> tuple[int, Any, dict]:
        for route_method, pattern, fn in routes:
            match = pattern.match(path)
            if match and route_method == method:
                groups = {k: v and urllib.parse.unquote(v) for k, v in match.groupdict().items()}
                with self._lock:
                    self.current_headers = headers  # for the few routes that check a header
                    result = fn(groups, query, body)
                return (*result, {}) if len(result) == 2 else result
        if any(pattern.match(path) for _, pattern, _ in routes):
            return 405, {"message": "Method Not Allowed"}, {}
        return 404, {"message": "Not Found"}, {}

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def url(self) -> str:
        return self.origin + self.prefix

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != "GET"]

    def reset(self) -> None:
        self.faults.clear()
        with self._lock:
            self.requests.clear()

    def stop(self) -> None:
        self._server.shutdown()


def json_or_none(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return text


def page_of(items: list, number: int, size: int) -> tuple[list, bool]:
    """Items of page `number` (from 1) of `size`, and whether a later page exists."""
    start = (max(number, 1) - 1) * size
    return items[start : start + size], start + size < len(items)


def to_int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
