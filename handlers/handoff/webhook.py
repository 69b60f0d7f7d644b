"""POSTs the new key as JSON to an HTTPS endpoint, authenticated with a bearer token or an HMAC-SHA256
signature (header `<signature_header>: sha256=<hex>`, keyed with the token).

Every delivery carries `X-Rotator-Timestamp` (Unix seconds) and `X-Rotator-Delivery` (a UUID unique to
each attempt). The signature covers both with the body, `<timestamp>.<delivery>.<body>`, so that a
receiver can reject a captured delivery replayed later (too old) or again (an id it has seen): see
examples/handler-webhook/receiver.py."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from handoff import core

TIMESTAMP_HEADER = "X-Rotator-Timestamp"
DELIVERY_HEADER = "X-Rotator-Delivery"


def signature(token: str, timestamp: str, delivery: str, body: bytes) -> str:
    signed = f"{timestamp}.{delivery}.".encode() + body
    return "sha256=" + hmac.new(token.encode(), signed, hashlib.sha256).hexdigest()


def handler(event: dict, context: Any) -> dict:
    config = core.settings(event)
    url, auth = core.require(config, "url", "auth")
    key = core.read_key(event)
    token = core.read_token()
    body = {
        "username": key.username,
        "AccessKeyId": key.access_key_id,
        "SecretAccessKey": key.secret_access_key,
    }
    if "metadata" in event:
        body["metadata"] = event["metadata"]
    data = json.dumps(body, sort_keys=True).encode()
    timestamp, delivery = str(int(time.time())), str(uuid.uuid4())
    headers = {TIMESTAMP_HEADER: timestamp, DELIVERY_HEADER: delivery}
    if auth == "hmac-sha256":
        headers[config.get("signature_header") or "X-Signature-256"] = signature(
            token, timestamp, delivery, data
        )
    else:
        headers["Authorization"] = f"Bearer {token}"
    http = core.Http(url, headers, context, [token, key.secret_access_key])
    # One write, not retried: a receiver that rejects repeated delivery ids would refuse the retry of
    # a delivery that landed unseen. Any 2xx is success whatever its body.
    return core.deliver(key, f"webhook {url}", [("the key", lambda: http.request("POST", "", raw=data))])
