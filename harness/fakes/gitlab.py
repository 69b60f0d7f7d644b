"""GitLab's REST API for CI/CD variables (docs.gitlab.com/api/project_level_variables and
group_level_variables): update (PUT, filter[environment_scope]) and create (POST)."""

from __future__ import annotations

import re

from harness.fakes.base import FakeApi

_OWNER = r"/(?P<kind>projects|groups)/(?P<owner>[^/]+)/variables"
# Masked values: at least 8 characters of the Base64 alphabet (RFC 4648) or @ : . ~ (GitLab's rule).
_MASKABLE = re.compile(r"^[A-Za-z0-9+/=@:.~_-]{8,}$")


class FakeGitLab(FakeApi):
    prefix = "/api/v4"
    unauthorized = {"message": "401 Unauthorized"}

    def __init__(self, token: str, owners: list[str]) -> None:
        """owners: existing projects and groups as "projects/<id or path>" or "groups/<...>"."""
        self.owners = set(owners)
        self.variables: dict[tuple[str, str, str], dict] = {}  # (owner, key, scope) -> variable
        super().__init__(token)

    def authorized(self, headers, raw) -> bool:
        return headers.get("PRIVATE-TOKEN") == self.token

    def routes(self):
        return [
            ("PUT", _OWNER + r"/(?P<key>[^/]+)", self._update),
            ("POST", _OWNER, self._create),
        ]

    def _owner(self, groups):
        owner = f"{groups['kind']}/{groups['owner']}"
        return owner if owner in self.owners else None

    def _invalid(self, body):
        if body.get("masked") and not _MASKABLE.match(str(body.get("value", ""))):
            return 400, {"message": {"value": ["is invalid"]}}
        return None

    def _update(self, groups, query, body):
        owner = self._owner(groups)
        if owner is None:
            return 404, {"message": f"404 {groups['kind'][:-1].title()} Not Found"}
        scope = query.get("filter[environment_scope]", "*")
        variable = self.variables.get((owner, groups["key"], scope))
        if variable is None:
            return 404, {"message": "404 Variable Not Found"}
        invalid = self._invalid({**variable, **body})
        if invalid:
            return invalid
        variable.update(
            {k: body[k] for k in ("value", "masked", "protected", "variable_type", "raw") if k in body}
        )
        return 200, variable

    def _create(self, groups, query, body):
        owner = self._owner(groups)
        if owner is None:
            return 404, {"message": f"404 {groups['kind'][:-1].title()} Not Found"}
        if not body.get("key") or "value" not in body:
            return 400, {"error": "key is missing, value is missing"}
        scope = body.get("environment_scope", "*")
        if (owner, body["key"], scope) in self.variables:
            return 400, {"message": {"key": [f"({body['key']}) has already been taken"]}}
        invalid = self._invalid(body)
        if invalid:
            return invalid
        variable = {"variable_type": "env_var", "protected": False, "masked": False, "raw": False}
        variable.update({**body, "environment_scope": scope})
        self.variables[(owner, body["key"], scope)] = variable
        return 201, variable

    def variable(self, owner: str, key: str, scope: str = "*") -> dict | None:
        return self.variables.get((owner, key, scope))
