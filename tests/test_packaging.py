"""The module ships what it promises: reproducible zips, a verified provider, nothing else needed."""

import base64
import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.terraform import ROOT, TERRAFORM, terraform_env
from scripts import build_zips

# hashicorp/aws 5.100.0: the h1: hash of its linux_amd64 package (the hash public lock files carry), and
# HashiCorp's published zh: hashes of its release zips, one per platform (its SHA256SUMS).
PROVIDER_H1 = "h1:edXOJWE4ORX8Fm+dpVpICzMZJat4AX0VRCAy/xkcOc0="
PROVIDER_ZH = {
    "054b8dd49f0549c9a7cc27d159e45327b7b65cf404da5e5a20da154b90b8a644",
    "0b97bf8d5e03d15d83cc40b0530a1f84b459354939ba6f135a0086c20ebbe6b2",
    "1589a2266af699cbd5d80737a0fe02e54ec9cf2ca54e7e00ac51c7359056f274",
    "6330766f1d85f01ae6ea90d1b214b8b74cc8c1badc4696b165b36ddd4cc15f7b",
    "7c8c2e30d8e55291b86fcb64bdf6c25489d538688545eb48fd74ad622e5d3862",
    "99b1003bd9bd32ee323544da897148f46a527f622dc3971af63ea3e251596342",
    "9b12af85486a96aedd8d7984b0ff811a4b42e3d88dad1a3fb4c0b580d04fa425",
    "9f8b909d3ec50ade83c8062290378b1ec553edef6a447c56dadc01a99f4eaa93",
    "aaef921ff9aabaf8b1869a86d692ebd24fbd4e12c21205034bb679b9caf883a2",
    "ac882313207aba00dd5a76dbd572a0ddc818bb9cbf5c9d61b28fe30efaec951e",
    "bb64e8aff37becab373a1a0cc1080990785304141af42ed6aa3dd4913b000421",
    "dfe495f6621df5540d9c92ad40b8067376350b005c637ea6efac5dc15028add4",
    "f0ddf0eaf052766cfe09dea8200a946519f653c384ab4336e2a4a64fdd6310e9",
    "f1b7e684f4c7ae1eed272b6de7d2049bb87a0275cb04dbb7cda6636f600699c9",
    "ff461571e3f233699bf690db319dfe46aec75e58726636a0d97dd9ac6e32fb70",
}


def test_committed_zips_are_rebuilt_byte_for_byte_from_source():
    for target, (source, prefix) in build_zips.ZIPS.items():
        assert target.read_bytes() == build_zips.build(source, prefix), target
    wheels = build_zips.fetch_wheels()  # the pinned wheels, downloaded once into .tools/wheels
    assert {a: len(w) for a, w in wheels.items()} == {"x86_64": 7, "arm64": 7}  # PyNaCl, cffi for 3.8 to 3.13
    for name, vendors in build_zips.HANDLERS.items():
        for architecture in ["x86_64", "arm64"] if vendors else ["x86_64"]:
            built = build_zips.build_handler(name, wheels[architecture])
            assert build_zips.handler_zip(name, architecture).read_bytes() == built, (name, architecture)
    assert build_zips.main(["--check"]) == 0


# ELF's e_machine of each Lambda architecture.
ELF_MACHINE = {"x86_64": 62, "arm64": 183}


@pytest.mark.parametrize("architecture, machine", [("x86_64", "x86_64"), ("arm64", "aarch64")])
def test_github_actions_zip_ships_pynacl_and_a_cffi_backend_for_every_accepted_runtime(architecture, machine):
    import zipfile

    package = zipfile.ZipFile(build_zips.handler_zip("github_actions", architecture))
    names = package.namelist()
    assert (
        "nacl/_sodium.abi3.so" in names
        and "handoff/core.py" in names
        and "handoff/github_actions.py" in names
    )
    backends = sorted(n for n in names if n.startswith("_cffi_backend."))
    assert backends == sorted(
        f"_cffi_backend.cpython-{v.replace('.', '')}-{machine}-linux-gnu.so"
        for v in build_zips.PYTHON_VERSIONS
    )
    # Every compiled file is code for this architecture's instruction set.
    for name in (n for n in names if n.endswith(".so")):
        header = package.read(name)[:20]
        assert (
            header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == ELF_MACHINE[architecture]
        ), name
    runtimes = re.search(
        r'contains\(\[("python3[^]]+)\]', (ROOT / "modules/handler-github-actions/variables.tf").read_text()
    )
    assert runtimes.group(1).replace('"', "").split(", ") == [
        f"python{v}" for v in build_zips.PYTHON_VERSIONS
    ]
    for other in set(build_zips.HANDLERS) - {"github_actions"}:
        assert zipfile.ZipFile(build_zips.handler_zip(other)).namelist() == sorted(
            f"handoff/{m}.py" for m in ["__init__", "core", other]
        )
        assert not build_zips.handler_zip(other, "arm64").exists()  # pure Python: one zip serves both


