"""What every fake API shares: an HTTP server on 127.0.0.1, routing, authentication, a record of
requests, and injected faults."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

Route = tuple[str, str, Callable[..., tuple[int, Any]]]


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: Any  # case-insensitive, as HTTP header names are
    body: Any
    status: int


class FakeApi:
    """Subclasses define `routes()` ((method, path regex, function(match, query, body) -> (status,
    body))), `authorized(headers, raw body)` and `unauthorized` (the vendor's 401 body)."""

    prefix = ""
    unauthorized: Any = {"message": "Unauthorized"}

    def __init__(self, token: str) -> None:
        self.token = token
        self.requests: list[Recorded] = []
        # Substring of "METHOD path" or of the body -> HTTP status to answer, or "hang" (no answer
        # for hang_seconds, then 504).
        self.faults: dict[str, int | str] = {}
        self.hang_seconds = 15.0
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
                status, answer = fake._answer(self.command, url.path, query, self.headers, raw, routes)
                data = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def authorized(self, headers: dict[str, str], raw: bytes) -> bool:
        raise NotImplementedError

    def _answer(self, method, path, query, headers, raw, routes) -> tuple[int, Any]:
        text = raw.decode("utf-8", "replace")
        body = json.loads(text) if text.strip() else None
        status, answer = self._fault(f"{method} {path}", text)
        if status is None:
            if not self.authorized(headers, raw):
                status, answer = 401, self.unauthorized
            else:
                status, answer = self._route(method, path, query, body, routes)
        with self._lock:
            self.requests.append(Recorded(method, path, query, headers, body, status))
        return status, answer

    def _fault(self, request: str, text: str) -> tuple[int | None, Any]:
        for match, fault in self.faults.items():
            if match in request or match in text:
                if fault == "hang":
                    time.sleep(self.hang_seconds)
                    return 504, {"message": "Gateway Timeout"}
                return int(fault), {"message": f"injected HTTP {fault}"}
        return None, None

    def _route(self, method, path, query, body, routes) -> tuple[int, Any]:
        for route_method, pattern, fn in routes:
            match = pattern.match(path)
            if match and route_method == method:
                groups = {k: v and urllib.parse.unquote(v) for k, v in match.groupdict().items()}
                with self._lock:
                    return fn(groups, query, body)
        return 404, {"message": "Not Found"}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}{self.prefix}"

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != "GET"]

    def reset(self) -> None:
        self.faults.clear()
        with self._lock:
            self.requests.clear()

    def stop(self) -> None:
        self._server.shutdown()
