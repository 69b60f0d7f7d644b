"""CircleCI's API v2 (circleci.com/docs/api/v2): context environment variables (PUT, upsert) and
project environment variables (POST, replaces one of the same name)."""

from __future__ import annotations

from harness.fakes.base import FakeApi


class FakeCircleCI(FakeApi):
    prefix = "/api/v2"
    unauthorized = {"message": "You must log in first."}

    def __init__(self, token: str, contexts: list[str], projects: list[str]) -> None:
        self.contexts, self.projects = set(contexts), set(projects)
        self.values: dict[tuple[str, str], str] = {}  # ("context/<id>" or "project/<slug>", name) -> value
        super().__init__(token)

    def authorized(self, headers, raw) -> bool:
        return headers.get("Circle-Token") == self.token

    def routes(self):
        return [
            ("PUT", r"/context/(?P<id>[^/]+)/environment-variable/(?P<name>[^/]+)", self._context),
            ("POST", r"/project/(?P<slug>[^/]+/[^/]+/[^/]+)/envvar", self._project),
        ]

    def _context(self, groups, query, body):
        if groups["id"] not in self.contexts:
            return 404, {"message": "Context not found"}
        if not isinstance(body, dict) or "value" not in body:
            return 400, {"message": "value is required"}
        self.values[(f"context/{groups['id']}", groups["name"])] = body["value"]
        stamp = "2026-01-01T00:00:00Z"
        return 200, {
            "variable": groups["name"],
            "context_id": groups["id"],
            "created_at": stamp,
            "updated_at": stamp,
        }

    def _project(self, groups, query, body):
        if groups["slug"] not in self.projects:
            return 404, {"message": "Project not found"}
        if not isinstance(body, dict) or not body.get("name") or "value" not in body:
            return 400, {"message": "name and value are required"}
        self.values[(f"project/{groups['slug']}", body["name"])] = body["value"]
        return 201, {"name": body["name"], "value": "xxxx" + body["value"][-4:]}

    def value(self, owner: str, name: str) -> str | None:
        return self.values.get((owner, name))
