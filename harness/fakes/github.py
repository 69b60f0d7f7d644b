"""GitHub's REST API for Actions secrets (docs.github.com/rest/actions/secrets, API version 2022-11-28,
as github/rest-api-description describes it): public keys; create-or-update of repository,
environment and organization secrets (201 created, 204 updated, no body); an organization secret's
details (visibility, selected_repositories_url) and its selected repositories (paginated: per_page,
max 100, default 30, and an RFC 8288 Link header). Secrets are sealed boxes to the scope's public
key; the fake opens them with its private key."""

from __future__ import annotations

import base64
import hashlib
import urllib.parse
from typing import Iterable

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox

from harness.fakes.base import FakeApi, page_of, to_int

_SCOPES = r"(?P<scope>/repos/[^/]+/[^/]+/actions|/repos/[^/]+/[^/]+/environments/[^/]+|/orgs/[^/]+/actions)"
_NOT_FOUND = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}


class FakeGitHub(FakeApi):
    unauthorized = {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
    content_type = "application/json; charset=utf-8"

    def __init__(self, token: str, scopes: list[str], repositories: dict[int, str] | None = None) -> None:
        """scopes: the existing ones, e.g. /repos/acme/app/actions, /repos/acme/app/environments/prod,
        /orgs/acme/actions; anything else is 404. repositories: the organization's, id -> full name."""
        self.keys = {scope: PrivateKey.generate() for scope in scopes}
        self.repositories = dict(repositories or {})
        # (scope, name) -> {"value", "visibility" (organization secrets), "selected" (repository ids)}
        self.secrets: dict[tuple[str, str], dict] = {}
        super().__init__(token)

    def authorized(self, headers, raw) -> bool:
        return headers.get("Authorization") in (f"Bearer {self.token}", f"token {self.token}")

    @staticmethod
    def key_id(key: PrivateKey) -> str:
        return hashlib.sha256(bytes(key.public_key)).hexdigest()[:20]

    def routes(self):
        return [
            ("GET", _SCOPES + r"/secrets/public-key", self._public_key),
            ("GET", r"/orgs/(?P<org>[^/]+)/actions/secrets/(?P<name>[^/]+)/repositories", self._selected),
            ("GET", r"/orgs/(?P<org>[^/]+)/actions/secrets/(?P<name>[^/]+)", self._org_secret),
            ("PUT", _SCOPES + r"/secrets/(?P<name>[^/]+)", self._put),
        ]

    def org_secret(self, org: str, name: str, visibility: str, selected: Iterable[int] = ()) -> None:
        """An organization secret an admin set up (its value is not the rotator's)."""
        scope = f"/orgs/{org}/actions"
        self.secrets[(scope, name)] = {
            "value": "set-by-an-admin",
            "visibility": visibility,
            "selected": list(selected),
        }

    def _public_key(self, groups, query, body):
        key = self.keys.get(groups["scope"])
        if key is None:
            return 404, _NOT_FOUND
        return 200, {"key_id": self.key_id(key), "key": base64.b64encode(bytes(key.public_key)).decode()}

    def _org_secret(self, groups, query, body):
        scope = f"/orgs/{groups['org']}/actions"
        secret = self.secrets.get((scope, groups["name"]))
        if scope not in self.keys or secret is None:
            return 404, _NOT_FOUND
        answer = {
            "name": groups["name"],
            "created_at": "2026-01-10T14:59:22Z",
            "updated_at": "2026-01-11T11:59:22Z",
            "visibility": secret["visibility"],
        }
        if secret["visibility"] == "selected":
            answer["selected_repositories_url"] = (
                f"{self.url}/orgs/{groups['org']}/actions/secrets/{groups['name']}/repositories"
            )
        return 200, answer

    def _selected(self, groups, query, body):
        scope = f"/orgs/{groups['org']}/actions"
        secret = self.secrets.get((scope, groups["name"]))
        if scope not in self.keys or secret is None:
            return 404, _NOT_FOUND
        ids = sorted(secret.get("selected") or []) if secret["visibility"] == "selected" else []
        number, size = to_int(query.get("page"), 1), min(to_int(query.get("per_page"), 30), 100)
        items, more = page_of(ids, number, size)
        headers = {}
        if more:
            path = f"{self.url}/orgs/{groups['org']}/actions/secrets/{groups['name']}/repositories"
            after = urllib.parse.urlencode({"per_page": size, "page": number + 1})
            last = urllib.parse.urlencode({"per_page": size, "page": -(-len(ids) // size)})
            headers["Link"] = f'<{path}?{after}>; rel="next", <{path}?{last}>; rel="last"'
        repositories = [{"id": i, "full_name": self.repositories.get(i, f"acme/repo-{i}")} for i in items]
        return 200, {"total_count": len(ids), "repositories": repositories}, headers

    def _put(self, groups, query, body):
        scope, name = groups["scope"], groups["name"]
        key = self.keys.get(scope)
        if key is None:
            return 404, _NOT_FOUND
        if not isinstance(body, dict) or not body.get("encrypted_value") or not body.get("key_id"):
            return 422, {"message": 'Invalid request.\n\n"encrypted_value", "key_id" weren\'t supplied.'}
        org = scope.startswith("/orgs/")
        if org and body.get("visibility") not in ("all", "private", "selected"):
            return 422, {"message": 'Invalid request.\n\n"visibility" wasn\'t supplied.'}
        ids = body.get("selected_repository_ids")
        if ids is not None and (not org or body.get("visibility") != "selected"):
            return 422, {"message": "selected_repository_ids may only be given with visibility selected"}
        if ids is not None and any(i not in self.repositories for i in ids):
            return 422, {"message": "Invalid repository ids"}
        if body["key_id"] != self.key_id(key):
            return 422, {"message": "Bad request: key_id does not match the current public key"}
        try:
            plaintext = SealedBox(key).decrypt(base64.b64decode(body["encrypted_value"])).decode()
        except (CryptoError, ValueError):
            return 422, {"message": "Bad request: encrypted_value is not a sealed box for this key"}
        previous = self.secrets.get((scope, name))
        stored = {"value": plaintext, "visibility": body.get("visibility")}
        if org:
            # Without ids, a selected secret keeps its repositories (none for a new one).
            kept = (previous or {}).get("selected") or []
            stored["selected"] = (
                list(ids) if ids is not None else (kept if body["visibility"] == "selected" else [])
            )
        self.secrets[(scope, name)] = stored
        return (201, {}) if previous is None else (204, None)

    def value(self, scope: str, name: str) -> str | None:
        return self.secrets.get((scope, name), {}).get("value")
