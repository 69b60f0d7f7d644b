"""A stand-in for the trusted third party (a CI service, say): an HTTP server on loopback that
records the credentials the handler POSTs to it."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ThirdParty:
    def __init__(self) -> None:
        self.deliveries: list[dict] = []
        self.fail_for: set[str] = set()  # usernames whose delivery is refused with HTTP 500
        self.delay_for: dict[str, float] = {}  # usernames whose delivery hangs this long, then fails
        third_party = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                delay = third_party.delay_for.get(body.get("username"))
                if delay:
                    time.sleep(delay)
                refused = delay or body.get("username") in third_party.fail_for
                if not refused:
                    third_party.deliveries.append(body)
                self.send_response(500 if refused else 204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/credentials"

    def reset(self) -> None:
        self.fail_for.clear()
        self.delay_for.clear()

    def latest(self, username: str) -> dict:
        return [d for d in self.deliveries if d["username"] == username][-1]

    def stop(self) -> None:
        self._server.shutdown()
