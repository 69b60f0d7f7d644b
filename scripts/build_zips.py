#!/usr/bin/env python3
"""Builds the committed Lambda zips deterministically, or checks that they are up to date.

The module ships its Lambda code as a committed zip so that users need no build step and no
archive provider. Entries are sorted, timestamps and permissions fixed, and stored uncompressed
(deflate output can differ between zlib builds), so a rebuild is byte-for-byte identical.

    python scripts/build_zips.py          # rebuild every zip
    python scripts/build_zips.py --check  # exit 1 if a committed zip differs from a rebuild

The ready-made handlers (modules/handler-*/handler.zip) hold the shared `handoff` package's core and
the handler's own module. The GitHub Actions handler also vendors PyNaCl and cffi's compiled backend
from wheels pinned by hash in handlers/requirements-github-actions.txt: one `_cffi_backend` per CPython
version, side by side (their file names carry the version), in one zip per Lambda architecture
(handler.zip for x86_64, handler-arm64.zip for arm64: compiled code runs on one instruction set). A rebuild downloads the wheels with pip into
.tools/wheels/ when they are not there yet. `--check` never downloads: without those wheels it says
that it skipped that zip, and checks the others (the tests download them first, then check every zip).
"""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# zip file -> (source folder, folder inside the zip)
ZIPS = {
    ROOT / "dist" / "rotator-lambda.zip": (ROOT / "lambda" / "rotator", "rotator"),
    ROOT / "examples" / "basic" / "handler.zip": (ROOT / "examples" / "basic" / "handler", ""),
    ROOT / "examples" / "complete" / "handler.zip": (ROOT / "examples" / "complete" / "handler", ""),
}
# Ready-made handlers: Python module in handlers/handoff/ -> does it vendor PyNaCl?
HANDLERS = {
    "circleci": False,
    "github_actions": True,
    "gitlab_ci": False,
    "hcp_terraform": False,
    "manual": False,
    "webhook": False,
}
HANDOFF = ROOT / "handlers" / "handoff"
WHEELS = ROOT / ".tools" / "wheels"
PINS = ROOT / "handlers" / "requirements-github-actions.txt"
# Lambda's architectures -> the machine name in a manylinux wheel's platform tag.
ARCHITECTURES = {"x86_64": "x86_64", "arm64": "aarch64"}
# The CPython versions whose _cffi_backend the GitHub Actions handler ships (its module accepts the
# matching Lambda runtimes; 3.11 is also the version the tests run Lambda code with).
PYTHON_VERSIONS = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]
_EPOCH = (1980, 1, 1, 0, 0, 0)


def handler_zip(name: str, architecture: str = "x86_64") -> Path:
    suffix = "" if architecture == "x86_64" else f"-{architecture}"
    return ROOT / "modules" / ("handler-" + name.replace("_", "-")) / f"handler{suffix}.zip"


def pack(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for arcname in sorted(entries):
            info = zipfile.ZipInfo(arcname, date_time=_EPOCH)
            info.external_attr = (0o100755 if arcname.endswith(".so") else 0o100644) << 16
            info.create_system = 3
            archive.writestr(info, entries[arcname])
    return buffer.getvalue()


def sources(source: Path, prefix: str) -> dict[str, bytes]:
    files = (p for p in source.rglob("*.py") if "__pycache__" not in p.parts)
    return {"/".join(filter(None, [prefix, p.relative_to(source).as_posix()])): p.read_bytes() for p in files}


def build(source: Path, prefix: str) -> bytes:
    return pack(sources(source, prefix))


def wheels(architecture: str = "x86_64") -> list[Path]:
    """The pinned wheels of one architecture in the cache (PyNaCl's, then cffi's), each matching a pinned
    hash, or [] if any is missing."""
    pinned = set(re.findall(r"--hash=sha256:([0-9a-f]{64})", PINS.read_text()))
    machine = f"_{ARCHITECTURES[architecture]}."
    found = [
        wheel
        for wheel in sorted(WHEELS.glob("PyNaCl-*.whl")) + sorted(WHEELS.glob("cffi-*.whl"))
        if machine in wheel.name and hashlib.sha256(wheel.read_bytes()).hexdigest() in pinned
    ]
    return found if len(found) == 1 + len(PYTHON_VERSIONS) else []


def fetch_wheels() -> dict[str, list[Path]]:
    """Downloads the pinned wheels for Linux on each architecture, one CPython version at a time,
    checking hashes; returns them by architecture."""
    for architecture, machine in ARCHITECTURES.items():
        if wheels(architecture):
            continue
        WHEELS.mkdir(parents=True, exist_ok=True)
        for version in PYTHON_VERSIONS:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"]
                + [
                    "--no-deps",
                    "--only-binary=:all:",
                    "--require-hashes",
                    "--platform",
                    f"manylinux2014_{machine}",
                ]
                + ["--implementation", "cp", "--python-version", version, "-d", str(WHEELS), "-r", str(PINS)],
                check=True,
            )
    return {architecture: wheels(architecture) for architecture in ARCHITECTURES}


def vendored(found: list[Path]) -> dict[str, bytes]:
    """PyNaCl's package and licence, and each cffi wheel's compiled backend and licence."""
    entries = {}
    for wheel in found:
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                wanted = name.startswith("nacl/") or name.startswith("_cffi_backend.")
                if (wanted or name.endswith(".dist-info/LICENSE")) and not name.endswith("/"):
                    entries[name] = archive.read(name)
    return entries


def build_handler(name: str, found: list[Path]) -> bytes:
    """The handoff package's core and the handler's module (plus the vendored wheels' files)."""
    entries = {
        f"handoff/{module}.py": (HANDOFF / f"{module}.py").read_bytes()
        for module in ["__init__", "core", name]
    }
    if HANDLERS[name]:
        entries.update(vendored(found))
    return pack(entries)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    builds: dict[Path, Callable[[], bytes]] = {
        target: partial(build, source, prefix) for target, (source, prefix) in ZIPS.items()
    }
    found = {a: wheels(a) for a in ARCHITECTURES} if check else fetch_wheels()
    for name, vendors in HANDLERS.items():
        for architecture in ARCHITECTURES if vendors else ["x86_64"]:
            if vendors and not found[architecture]:
                print(
                    f"skipped {handler_zip(name, architecture)}: the pinned wheels are not in {WHEELS} "
                    "(python scripts/build_zips.py downloads them)",
                    file=sys.stderr,
                )
                continue
            builds[handler_zip(name, architecture)] = partial(build_handler, name, found[architecture])
    for target, make in builds.items():
        data = make()
        if check:
            if not target.exists() or target.read_bytes() != data:
                stale.append(target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    if stale:
        print(
            "out of date: " + ", ".join(map(str, stale)) + "; run python scripts/build_zips.py",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
