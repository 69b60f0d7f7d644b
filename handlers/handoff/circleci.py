"""Sets a CircleCI environment variable pair in a context or a project.

Metadata (optional, per user): target=context|project; context_id=<uuid>;
project_slug=<vcs>/<org>/<repo>; key_id_name=<variable>; secret_key_name=<variable>.
"""

from __future__ import annotations

from typing import Any

from handoff import core

OVERRIDABLE = ["target", "context_id", "project_slug", "key_id_name", "secret_key_name"]


def owner(config: dict) -> tuple[str, str]:
    target = config.get("target") or "context"
    if target not in ("context", "project"):
        raise core.SettingsError(f"target {target!r} is not context or project")
    return target, core.require(config, "context_id" if target == "context" else "project_slug")[0]


def handler(event: dict, context: Any) -> dict:
    target, where = owner(core.settings(event, OVERRIDABLE))
    config, key, http = core.connect(event, context, OVERRIDABLE, "api_url", lambda t: {"Circle-Token": t})

    def put(name: str, value: str) -> None:
        # Both calls replace an existing variable of the same name, so either may be retried.
        if target == "context":
            http.request(
                "PUT", f"/context/{where}/environment-variable/{name}", {"value": value}, idempotent=True
            )
        else:
            http.request("POST", f"/project/{where}/envvar", {"name": name, "value": value}, idempotent=True)

    return core.deliver_pair(config, key, f"CircleCI {target} {where}", put)
