"""GitHub's REST API for Actions secrets (docs.github.com/rest/actions/secrets, API version
2022-11-28): public keys and create-or-update of repository, environment and organization secrets.
Secrets are sealed boxes to the scope's public key; the fake opens them with its private key."""

from __future__ import annotations

import base64
import hashlib

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox

from harness.fakes.base import FakeApi

_SCOPES = r"(?P<scope>/repos/[^/]+/[^/]+/actions|/repos/[^/]+/[^/]+/environments/[^/]+|/orgs/[^/]+/actions)"


class FakeGitHub(FakeApi):
    unauthorized = {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}

    def __init__(self, token: str, scopes: list[str]) -> None:
        """scopes: the existing ones, e.g. /repos/acme/app/actions, /repos/acme/app/environments/prod,
        /orgs/acme/actions; anything else is 404."""
        self.keys = {scope: PrivateKey.generate() for scope in scopes}
        self.secrets: dict[tuple[str, str], dict] = {}  # (scope, name) -> plaintext and attributes
        super().__init__(token)

    def authorized(self, headers, raw) -> bool:
        return headers.get("Authorization") in (f"Bearer {self.token}", f"token {self.token}")

    @staticmethod
    def key_id(key: PrivateKey) -> str:
        return hashlib.sha256(bytes(key.public_key)).hexdigest()[:20]

    def routes(self):
        return [
            ("GET", _SCOPES + r"/secrets/public-key", self._public_key),
            ("PUT", _SCOPES + r"/secrets/(?P<name>[^/]+)", self._put),
        ]

    def _public_key(self, groups, query, body):
        key = self.keys.get(groups["scope"])
        if key is None:
            return 404, {"message": "Not Found"}
        return 200, {"key_id": self.key_id(key), "key": base64.b64encode(bytes(key.public_key)).decode()}

    def _put(self, groups, query, body):
        scope, name = groups["scope"], groups["name"]
        key = self.keys.get(scope)
        if key is None:
            return 404, {"message": "Not Found"}
        if not isinstance(body, dict) or not body.get("encrypted_value") or not body.get("key_id"):
            return 422, {"message": 'Invalid request.\n\n"encrypted_value", "key_id" weren\'t supplied.'}
        if scope.startswith("/orgs/") and body.get("visibility") not in ("all", "private", "selected"):
            return 422, {"message": 'Invalid request.\n\n"visibility" wasn\'t supplied.'}
        if body["key_id"] != self.key_id(key):
            return 422, {"message": "Bad request: key_id does not match the current public key"}
        try:
            plaintext = SealedBox(key).decrypt(base64.b64decode(body["encrypted_value"])).decode()
        except (CryptoError, ValueError):
            return 422, {"message": "Bad request: encrypted_value is not a sealed box for this key"}
        created = (scope, name) not in self.secrets
        self.secrets[(scope, name)] = {"value": plaintext, "visibility": body.get("visibility")}
        return (201, {}) if created else (204, None)

    def value(self, scope: str, name: str) -> str | None:
        return self.secrets.get((scope, name), {}).get("value")
