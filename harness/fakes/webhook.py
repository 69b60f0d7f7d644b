"""An HTTPS endpoint taking each key as JSON, authenticated with a bearer token or, for hmac-sha256,
verified by the example receiver the webhook handler's documentation ships
(examples/handler-webhook/receiver.py: signature over timestamp, delivery id and body; old and
repeated deliveries rejected). It answers as most web frameworks do: 200 with a text body."""

from __future__ import annotations

import importlib.util

from harness.fakes.base import FakeApi
from harness.terraform import ROOT

_spec = importlib.util.spec_from_file_location("receiver", ROOT / "examples/handler-webhook/receiver.py")
receiver = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(receiver)  # type: ignore[union-attr]


class FakeWebhook(FakeApi):
    prefix = "/credentials"

    def __init__(self, token: str, auth: str = "bearer", header: str = "X-Signature-256") -> None:
        self.auth, self.header = auth, header
        self.deliveries: list[dict] = []
        self.rejections: list[str] = []  # why the receiver refused a delivery
        self.seen = receiver.MemorySeen()
        super().__init__(token)

    def authorized(self, headers, raw) -> bool:
        if self.auth == "bearer":
            return headers.get("Authorization") == f"Bearer {self.token}"
        try:
            receiver.verify(headers, raw, self.token, self.seen, signature_header=self.header)
        except receiver.Rejected as why:
            self.rejections.append(str(why))
            return False
        return True

    def routes(self):
        return [("POST", "", self._deliver)]

    def _deliver(self, groups, query, body):
        if not isinstance(body, dict) or not body.get("AccessKeyId") or not body.get("SecretAccessKey"):
            return 422, {"message": "AccessKeyId and SecretAccessKey are required"}
        self.deliveries.append(body)
        return 200, b"OK"

    def latest(self, username: str) -> dict | None:
        return next((d for d in reversed(self.deliveries) if d.get("username") == username), None)
