"""Sets a GitLab CI/CD variable pair on a project or a group, masked and protected as configured.

Metadata (optional, per user): target=project|group; project=<id or full path>; group=<id or full
path>; environment_scope=<scope>; key_id_name=<variable>; secret_key_name=<variable>.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from handoff import core

OVERRIDABLE = ["target", "project", "group", "environment_scope", "key_id_name", "secret_key_name"]


def variables_path(config: dict) -> str:
    target = config.get("target") or "project"
    if target not in ("project", "group"):
        raise core.SettingsError(f"target {target!r} is not project or group")
    (owner,) = core.require(config, target)
    # GitLab takes a numeric id or the URL-encoded full path (group%2Fproject).
    return f"/{target}s/{urllib.parse.quote(str(owner), safe='')}/variables"


def handler(event: dict, context: Any) -> dict:
    path = variables_path(core.settings(event, OVERRIDABLE))
    config, key, http = core.connect(event, context, OVERRIDABLE, "api_url", lambda t: {"PRIVATE-TOKEN": t})
    scope = config.get("environment_scope") or "*"
    flags = {
        "masked": core.as_bool(config.get("masked", True)),
        "protected": core.as_bool(config.get("protected", False)),
    }

    def put(name: str, value: str) -> None:
        # Update in place; create only when GitLab says the variable does not exist (404).
        body = {"value": value, "variable_type": "env_var", "raw": True, **flags}
        updated = http.request(
            "PUT", f"{path}/{name}", body, query={"filter[environment_scope]": scope}, missing_ok=True
        )
        if updated is None:
            http.request("POST", path, {"key": name, "environment_scope": scope, **body})

    return core.deliver_pair(config, key, f"GitLab CI/CD variables {path} (environment scope {scope})", put)
