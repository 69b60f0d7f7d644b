"""Least privilege, checked against the policies the module deployed. moto stores IAM policies but
does not evaluate them, so this evaluates what the module's policies use: Allow statements, Action
and Resource with * and ? wildcards, StringEquals conditions on iam:ResourceTag/<key> and
cloudwatch:namespace, and the tagging conditions (ForAllValues:StringLike on aws:TagKeys,
StringEqualsIfExists on aws:RequestTag/<key>). Any other
condition fails closed (the call counts as denied), so a policy this cannot read fails the checks.
"""

from __future__ import annotations

import fnmatch
import json
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import unquote

from botocore.exceptions import ClientError

from harness import ACCOUNT_ID, REGION

if TYPE_CHECKING:
    from harness.aws import EmulatedAws

# boto3 service name -> IAM action prefix, where they differ.
_ACTION_PREFIX = {"stepfunctions": "states"}
# boto3 operation -> IAM action, where they differ.
_ACTION_NAME = {"lambda:Invoke": "lambda:InvokeFunction"}
# Calls that need no permission.
_UNAUTHORISED = {"sts:GetCallerIdentity"}


def role_policies(iam: Any, role_name: str) -> list[dict]:
    """The role's inline and attached managed policy documents, as deployed."""
    documents = [
        iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
        for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    ]
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)[
            "PolicyVersion"
        ]["Document"]
        documents.append(json.loads(unquote(document)) if isinstance(document, str) else document)
    return [json.loads(d) if isinstance(d, str) else d for d in documents]


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _conditions_hold(condition: dict, context: dict[str, Any]) -> bool:
    for operator, tests in condition.items():
        for key, values in tests.items():
            values = _as_list(values)
            if operator == "StringEquals":
                known = key.startswith("iam:ResourceTag/") or key == "cloudwatch:namespace"
                if not known or context.get(key) not in values:
                    return False
            elif operator == "ForAllValues:StringLike" and key == "aws:TagKeys":
                # True when the request carries no tag keys (any action but TagUser and UntagUser).
                if not all(any(fnmatch.fnmatchcase(k, v) for v in values) for k in context.get(key, [])):
                    return False
            elif operator == "StringEqualsIfExists" and key.startswith("aws:RequestTag/"):
                if key in context and context[key] not in values:
                    return False
            else:
                return False
    return True


def allows(policies: list[dict], action: str, resource: str, context: dict[str, Any] | None = None) -> bool:
    for policy in policies:
        for statement in _as_list(policy["Statement"]):
            if statement.get("Effect") != "Allow":
                continue
            if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _as_list(statement["Action"])):
                continue
            if not any(fnmatch.fnmatchcase(resource, r) for r in _as_list(statement["Resource"])):
                continue
            if _conditions_hold(statement.get("Condition", {}), context or {}):
                return True
    return False


