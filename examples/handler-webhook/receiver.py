"""How an endpoint verifies what the webhook handler (modules/handler-webhook, auth = "hmac-sha256")
sends, and rejects a delivery that is forged, altered, too old or seen before. Standard library only:
copy `verify` into your receiver and keep `seen` in storage every instance of the receiver shares
(a table with a conditional insert, and entries expiring after twice the tolerance).

    from receiver import verify, Rejected
    try:
        key = verify(request.headers, request.body, signing_key, seen)
    except Rejected as why:
        return 401, str(why)
    store(key["AccessKeyId"], key["SecretAccessKey"])
    return 200, "OK"   # any 2xx, with any body, is success to the handler
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, Callable, Mapping

TIMESTAMP_HEADER = "X-Rotator-Timestamp"
DELIVERY_HEADER = "X-Rotator-Delivery"
# The handler stamps each delivery when it sends it; allow for clock skew and a slow network.
TOLERANCE_SECONDS = 300


class Rejected(Exception):
    """The delivery must not be acted on; its message says why (and holds no secret)."""


def verify(
    headers: Mapping[str, str],
    body: bytes,
    signing_key: str,
    seen: Callable[[str], bool],
    signature_header: str = "X-Signature-256",
    now: float | None = None,
) -> dict[str, Any]:
    """The delivered key, once the signature over `<timestamp>.<delivery>.<body>` matches, the
    timestamp is within TOLERANCE_SECONDS of now, and `seen(delivery)` (which records the id and
    answers whether it was already recorded, atomically) says the id is new."""
    timestamp, delivery = headers.get(TIMESTAMP_HEADER), headers.get(DELIVERY_HEADER)
    given = headers.get(signature_header) or ""
    if not timestamp or not delivery:
        raise Rejected(f"{TIMESTAMP_HEADER} and {DELIVERY_HEADER} are required")
    signed = f"{timestamp}.{delivery}.".encode() + body
    expected = "sha256=" + hmac.new(signing_key.encode(), signed, hashlib.sha256).hexdigest()
    # Check the signature before trusting the timestamp or the id: both are only as good as it.
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Rejected("the signature does not match")
    try:
        age = (time.time() if now is None else now) - int(timestamp)
    except ValueError:
        raise Rejected(f"{TIMESTAMP_HEADER} is not a Unix time") from None
    if abs(age) > TOLERANCE_SECONDS:
        raise Rejected(f"the delivery is {age:.0f} s old, outside the {TOLERANCE_SECONDS} s tolerance")
    if seen(delivery):
        raise Rejected(f"delivery {delivery} was already received: a replay")
    key = json.loads(body)
    if not isinstance(key, dict) or not key.get("AccessKeyId") or not key.get("SecretAccessKey"):
        raise Rejected("the body has no AccessKeyId and SecretAccessKey")
    return key


class MemorySeen:
    """`seen` for one process (tests, a single-instance receiver); it forgets ids older than twice
    the tolerance, which verify() rejects by age anyway."""

    def __init__(self) -> None:
        self._ids: dict[str, float] = {}

    def __call__(self, delivery: str) -> bool:
        now = time.time()
        self._ids = {d: t for d, t in self._ids.items() if now - t < 2 * TOLERANCE_SECONDS}
        if delivery in self._ids:
            return True
        self._ids[delivery] = now
        return False
