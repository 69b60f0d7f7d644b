"""Several AWS accounts on the emulated AWS (issue 11). moto keeps accounts apart by the
credentials of an assumed role, but its AssumeRole assumes any role ARN, existing or not, and
evaluates no trust policy (see tests/README.md). While `checking` is on, AssumeRole does what AWS
does for the cases the tests need: it refuses (AccessDenied) a role that does not exist, and a caller
the role's trust policy does not name. Every emulated Lambda function signs with the same test
credentials, so the caller is told apart the only way left: the function whose name the
RoleSessionName carries (the rotator names its sessions so), whose role is the caller."""

from __future__ import annotations

import fnmatch
import json
from typing import Any, Callable
from urllib.parse import unquote

from harness import ACCOUNT_ID, REGION


def trusts(document: dict, principal_arn: str, principal_account: str) -> bool:
    """Whether a trust policy lets this role assume the role: an Allow of sts:AssumeRole naming the
    principal's ARN, or its account (`arn:aws:iam::<account>:root` or the bare id), whose conditions
    hold. Only these conditions are read, any other fails closed: StringEquals on
    aws:PrincipalAccount, and ArnEquals, ArnLike, StringEquals or StringLike on aws:PrincipalArn (for
    a role's session, AWS sets aws:PrincipalArn to the role's ARN, path included)."""
    account_principals = {f"arn:aws:iam::{principal_account}:root", principal_account}
    for statement in document.get("Statement", []):
        actions = statement.get("Action", [])
        actions = actions if isinstance(actions, list) else [actions]
        if statement.get("Effect") != "Allow" or not any(
            fnmatch.fnmatchcase("sts:AssumeRole", a) for a in actions
        ):
            continue
        principals = (statement.get("Principal") or {}).get("AWS", [])
        principals = principals if isinstance(principals, list) else [principals]
        if principal_arn not in principals and not account_principals & set(principals):
            continue
        conditions = statement.get("Condition", {})
        if all(
            all(
                _holds(operator, key, v if isinstance(v, list) else [v], principal_arn, principal_account)
                for key, v in tests.items()
            )
            for operator, tests in conditions.items()
        ):
            return True
    return False


def _holds(operator: str, key: str, values: list, principal_arn: str, principal_account: str) -> bool:
    if key == "aws:PrincipalAccount" and operator == "StringEquals":
        return principal_account in values
    if key == "aws:PrincipalArn" and operator in ("ArnEquals", "StringEquals"):
        return principal_arn in values
    if key == "aws:PrincipalArn" and operator in ("ArnLike", "StringLike"):
        return any(fnmatch.fnmatchcase(principal_arn, v) for v in values)
    return False


def role_document(role: Any) -> dict:
    document = role.assume_role_policy_document
    return json.loads(unquote(document)) if isinstance(document, str) else document


def install(checking: Callable[[], bool]) -> None:
    from moto.awslambda.models import lambda_backends
    from moto.iam.models import iam_backends
    from moto.sts.exceptions import STSClientError
    from moto.sts.models import STSBackend

    if getattr(STSBackend, "_checked_by_harness", False):
        return
    assume_role = STSBackend.assume_role

    def checked(self: STSBackend, **kwargs: Any) -> Any:
        if checking():
            role_arn, session = kwargs["role_arn"], kwargs["role_session_name"]
            account = role_arn.split(":")[4]
            try:
                role = iam_backends[account]["aws"].get_role_by_arn(role_arn)
            except Exception:
                role = None
            try:
                caller = lambda_backends[ACCOUNT_ID][REGION].get_function(session).role
            except Exception:
                caller = f"arn:aws:sts::{self.account_id}:assumed-role/unknown/{session}"
            if role is None or not trusts(role_document(role), caller, caller.split(":")[4]):
                raise STSClientError(
                    "AccessDenied",
                    f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                )
        return assume_role(self, **kwargs)

    STSBackend.assume_role = checked  # type: ignore[method-assign,assignment]
    STSBackend._checked_by_harness = True  # type: ignore[attr-defined]


def account_of(access_key_id: str) -> str:
    """The account whose credentials these are (an IAM user's key, or an assumed role's)."""
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key_id)
