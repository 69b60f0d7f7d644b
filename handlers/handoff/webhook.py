"""POSTs the new key as JSON to an HTTPS endpoint, authenticated with a bearer token or an
HMAC-SHA256 signature of the body (header `<signature_header>: sha256=<hex>`, keyed with the token)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from handoff import core


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
    if auth == "hmac-sha256":
        signature = hmac.new(token.encode(), data, hashlib.sha256).hexdigest()
        headers = {config.get("signature_header") or "X-Signature-256": f"sha256={signature}"}
    else:
        headers = {"Authorization": f"Bearer {token}"}
    http = core.Http(url, headers, context, [token, key.secret_access_key])
    # One write: it either took the key or it did not, so no partial delivery is possible.
    return core.deliver(key, f"webhook {url}", [("the key", lambda: http.request("POST", "", raw=data))])
