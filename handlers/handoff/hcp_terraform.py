"""Sets a pair of sensitive environment variables in an HCP Terraform / Terraform Enterprise
workspace or variable set.

Metadata (optional, per user): target=workspace|varset; workspace_id=ws-...; varset_id=varset-...;
key_id_name=<variable>; secret_key_name=<variable>.
"""

from __future__ import annotations

from typing import Any

from handoff import core

OVERRIDABLE = ["target", "workspace_id", "varset_id", "key_id_name", "secret_key_name"]
_JSON_API = "application/vnd.api+json"


def vars_path(config: dict) -> str:
    target = config.get("target") or "workspace"
    if target == "workspace":
        return f"/api/v2/workspaces/{core.require(config, 'workspace_id')[0]}/vars"
    if target == "varset":
        return f"/api/v2/varsets/{core.require(config, 'varset_id')[0]}/relationships/vars"
    raise core.SettingsError(f"target {target!r} is not workspace or varset")


def list_all(http: core.Http, path: str) -> list[dict]:
    """Every variable, following the JSON:API pagination (links.next, else meta.pagination's
    next-page): a variable past the first page is otherwise created again every run, and refused."""
    found: list[dict] = []
    page: int | None = 1
    url: str | None = None
    while page or url:
        document = (
            http.get(url=http.same_origin(url))
            if url
            else http.get(path, query={"page[number]": str(page), "page[size]": "100"})
        ).json()
        found += document.get("data") or []
        url = (document.get("links") or {}).get("next")
        pagination = (document.get("meta") or {}).get("pagination") or {}
        page = None if url else pagination.get("next-page")
    return found


def handler(event: dict, context: Any) -> dict:
    path = vars_path(core.settings(event, OVERRIDABLE))
    config, key, http = core.connect(
        event,
        context,
        OVERRIDABLE,
        "address",
        lambda t: {"Authorization": f"Bearer {t}", "Accept": _JSON_API},
    )
    # Sensitive values are write-only, but keys are listed: update the variable when it exists.
    existing = {
        var["attributes"]["key"]: var["id"]
        for var in list_all(http, path)
        if var["attributes"].get("category") == "env"
    }

    def put(name: str, value: str) -> None:
        attributes = {"key": name, "value": value, "category": "env", "hcl": False, "sensitive": True}
        if name in existing:
            body = {"data": {"type": "vars", "id": existing[name], "attributes": attributes}}
            http.request("PATCH", f"{path}/{existing[name]}", body, content_type=_JSON_API, idempotent=True)
        else:
            # Not retried: a create that landed unseen would make the retry a duplicate (422).
            body = {"data": {"type": "vars", "attributes": attributes}}
            http.request("POST", path, body, content_type=_JSON_API)

    return core.deliver_pair(config, key, f"HCP Terraform variables {path}", put)
