#!/usr/bin/env python3
"""Checks the module and its examples against the schema of a current hashicorp/aws 6.x release.

The module declares `hashicorp/aws >= 5.100`, and the tests run it on 5.100.0 (the build this machine
image carries). This check covers the other end of that range without a 6.x provider binary:
every resource type, data source and provider block in `*.tf`, `modules/*/*.tf` and `examples/*/*.tf`, and every argument
and nested block they set (recursively, `dynamic` blocks included), must exist in hashicorp/aws 6.x and
must not be marked `@deprecated` there.

The 6.x schema comes from the prebuilt CDK Terrain bindings on PyPI (`cdktn-provider-aws`, pinned
below): the wheel embeds a jsii tarball whose `lib/<type>/**.d.ts` files declare each resource's config
interface and one interface per nested block. Each property's JSDoc links to the registry page anchored
by the argument's Terraform name, so names are read from those links rather than guessed back from the
camelCase properties (which the bindings rename where they clash: `self` -> `selfAttribute`,
`equals` -> `equalTo`, `s3api` -> `s3Api`). The first run downloads the wheel with pip and caches the
`.d.ts` files in `.tools/provider-aws-6/` (git-ignored); later runs are offline.

Limits: the bindings carry the provider's argument names and nesting, not its deprecation notices: in
25.8.1 no config property is `@deprecated` (those tags mark cdktn's own write-only getters), so
deprecations such as `data.aws_region`'s `name` pass unnoticed. Only names are checked: not values,
not references such as `data.aws_region.current.name`, and not whether an object-typed argument is
written as a block or as `x = {...}`. `ephemeral` blocks and other providers' types are not checked.

    python scripts/provider_compat.py             # the module and its examples
    python scripts/provider_compat.py PATH ...    # .tf files or folders of them
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE, PACKAGE_VERSION = "cdktn-provider-aws", "25.8.1"
SCHEMA_DIR = ROOT / ".tools" / "provider-aws-6" / PACKAGE_VERSION
# Terraform's own arguments and blocks of resource, data and provider blocks.
META = {"count", "for_each", "depends_on", "provider", "lifecycle", "provisioner", "connection", "alias"}
PREFIX = {
    "resource": "",
    "data": "data.",
    "provider": "provider.",
}  # the blocks checked, as problems name them


def module_files(root: Path = ROOT) -> list[Path]:
    return (
        sorted(root.glob("*.tf")) + sorted(root.glob("modules/*/*.tf")) + sorted(root.glob("examples/*/*.tf"))
    )


# --- the 6.x schema ---------------------------------------------------------------------------------


def fetch(schema_dir: Path = SCHEMA_DIR) -> Path:
    """Downloads the pinned bindings once and keeps their package.json and lib/**.d.ts."""
    if (schema_dir / "package.json").exists():
        return schema_dir
    schema_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as download, tempfile.TemporaryDirectory(dir=schema_dir.parent) as tmp:
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
        subprocess.run(pip + ["-d", download, f"{PACKAGE}=={PACKAGE_VERSION}"], check=True)
        staging = Path(tmp) / "schema"
        with zipfile.ZipFile(next(Path(download).glob("*.whl"))) as wheel:
            tgz_name = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
            with wheel.open(tgz_name) as raw, tarfile.open(fileobj=raw, mode="r|gz") as tgz:
                for entry in tgz:
                    name = entry.name.removeprefix("package/")
                    wanted = name == "package.json" or (name.startswith("lib/") and name.endswith(".d.ts"))
                    if entry.isfile() and wanted and ".." not in name.split("/"):
                        (staging / name).parent.mkdir(parents=True, exist_ok=True)
                        content = tgz.extractfile(entry)
                        assert content is not None  # a regular file
                        (staging / name).write_bytes(content.read())
        try:
            staging.rename(schema_dir)  # all or nothing
        except OSError:
            if not (schema_dir / "package.json").exists():  # else a concurrent run got there first
                raise
    return schema_dir


def provider_version(schema_dir: Path) -> str:
    package = json.loads((schema_dir / "package.json").read_text())
    return (package.get("cdktn") or package["cdktf"])["provider"]["version"]


INTERFACE = re.compile(r"^export interface (\w+)(?: extends ([\w.]+))? \{\n(.*?)^\}", re.M | re.S)
PROPERTY = re.compile(r"/\*\*(.*?)\*/\s*readonly \w+\??: (.*?);\n(?=\s*/\*\*|\s*\Z)", re.S)
TF_NAME = re.compile(r"#(\w+) \w+#\w+\}")  # {@link https://registry...#source_code_hash LambdaFunction#...}