class Requests:
    """Turns a Lambda function's recorded API calls into IAM requests: (action, resource, context)."""

    def __init__(self, iam: Any) -> None:
        self._iam = iam
        self._users: dict[str, tuple[str, dict[str, str]]] = {}

    def user(self, username: str) -> tuple[str, dict[str, str]]:
        if username not in self._users:
            arn = self._iam.get_user(UserName=username)["User"]["Arn"]
            tags = self._iam.list_user_tags(UserName=username)["Tags"]
            self._users[username] = (arn, {f"iam:ResourceTag/{t['Key']}": t["Value"] for t in tags})
        return self._users[username]

    def of(self, call: str, target: dict) -> list[tuple[str, str, dict[str, Any]]]:
        if call in _UNAUTHORISED:
            return []
        service, operation = call.split(":")
        action = _ACTION_NAME.get(call, f"{_ACTION_PREFIX.get(service, service)}:{operation}")
        if service == "lambda":
            return [(action, target["FunctionName"], {})]
        if service == "iam":
            # For GetAccessKeyLastUsed, the runtime records the user the key belongs to.
            arn, user_context = self.user(target["UserName"])
            context: dict[str, Any] = dict(user_context)
            # The tags a request carries (TagUser's keys and values, UntagUser's keys).
            tags = {t["Key"]: t["Value"] for t in target.get("Tags") or []}
            keys = list(tags) or list(target.get("TagKeys") or [])
            if keys:
                context = {
                    **user_context,
                    "aws:TagKeys": keys,
                    **{f"aws:RequestTag/{k}": v for k, v in tags.items()},
                }
            return [(action, arn, context)]
        if service == "secretsmanager":
            name = target.get("SecretId") or target["Name"]
            return [(action, f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{name}-AbCdEf", {})]
        if service == "ssm":
            names = [target["Path"]] if "Path" in target else target.get("Names") or [target["Name"]]
            return [(action, f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{n}", {}) for n in names]
        if service == "stepfunctions":
            # DescribeStateMachine: the list Terraform wrote, in the rotation machine's definition.
            return [(action, target.get("executionArn") or target["stateMachineArn"], {})]
        if service == "sts":
            # AssumeRole of a member account's role (issue 11); the calls made with its credentials
            # are the member role's, checked against its policies by tests/test_multi_account.py.
            return [(action, target["RoleArn"], {})]
        if service == "cloudwatch":
            # PutMetricData has no resource; its namespace is the condition key.
            return [(action, "*", {"cloudwatch:namespace": target["Namespace"]})]
        raise AssertionError(f"no IAM resource known for {call}: extend harness/iam_policy.py")


def in_flight_tags(calls: list[tuple[str, dict]], name: str) -> list[dict[str, str]]:
    """For each of these calls (in the order made), the rotator's in-flight tag as the call's user wore
    it then, as a condition context: after the user's TagUser, through its UntagUser. (The users' tags
    read after a run no longer show it.)"""
    worn: set[str] = set()
    contexts = []
    for call, target in calls:
        user = str(target.get("UserName"))
        contexts.append(
            {f"iam:ResourceTag/iam-credentials-rotator/{name}": "rotating"} if user in worn else {}
        )
        if call == "iam:TagUser":
            worn.add(user)
        elif call == "iam:UntagUser":
            worn.discard(user)
    return contexts


def enforcer(iam: Any, role_name: str) -> Callable[[str, dict], None]:
    """What IAM would decide for each call of a function, from its role's policies and the user's tags
    as they are at the moment of the call (moto stores policies, never evaluates them): raises the
    AccessDenied error AWS gives for a call no policy allows. For tests/ of permissions that change
    mid-run (a user removed from `users`)."""

    def enforce(call: str, target: dict) -> None:
        requests = Requests(iam).of(call, target)
        policies = role_policies(iam, role_name) if requests else []
        for action, resource, context in requests:
            if not allows(policies, action, resource, context):
                service, operation = call.split(":")
                code = "AccessDenied" if service in ("iam", "sts") else "AccessDeniedException"
                message = (
                    f"User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role_name}/{role_name} is not authorized to "
                    f"perform: {action} on resource: {resource} because no identity-based policy allows the "
                    f"{action} action"
                )
                raise ClientError({"Error": {"Code": code, "Message": message}}, operation)

    return enforce


def least_privilege(aws: EmulatedAws, name: str, invocations: list) -> dict:
    """Checks each function's calls against its role's deployed policies: every call allowed, and
    the same actions denied on a user tagged for another rotator, on another rotator's secrets and
    on another users list."""
    iam = aws.client("iam")
    requests = Requests(iam)
    outsider, outsider_tags = requests.user(f"{name}-outsider")
    policies: dict[str, list[dict]] = {}
    checked, denied, reachable = 0, set(), set()
    own = [
        (i.function_name, call, target)
        for i in invocations
        for call, target in zip(i.api_calls, i.api_targets)
    ]
    # Calls made in a member account, with its member role's credentials, are checked by their tests.
    own = [(role, call, target) for role, call, target in own if "Signer" not in target]
    worn = in_flight_tags([(call, target) for _, call, target in own], name)
    for (role, call, target), in_flight in zip(own, worn):
        if role not in policies:  # each function's role bears its name
            policies[role] = role_policies(iam, role)
        for action, resource, user_context in requests.of(call, target):
            context = {**user_context, **in_flight} if action.startswith("iam:") else user_context
            checked += 1
            if not allows(policies[role], action, resource, context):
                denied.add(f"{role} {action} {resource}")
            if action == "iam:GetUser":
                # Read-only on any user by design: RotateKey reads a user's path to refuse one found
                # elsewhere than declared (issue 24), and a user at another path is not a listed ARN.
                continue
            if action.startswith("iam:"):
                elsewhere = (outsider, outsider_tags)
            elif action.startswith("secretsmanager:"):
                other = resource.replace(f":secret:{name}/", f":secret:{name}-other/")
                # A member account's user's secret (issue 11): "<name>@<account>/<username>".
                elsewhere = (other.replace(f":secret:{name}@", f":secret:{name}-other@"), {})
            elif action.startswith("lambda:"):
                elsewhere = (resource.replace(f":function:{name}-", f":function:{name}-other-"), {})
            elif action.startswith("ssm:"):
                elsewhere = (f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/{name}-other/users", {})
            elif action.startswith("cloudwatch:"):
                elsewhere = ("*", {"cloudwatch:namespace": "AWS/IAM"})
            elif action.startswith("sts:"):
                # The same role in an account whose users are not listed.
                elsewhere = (f"arn:aws:iam::999999999999:role/{resource.rsplit('/', 1)[-1]}", {})
            elif ":stateMachine:" in resource:
                elsewhere = (resource.replace(f":stateMachine:{name}", f":stateMachine:{name}-other"), {})
            else:
                elsewhere = (resource.replace(f":execution:{name}:", f":execution:{name}-other:"), {})
            if allows(policies[role], action, *elsewhere):
                reachable.add(f"{role} {action} {elsewhere[0]}")
    return {"calls checked": checked, "denied": sorted(denied), "out of scope but allowed": sorted(reachable)}
