#!/usr/bin/env python3
"""Builds the committed Lambda zips deterministically, or checks that they are up to date.

The module ships its Lambda code as a committed zip so that users need no build step and no
archive provider. Entries are sorted, timestamps and permissions fixed, and stored uncompressed
(deflate output can differ between zlib builds), so a rebuild is byte-for-byte identical.

    python scripts/build_zips.py          # rebuild every zip
    python scripts/build_zips.py --check  # exit 1 if a committed zip differs from a rebuild
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# zip file -> (source folder, folder inside the zip)
ZIPS = {
    ROOT / "dist" / "rotator-lambda.zip": (ROOT / "lambda" / "rotator", "rotator"),
    ROOT / "examples" / "basic" / "handler.zip": (ROOT / "examples" / "basic" / "handler", ""),
    ROOT / "examples" / "complete" / "handler.zip": (ROOT / "examples" / "complete" / "handler", ""),
}
_EPOCH = (1980, 1, 1, 0, 0, 0)


def build(source: Path, prefix: str) -> bytes:
    buffer = io.BytesIO()
    files = sorted(p for p in source.rglob("*.py") if "__pycache__" not in p.parts)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for path in files:
            arcname = "/".join(filter(None, [prefix, path.relative_to(source).as_posix()]))
            info = zipfile.ZipInfo(arcname, date_time=_EPOCH)
            info.external_attr = 0o100644 << 16
            info.create_system = 3
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for target, (source, prefix) in ZIPS.items():
        data = build(source, prefix)
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