def test_the_github_actions_zip_imports_and_seals_on_this_python_alone(tmp_path):
    import zipfile

    zipfile.ZipFile(build_zips.handler_zip("github_actions")).extractall(tmp_path)
    code = (
        "import sys; sys.path[:0] = [sys.argv[1]];"
        "from nacl.public import PrivateKey, SealedBox; import nacl, _cffi_backend;"
        "assert nacl.__file__.startswith(sys.argv[1]) and _cffi_backend.__file__.startswith(sys.argv[1]);"
        "k = PrivateKey.generate(); print(SealedBox(k).decrypt(SealedBox(k.public_key).encrypt(b'ok')).decode())"
    )
    # -S: without site-packages, so only the zip's own PyNaCl and cffi backend can be imported.
    proc = subprocess.run([sys.executable, "-S", "-c", code, str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_check_skips_the_vendoring_zip_without_downloading_when_the_wheels_are_missing(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(build_zips, "WHEELS", tmp_path / "no-wheels")
    assert build_zips.main(["--check"]) == 0
    assert "skipped " in capsys.readouterr().err and not (tmp_path / "no-wheels").exists()


def test_check_fails_when_a_zip_is_stale(tmp_path, monkeypatch):
    stale = tmp_path / "stale.zip"
    stale.write_bytes(b"old")
    monkeypatch.setattr(build_zips, "ZIPS", {stale: (ROOT / "lambda" / "rotator", "rotator")})
    assert build_zips.main(["--check"]) == 1


def package_hash_h1(directory):
    """Terraform's h1: hash of an unpacked provider package (Go's dirhash.Hash1): the SHA-256 of the
    sorted lines "<file's SHA-256>  <file name>"."""
    lines = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest = hashlib.sha256()
        with path.open("rb") as file:
            for chunk in iter(lambda: file.read(1 << 20), b""):
                digest.update(chunk)
        lines.append(f"{digest.hexdigest()}  {path.relative_to(directory).as_posix()}\n")
    return "h1:" + base64.b64encode(hashlib.sha256("".join(lines).encode()).digest()).decode()


def test_lock_files_pin_the_verified_provider_build():
    lock_files = [ROOT / root / ".terraform.lock.hcl" for root in ROOTS]
    assert {p.parent.name for p in ROOT.glob("examples/*/main.tf")} <= {p.parent.name for p in lock_files}
    for lock in lock_files:
        text = lock.read_text()
        assert 'version     = "5.100.0"' in text, lock
        assert set(re.findall(r'"h1:[^"]+"', text)) == {f'"{PROVIDER_H1}"'}, lock
        assert set(re.findall(r'"zh:([0-9a-f]{64})"', text)) == PROVIDER_ZH, lock
    # What `terraform init` links here is that very package, by our own computation of its hash.
    rc = (ROOT / ".tools/terraformrc").read_text()
    mirror = re.search(r'path\s*=\s*"([^"]+)"', rc)
    served = Path(mirror.group(1)) if mirror else ROOT / ".tools/plugin-cache"
    packages = list(served.glob("registry.terraform.io/hashicorp/aws/5.100.0/*"))
    assert packages, f"no hashicorp/aws 5.100.0 under {served}"
    linux = [p for p in packages if p.name == "linux_amd64"]
    for package in linux:
        assert package_hash_h1(package) == PROVIDER_H1


def test_module_requires_only_the_aws_provider():
    sources = re.findall(r'source\s*=\s*"([^"]+)"', (ROOT / "versions.tf").read_text())
    assert sources == ["hashicorp/aws"]
    assert 'version = ">= 5.100"' in (ROOT / "versions.tf").read_text()
    # Every submodule and example says what it needs in its own versions.tf, as registry modules do.
    for folder in list(ROOT.glob("modules/*/")) + list(ROOT.glob("examples/*/")):
        versions = folder / "versions.tf"
        assert versions.is_file(), versions
        assert 'version = ">= 5.100"' in versions.read_text(), versions
    for tf in list(ROOT.glob("*.tf")) + list(ROOT.glob("modules/*/*.tf")):
        assert not re.search(r'(resource|data)\s+"(archive|null|external|local)_', tf.read_text()), tf


def test_terraform_files_are_formatted():
    proc = subprocess.run(
        [str(TERRAFORM), "fmt", "-check", "-recursive", "-diff"],
        cwd=ROOT,
        env={**terraform_env()},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_python_files_are_formatted_with_black():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "black",
            "--check",
            "--quiet",
            "lambda",
            "handlers",
            "tests",
            "scripts",
            "examples",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_readme_inputs_and_outputs_tables_match_the_code():
    from scripts import docs

    assert docs.main(["--check"]) == 0
    readme = (ROOT / "README.md").read_text()
    variables = docs.blocks((ROOT / "variables.tf").read_text(), "variable")
    outputs = docs.blocks((ROOT / "outputs.tf").read_text(), "output")
    for name in list(variables) + list(outputs):
        assert f"| `{name}` |" in readme, name
    for name, body in variables.items():
        assert docs.attribute(body, "description") and docs.attribute(body, "type"), name
    for name, body in outputs.items():
        assert docs.attribute(body, "description"), name


def test_docs_check_fails_when_a_table_drifts(tmp_path, monkeypatch):
    from scripts import docs

    for name in ["README.md", "variables.tf", "outputs.tf"]:
        (tmp_path / name).write_text((ROOT / name).read_text())
    (tmp_path / "variables.tf").write_text(
        (ROOT / "variables.tf").read_text().replace('default     = "1h"', 'default     = "2h"')
    )
    monkeypatch.setattr(docs, "ROOT", tmp_path)
    assert docs.main(["--check"]) == 1


def code_blocks(language):
    for readme in [
        ROOT / "README.md",
        *sorted(ROOT.glob("examples/*/README.md")),
        *sorted(ROOT.glob("modules/*/README.md")),
    ]:
        for block in re.findall(rf"```{language}\n(.*?)```", readme.read_text(), re.S):
            yield readme.relative_to(ROOT), block


def test_readme_code_blocks_are_valid_and_formatted():
    import json

    import black

    hcl = list(code_blocks("hcl"))
    assert hcl
    for readme, block in hcl:
        proc = subprocess.run(
            [str(TERRAFORM), "fmt", "-"], input=block, env=terraform_env(), capture_output=True, text=True
        )
        assert proc.returncode == 0, (readme, proc.stderr)
        assert proc.stdout == block, f"{readme}: an hcl block is not terraform fmt clean:\n{proc.stdout}"
    for _readme, block in code_blocks("json"):
        json.loads(block)
    for readme, block in code_blocks("python"):
        mode = black.Mode(line_length=110)
        assert black.format_str(block, mode=mode) == block, f"{readme}: a python block is not black clean"


ROOTS = [
    ".",
    "examples/basic",
    "examples/complete",
    "examples/multi-account",
    *sorted(f"examples/{p.parent.name}" for p in ROOT.glob("examples/handler-*/main.tf")),
    "tests/fixtures/plan",
    "tests/fixtures/multi",
    "tests/fixtures/faults",
    "tests/fixtures/staleness",
    "tests/fixtures/trust",
    "tests/fixtures/handlers",
    "tests/fixtures/handler_inputs",
    "tests/fixtures/member_plan",
    "tests/fixtures/bench_members",
]


def test_module_and_every_example_validate(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from harness.terraform import copy_repository

    copy_repository(tmp_path)

    def init_and_validate(root):
        for command in [
            ["init", "-backend=false", "-input=false", "-lockfile=readonly"],
            ["validate", "-no-color"],
        ]:
            proc = subprocess.run(
                [str(TERRAFORM), *command],
                cwd=tmp_path / root,
                env={**terraform_env(), "AWS_REGION": "us-east-1"},
                capture_output=True,
                text=True,
            )
            if proc.returncode:
                return root, command, proc.stdout + proc.stderr
        return None

    # Each root on its own: their time is mostly the provider starting up and loading its schema.
    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [f for f in pool.map(init_and_validate, ROOTS) if f]
    assert failures == []