def is_aws(type_: str) -> bool:
    return type_ == "aws" or type_.startswith("aws_")


@lru_cache(maxsize=None)
def schema(schema_dir: Path, kind: str, type_: str) -> tuple[str, dict] | None:
    """(root interface, {interface: {argument: (deprecated, nested block's interface or None)}}) of a
    resource, data source or provider; None when the provider has no such type."""
    folder = {"resource": type_[4:], "data": "data-" + type_, "provider": "provider"}[kind].replace("_", "-")
    index = schema_dir / "lib" / folder / "index.d.ts"
    expected = "aws" if kind == "provider" else type_
    if not is_aws(type_) or not index.exists() or f'tfResourceType = "{expected}"' not in index.read_text():
        return None
    found: dict[str, tuple[str, str]] = {}
    for file in sorted(index.parent.rglob("*.d.ts")):
        found.update((name, (extends, body)) for name, extends, body in INTERFACE.findall(file.read_text()))
    interfaces: dict[str, dict[str, tuple[bool, str | None]]] = {}
    for name, (_, body) in found.items():
        interfaces[name] = arguments = {}
        for doc, type_text in PROPERTY.findall(body + "\n"):
            nested = next((word for word in re.findall(r"\w+", type_text) if word in found), None)
            link = TF_NAME.search(doc)
            assert link, f"{index.parent}: an argument without its Terraform name: {doc}"
            arguments[link.group(1)] = ("@deprecated" in doc, nested)
    roots = [name for name, (extends, _) in found.items() if "MetaArguments" in extends]
    return (roots[0] if roots else "AwsProviderConfig"), interfaces


# --- the module's HCL -------------------------------------------------------------------------------

TOKEN = re.compile(
    r"""(?P<newline>\n)|(?P<space>[ \t\r]+|\#[^\n]*|//[^\n]*|/\*.*?\*/)|(?P<heredoc><<-?(?P<tag>\w+)[ \t\r]*\n)
    |(?P<string>")|(?P<ident>[A-Za-z_][\w-]*)|(?P<op>==|!=|<=|>=|=>|&&|\|\||\.\.\.|.)""",
    re.S | re.X,
)


def tokens(text: str) -> list[tuple[str, str]]:
    """(kind, text) pairs; a string or heredoc is one token holding its raw body, comments vanish."""
    result: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        match = TOKEN.match(text, i)
        assert match is not None and match.lastgroup  # the last alternative matches any character
        kind, i = match.lastgroup, match.end()
        if kind == "heredoc":  # up to the line that holds only its tag
            tag_line = re.compile(rf"^[ \t]*{match['tag']}[ \t]*$", re.M).search(text, i)
            if tag_line is None:
                raise IndexError("unclosed heredoc")  # parse() reports the file
            result.append(("string", text[i : tag_line.start()]))
            i = tag_line.end()
        elif kind == "string":
            end = skip_string(text, i)
            result.append(("string", text[i : end - 1]))
            i = end
        elif kind != "space":
            result.append((kind, match.group()))
    return result


def skip_string(text: str, i: int) -> int:
    """Index just past the string whose body starts at i, through ${...} and %{...} templates."""
    while text[i] != '"':
        if text[i] == "\\" or text.startswith(("$${", "%%{"), i):
            i += 2 if text[i] == "\\" else 3
        elif text.startswith(("${", "%{"), i):
            depth, i = 1, i + 2
            while depth:
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                i = skip_string(text, i + 1) if text[i] == '"' else i + 1
        else:
            i += 1
    return i + 1


