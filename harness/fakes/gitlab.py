"""GitLab's REST API for CI/CD variables (docs.gitlab.com/api/project_level_variables and
group_level_variables): show (GET), update (PUT: attributes not named are kept) and create (POST),
each selecting among variables that share a key with filter[environment_scope] (409 without it when
several match). Masked values must be at least 8 characters of GitLab's maskable alphabet."""

from __future__ import annotations

import re

from harness.fakes.base import FakeApi

_OWNER = r"/(?P<kind>projects|groups)/(?P<owner>[^/]+)/variables"
# Masked values: at least 8 characters of the Base64 alphabet (RFC 4648) or @ : . ~ (GitLab's rule).
_MASKABLE = re.compile(r"^[A-Za-z0-9+/=@:.~_-]{8,}$")
_ATTRIBUTES = ("value", "masked", "protected", "variable_type", "raw", "description", "environment_scope")


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
            ("GET", _OWNER + r"/(?P<key>[^/]+)", self._show),
            ("PUT", _OWNER + r"/(?P<key>[^/]+)", self._update),
            ("POST", _OWNER, self._create),
        ]

    def existing(self, owner: str, key: str, scope: str = "*", **attributes) -> dict:
        """A variable its owners set up, with GitLab's defaults for what `attributes` leaves out."""
        variable = {
            "key": key,
            "value": "set-by-its-owners",
            "variable_type": "env_var",
            "protected": False,
            "masked": False,
            "hidden": False,
            "raw": False,
            "environment_scope": scope,
            "description": None,
            **attributes,
        }
        self.variables[(owner, key, scope)] = variable
        return variable

    def _owner(self, groups):
        owner = f"{groups['kind']}/{groups['owner']}"
        return owner if owner in self.owners else None

    def _find(self, groups, query):
        owner = self._owner(groups)
        if owner is None:
            return None, (404, {"message": f"404 {groups['kind'][:-1].title()} Not Found"})
        scope = query.get("filter[environment_scope]")
        matches = [
            v
            for (o, k, s), v in self.variables.items()
            if o == owner and k == groups["key"] and (scope is None or s == scope)
        ]
        if not matches:
            return None, (404, {"message": "404 Variable Not Found"})
        if len(matches) > 1:
            return None, (
                409,
                {
                    "message": "There are multiple variables with provided parameters. "
                    "Please use 'filter[environment_scope]'"
                },
            )
        return matches[0], None

    @staticmethod
    def _shown(variable):
        return {**variable, "value": None} if variable.get("hidden") else variable

    def _invalid(self, body):
        if body.get("masked") and not _MASKABLE.match(str(body.get("value", ""))):
            return 400, {"message": {"value": ["is invalid"]}}
        if body.get("variable_type", "env_var") not in ("env_var", "file"):
            return 400, {"error": "variable_type does not have a valid value"}
        return None

    def _show(self, groups, query, body):
        variable, error = self._find(groups, query)
        return error or (200, self._shown(variable))

    def _update(self, groups, query, body):
        variable, error = self._find(groups, query)
        if error:
            return error
        if not isinstance(body, dict):
            return 400, {"error": "value is missing"}
        invalid = self._invalid({**variable, **body})
        if invalid:
            return invalid
        variable.update({k: body[k] for k in _ATTRIBUTES if k in body and k != "environment_scope"})
        return 200, self._shown(variable)

    def _create(self, groups, query, body):
        owner = self._owner(groups)
        if owner is None:
            return 404, {"message": f"404 {groups['kind'][:-1].title()} Not Found"}
        if not isinstance(body, dict) or not body.get("key") or "value" not in body:
            return 400, {"error": "key is missing, value is missing"}
        scope = body.get("environment_scope", "*")
        if (owner, body["key"], scope) in self.variables:
            return 400, {"message": {"key": [f"({body['key']}) has already been taken"]}}
        invalid = self._invalid(body)
        if invalid:
            return invalid
        variable = self.existing(owner, body["key"], scope, **{k: body[k] for k in _ATTRIBUTES if k in body})
        return 201, self._shown(variable)

    def variable(self, owner: str, key: str, scope: str = "*") -> dict | None:
        return self.variables.get((owner, key, scope))
