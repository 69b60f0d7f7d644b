#!/usr/bin/env python3
"""Renders the README's Inputs and Outputs tables from variables.tf and outputs.tf.

python scripts/docs.py          # rewrite the tables in README.md
python scripts/docs.py --check  # exit 1 if README.md's tables differ from the code
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"


def blocks(text: str, kind: str) -> dict[str, str]:
    """Top-level `kind "name" { ... }` blocks: name -> body (braces inside strings ignored)."""
    found = {}
    for match in re.finditer(rf'^{kind} "([^"]+)" {{\n', text, re.M):
        depth, i, in_string = 1, match.end(), False
        while depth:
            c = text[i]
            if in_string:
                if c == "\\":
                    i += 1
                elif c == '"':
                    in_string = False
            elif c == '"':
                in_string = True
            elif c in "{(":
                depth += c == "{"
            elif c == "}":
                depth -= 1
            i += 1
        found[match.group(1)] = text[match.end() : i - 1]
    return found


def attribute(body: str, name: str) -> str | None:
    """The raw expression of a top-level attribute (first-level indentation) of a block body."""
    match = re.search(rf"^  {name}\s*=\s*", body, re.M)
    if not match:
        return None
    rest, depth, end = body[match.end() :], 0, 0
    in_string = False
    for end, c in enumerate(rest):
        if in_string:
            if c == '"' and rest[end - 1] != "\\":
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "\n" and depth == 0:
            break
    return rest[:end].rstrip()


def unquote(expression: str) -> str:
    return expression[1:-1].replace('\\"', '"') if expression.startswith('"') else expression


def cell(expression: str) -> str:
    if "\n" in expression:
        return "<pre>" + expression.replace("\n", "<br>") + "</pre>"
    return f"`{expression}`".replace("|", "\\|")


def render() -> str:
    variables = blocks((ROOT / "variables.tf").read_text(), "variable")
    outputs = blocks((ROOT / "outputs.tf").read_text(), "output")
    rows = [
        "## Inputs",
        "",
        "| Name | Description | Type | Default | Required |",
        "|------|-------------|------|---------|:--------:|",
    ]
    ordered = sorted(variables.items(), key=lambda item: (attribute(item[1], "default") is not None, item[0]))
    for name, body in ordered:
        default = attribute(body, "default")
        description = unquote(attribute(body, "description") or "").replace("|", "\\|")
        rows.append(
            f"| `{name}` | {description} | {cell(attribute(body, 'type') or 'any')} | "
            f"{cell(default) if default is not None else 'n/a'} | {'no' if default is not None else 'yes'} |"
        )
    rows += ["", "## Outputs", "", "| Name | Description |", "|------|-------------|"]
    for name, body in sorted(outputs.items()):
        rows.append(f"| `{name}` | {unquote(attribute(body, 'description') or '')} |")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    readme = (ROOT / "README.md").read_text()
    head, rest = readme.split(BEGIN)
    _, tail = rest.split(END)
    updated = f"{head}{BEGIN}\n{render()}\n{END}{tail}"
    if "--check" in argv:
        if updated != readme:
            print(
                "README.md's Inputs/Outputs tables are out of date: run python scripts/docs.py",
                file=sys.stderr,
            )
            return 1
        return 0
    (ROOT / "README.md").write_text(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
