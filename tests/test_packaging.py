"""The module ships what it promises: reproducible zips, a verified provider, nothing else needed."""

import hashlib
import re
import subprocess
import sys

from harness.terraform import ROOT, TERRAFORM, terraform_env
from scripts import build_zips

# HashiCorp's published zh: hash of terraform-provider-aws_3.39.0_linux_amd64.zip.
PROVIDER_SHA256 = "4b75e0a259b56d97e66b7d69f3f25bd4cc7be2440c0fe35529f46de7d40a49d3"


def test_committed_zips_are_rebuilt_byte_for_byte_from_source():
    for target, (source, prefix) in build_zips.ZIPS.items():
        assert target.read_bytes() == build_zips.build(source, prefix), target
    wheels = build_zips.fetch_wheels()  # the pinned wheels, downloaded once into .tools/wheels
    assert len(wheels) == 1 + len(build_zips.PYTHON_VERSIONS)
    for name in build_zips.HANDLERS:
        assert build_zips.handler_zip(name).read_bytes() == build_zips.build_handler(name, wheels), name
    assert build_zips.main(["--check"]) == 0


def test_github_actions_zip_ships_pynacl_and_a_cffi_backend_for_every_accepted_runtime():
    import zipfile

    names = zipfile.ZipFile(build_zips.handler_zip("github_actions")).namelist()
    assert (
        "nacl/_sodium.abi3.so" in names
        and "handoff/core.py" in names
        and "handoff/github_actions.py" in names
    )
    backends = sorted(n for n in names if n.startswith("_cffi_backend."))
    assert backends == sorted(
        f"_cffi_backend.cpython-{v.replace('.', '')}-x86_64-linux-gnu.so" for v in build_zips.PYTHON_VERSIONS
    )
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


def test_lock_files_pin_the_verified_provider_build():
    mirrored = (
        ROOT
        / ".tools/mirror/registry.terraform.io/hashicorp/aws/terraform-provider-aws_3.39.0_linux_amd64.zip"
    )
    assert hashlib.sha256(mirrored.read_bytes()).hexdigest() == PROVIDER_SHA256
    lock_files = [ROOT / root / ".terraform.lock.hcl" for root in ROOTS]
    assert {p.parent.name for p in ROOT.glob("examples/*/main.tf")} <= {p.parent.name for p in lock_files}
    for lock in lock_files:
        text = lock.read_text()
        assert 'version     = "3.39.0"' in text, lock
        assert f'"zh:{PROVIDER_SHA256}"' in text, lock


def test_module_requires_only_the_aws_provider():
    sources = re.findall(r'source\s*=\s*"([^"]+)"', (ROOT / "versions.tf").read_text())
    assert sources == ["hashicorp/aws"]
    assert 'version = ">= 3.39"' in (ROOT / "versions.tf").read_text()
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
    "tests/fixtures/handlers",
    "tests/fixtures/handler_inputs",
    "tests/fixtures/member_plan",
    "tests/fixtures/bench_members",
]


def test_module_and_every_example_validate(tmp_path):
    from harness.terraform import copy_repository

    copy_repository(tmp_path)
    for root in ROOTS:
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
            assert proc.returncode == 0, (root, command, proc.stdout + proc.stderr)
