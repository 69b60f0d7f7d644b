"""An HTTPS endpoint taking each key as JSON, authenticated with a bearer token or an HMAC-SHA256
signature header over the body (sha256=<hex>, as GitHub's webhooks sign theirs)."""

from __future__ import annotations

import hashlib
import hmac

from harness.fakes.base import FakeApi


class FakeWebhook(FakeApi):
    prefix = "/credentials"

    def __init__(self, token: str, auth: str = "bearer", header: str = "X-Signature-256") -> None:
        self.auth, self.header = auth, header
        self.deliveries: list[dict] = []
        super().__init__(token)

    def authorized(self, headers, raw) -> bool:
        if self.auth == "bearer":
            return headers.get("Authorization") == f"Bearer {self.token}"
        expected = "sha256=" + hmac.new(self.token.encode(), raw, hashlib.sha256).hexdigest()
        return hmac.compare_digest(headers.get(self.header, ""), expected)

    def routes(self):
        return [("POST", "", self._deliver)]

    def _deliver(self, groups, query, body):
        if not isinstance(body, dict) or not body.get("AccessKeyId") or not body.get("SecretAccessKey"):
            return 422, {"message": "AccessKeyId and SecretAccessKey are required"}
        self.deliveries.append(body)
        return 204, None

    def latest(self, username: str) -> dict | None:
        return next((d for d in reversed(self.deliveries) if d.get("username") == username), None)
