"""Sets a GitHub Actions secret pair (repository, environment or organization), each value sealed
with the target's public key as GitHub's REST API requires (libsodium sealed box, via PyNaCl).

Metadata (optional, per user): target=repository|environment|organization; repository=owner/name;
environment=<name>; organization=<login>; key_id_name=<secret name>; secret_key_name=<secret name>.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from typing import Any

from nacl.public import PublicKey, SealedBox

from handoff import core

OVERRIDABLE = ["target", "repository", "environment", "organization", "key_id_name", "secret_key_name"]
_SECRET_NAME = re.compile(r"^(?!GITHUB_)[A-Za-z_][A-Za-z0-9_]*$", re.I)


def secrets_path(config: dict) -> str:
    target = config.get("target") or "repository"
    if target == "organization":
        (organization,) = core.require(config, "organization")
        return f"/orgs/{_segment(organization)}/actions/secrets"
    (repository,) = core.require(config, "repository")
    if not re.match(r"^[\w.-]+/[\w.-]+$", repository):
        raise core.SettingsError(f"repository {repository!r} is not owner/name")
    if target == "environment":
        (environment,) = core.require(config, "environment")
        # Environment names may hold spaces and other characters a URL path cannot carry as they are.
        return f"/repos/{repository}/environments/{_segment(environment)}/secrets"
    if target == "repository":
        return f"/repos/{repository}/actions/secrets"
    raise core.SettingsError(f"target {target!r} is not repository, environment or organization")


def _segment(value: str) -> str:
    return urllib.parse.quote(str(value), safe="")


def _auth(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }


def handler(event: dict, context: Any) -> dict:
    config = core.settings(event, OVERRIDABLE)
    path = secrets_path(config)
    for setting in ("key_id_name", "secret_key_name"):
        if not _SECRET_NAME.match(config.get(setting) or ""):
            raise core.SettingsError(f"{setting} {config.get(setting)!r} is not a valid GitHub secret name")
    config, key, http = core.connect(event, context, OVERRIDABLE, "api_url", _auth)
    public_key = http.get(f"{path}/public-key").json()
    box = SealedBox(PublicKey(base64.b64decode(public_key["key"])))

    def put(name: str, value: str) -> None:
        extra = _access(http, path, name, config) if path.startswith("/orgs/") else {}
        sealed = base64.b64encode(box.encrypt(value.encode())).decode()
        # Create or update: the same PUT again leaves the same secret, so it may be retried.
        http.request(
            "PUT",
            f"{path}/{name}",
            {"encrypted_value": sealed, "key_id": public_key["key_id"], **extra},
            idempotent=True,
        )

    return core.deliver_pair(config, key, f"GitHub Actions secrets {path}", put)


def _access(http: core.Http, path: str, name: str, config: dict) -> dict[str, Any]:
    """Which repositories may read an organization secret: what an admin set on the existing secret
    (its visibility, and for `selected` its repositories, every page of them), or the module's
    `visibility` for a secret this handler creates."""
    existing = http.request("GET", f"{path}/{name}", missing_ok=True)
    if existing is None:
        return {"visibility": config.get("visibility") or "private"}
    visibility = existing.json()["visibility"]
    if visibility != "selected":
        return {"visibility": visibility}
    ids: list[int] = []
    url: str | None = f"{http.base_url}{path}/{name}/repositories?per_page=100"
    while url:
        page = http.get(url=http.same_origin(url))
        ids += [repository["id"] for repository in page.json()["repositories"]]
        url = core.next_link(page.headers)
    return {"visibility": "selected", "selected_repository_ids": ids}
