"""HCP Terraform / Terraform Enterprise API v2 (developer.hashicorp.com/terraform/cloud-docs/api-docs):
workspace variables (/workspaces/:id/vars) and variable set variables (/varsets/:id/relationships/vars),
JSON:API documents (application/vnd.api+json, required on writes: 415 otherwise); sensitive values are
never returned; lists are paginated (page[number], page[size]: default 20, max 100; meta.pagination
and links.next)."""

from __future__ import annotations

import itertools
import urllib.parse

from harness.fakes.base import FakeApi, page_of, to_int

_OWNER = r"/api/v2/(?:workspaces/(?P<ws>ws-[^/]+)/vars|varsets/(?P<vs>varset-[^/]+)/relationships/vars)"


class FakeHcpTerraform(FakeApi):
    unauthorized = {"errors": [{"status": "401", "title": "unauthorized"}]}
    content_type = "application/vnd.api+json"

    def __init__(self, token: str, owners: list[str]) -> None:
        """owners: existing workspace ids (ws-...) and variable set ids (varset-...)."""
        self.owners = set(owners)
        self.vars: dict[str, dict] = {}  # var id -> {"owner", "attributes"}
        self._ids = itertools.count(1)
        super().__init__(token)

    def authorized(self, headers, raw) -> bool:
        return headers.get("Authorization") == f"Bearer {self.token}"

    def routes(self):
        return [
            ("GET", _OWNER, self._list),
            ("POST", _OWNER, self._create),
            ("PATCH", _OWNER + r"/(?P<var>var-[^/]+)", self._update),
        ]

    @staticmethod
    def _document(var_id, attributes):
        shown = {**attributes, "value": None if attributes.get("sensitive") else attributes.get("value")}
        return {"id": var_id, "type": "vars", "attributes": shown}

    def _owned(self, groups):
        owner = groups["ws"] or groups["vs"]
        return owner if owner in self.owners else None

    def _list(self, groups, query, body):
        owner = self._owned(groups)
        if owner is None:
            return 404, {"errors": [{"status": "404", "title": "not found"}]}
        owned = [self._document(i, v["attributes"]) for i, v in self.vars.items() if v["owner"] == owner]
        number, size = to_int(query.get("page[number]"), 1), min(to_int(query.get("page[size]"), 20), 100)
        items, more = page_of(owned, number, size)
        pages = max(1, -(-len(owned) // size))
        path = f"{self.origin}/api/v2/" + (
            f"workspaces/{owner}/vars" if owner.startswith("ws-") else f"varsets/{owner}/relationships/vars"
        )

        def link(n):
            return f"{path}?{urllib.parse.urlencode({'page[number]': n, 'page[size]': size})}"

        return 200, {
            "data": items,
            "links": {
                "self": link(number),
                "first": link(1),
                "last": link(pages),
                "next": link(number + 1) if more else None,
            },
            "meta": {
                "pagination": {
                    "current-page": number,
                    "page-size": size,
                    "prev-page": number - 1 if number > 1 else None,
                    "next-page": number + 1 if more else None,
                    "total-pages": pages,
                    "total-count": len(owned),
                }
            },
        }

    def _json_api(self):
        kind = str(self.current_headers.get("Content-Type") or "")
        if kind.split(";")[0].strip() != "application/vnd.api+json":
            return 415, {"errors": [{"status": "415", "title": "unsupported media type"}]}
        return None

    def _create(self, groups, query, body):
        if self._json_api():
            return self._json_api()
        owner = self._owned(groups)
        if owner is None:
            return 404, {"errors": [{"status": "404", "title": "not found"}]}
        attributes = (body or {}).get("data", {}).get("attributes", {})
        if not attributes.get("key") or attributes.get("category") not in ("env", "terraform"):
            return 422, {
                "errors": [{"status": "422", "title": "invalid attribute", "detail": "Key can't be blank"}]
            }
        taken = any(
            v["owner"] == owner
            and v["attributes"]["key"] == attributes["key"]
            and v["attributes"]["category"] == attributes["category"]
            for v in self.vars.values()
        )
        if taken:
            return 422, {
                "errors": [
                    {"status": "422", "title": "invalid attribute", "detail": "Key has already been taken"}
                ]
            }
        var_id = f"var-{next(self._ids):016d}"
        self.vars[var_id] = {"owner": owner, "attributes": dict(attributes)}
        return 201, {"data": self._document(var_id, attributes)}

    def _update(self, groups, query, body):
        if self._json_api():
            return self._json_api()
        owner = self._owned(groups)
        var = self.vars.get(groups["var"])
        if owner is None or var is None or var["owner"] != owner:
            return 404, {"errors": [{"status": "404", "title": "not found"}]}
        var["attributes"].update((body or {}).get("data", {}).get("attributes", {}))
        return 200, {"data": self._document(groups["var"], var["attributes"])}

    def existing(self, owner: str, key: str, **attributes) -> str:
        """A variable its owners set up; returns its id."""
        var_id = f"var-{next(self._ids):016d}"
        self.vars[var_id] = {
            "owner": owner,
            "attributes": {
                "key": key,
                "value": "theirs",
                "category": "env",
                "hcl": False,
                "sensitive": False,
                **attributes,
            },
        }
        return var_id

    def keys(self, owner: str) -> list[str]:
        return [v["attributes"]["key"] for v in self.vars.values() if v["owner"] == owner]

    def value(self, owner: str, key: str) -> dict | None:
        """The stored attributes (value included) of an owner's env variable."""
        return next(
            (
                v["attributes"]
                for v in self.vars.values()
                if v["owner"] == owner and v["attributes"]["key"] == key
            ),
            None,
        )
