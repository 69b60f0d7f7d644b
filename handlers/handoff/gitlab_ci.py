"""Sets a GitLab CI/CD variable pair on a project or a group: an existing variable gets its new value
and keeps every other attribute; a new one is created masked and protected as configured.

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
    # Only for a variable this handler creates: an existing one keeps what its owners set.
    created = {
        "masked": core.as_bool(config.get("masked", True)),
        "protected": core.as_bool(config.get("protected", False)),
        "variable_type": "env_var",
        "raw": True,
    }
    # Selects the variable of this environment scope when several share a key (project variables
    # since GitLab 13.2; group variables where the version's API documents it, older ones ignore it).
    where = {"filter[environment_scope]": scope}

    def put(name: str, value: str) -> None:
        # Only the value: GitLab keeps every attribute an update does not name (protected, masked,
        # hidden, raw, variable_type, environment_scope, description). Create only when GitLab says
        # the variable does not exist (404).
        updated = http.request(
            "PUT", f"{path}/{name}", {"value": value}, query=where, missing_ok=True, idempotent=True
        )
        if updated is None:
            http.request("POST", path, {"key": name, "value": value, "environment_scope": scope, **created})

    return core.deliver_pair(config, key, f"GitLab CI/CD variables {path} (environment scope {scope})", put)