OPEN, CLOSE = {("op", c) for c in "([{"}, {("op", c) for c in ")]}"}
EMPTY: dict[str, Any] = {"args": set(), "blocks": []}


def parse_body(toks: list, i: int = 0) -> tuple[dict, int]:
    """{"args": {name, ...}, "blocks": [(type, labels, body), ...]} of the body starting at toks[i]."""
    body: dict[str, Any] = {"args": set(), "blocks": []}
    while i < len(toks) and toks[i] != ("op", "}"):
        if toks[i][0] == "newline":
            i += 1
        elif toks[i + 1] == ("op", "="):  # an argument: skip its expression to the end of the line
            body["args"].add(toks[i][1])
            depth, i = 0, i + 2
            while i < len(toks) and not (depth == 0 and (toks[i][0] == "newline" or toks[i] == ("op", "}"))):
                depth += (toks[i] in OPEN) - (toks[i] in CLOSE)
                i += 1
        else:  # a block: type, labels, { body }
            start = i
            while toks[i] != ("op", "{"):
                i += 1
            labels = [label for _, label in toks[start + 1 : i]]
            nested, i = parse_body(toks, i + 1)
            body["blocks"].append((toks[start][1], labels, nested))
            i += 1
    return body, i


def parse(path: Path) -> dict:
    try:
        return parse_body(tokens(path.read_text()))[0]
    except (IndexError, AttributeError):  # ran off the end: an unclosed block, string or heredoc
        raise ValueError(f"{path}: cannot parse this file") from None


# --- the check --------------------------------------------------------------------------------------


def check_body(body: dict, interfaces: dict, interface: str, where: str, top: bool = False):
    """Yields (argument path, problem) for each argument or block that the schema lacks or deprecates."""
    named: list[tuple[str, dict | None]] = [(name, None) for name in body["args"]]
    for type_, labels, nested in body["blocks"]:
        if type_ == "dynamic":  # dynamic "x" { for_each = ...  content { ... } } is block x
            named += [(labels[0], next((b for t, _, b in nested["blocks"] if t == "content"), EMPTY))]
        else:
            named.append((type_, nested))
    arguments = interfaces[interface]
    for name, nested in sorted(named, key=lambda pair: pair[0]):
        if top and name in META:
            continue
        if name not in arguments:
            yield f"{where}.{name}", "is not in"
        elif arguments[name][0]:
            yield f"{where}.{name}", "is deprecated in"
        elif nested is not None and arguments[name][1] is None:
            yield f"{where}.{name}", "is an argument, not a block, in"
        elif nested is not None:
            yield from check_body(nested, interfaces, arguments[name][1], f"{where}.{name}")


def check(files: list[Path], schema_dir: Path | None = None) -> tuple[str, list[str], list[str]]:
    """(provider version, problems, one line per file naming the aws types it uses)."""
    schema_dir = schema_dir or fetch()
    version = provider_version(schema_dir)
    problems, checked = [], []
    for path in files:
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        found = []
        for kind, labels, body in parse(path)["blocks"]:
            if kind not in PREFIX or not is_aws(labels[0]):
                continue
            where = PREFIX[kind] + labels[0]
            found.append(where)
            types = schema(schema_dir, kind, labels[0])
            if types is None:
                problems.append(f"{shown}: {where} is not in hashicorp/aws {version}")
                continue
            for what, problem in check_body(body, types[1], types[0], where, top=True):
                problems.append(f"{shown}: {what} {problem} hashicorp/aws {version}")
        checked.append(f"{shown}: {', '.join(sorted(set(found))) or '(no aws blocks)'}")
    return version, problems, checked


def main(argv: list[str]) -> int:
    paths = [Path(p).resolve() for p in argv] or module_files()
    files = [f for p in paths for f in (sorted(p.glob("*.tf")) if p.is_dir() else [p])]
    version, problems, checked = check(files)
    print(f"Checked against hashicorp/aws {version} (schema from {PACKAGE} {PACKAGE_VERSION}):")
    print("\n".join(f"  {line}" for line in checked))
    print("\n".join(problems) or f"OK: every type, argument and block exists in hashicorp/aws {version}.")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
