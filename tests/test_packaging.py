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
    assert build_zips.main(["--check"]) == 0


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
    for tf in ROOT.glob("*.tf"):
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
        [sys.executable, "-m", "black", "--check", "--quiet", "lambda", "tests", "scripts", "examples"],
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
    for readme in [ROOT / "README.md", *sorted(ROOT.glob("examples/*/README.md"))]:
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
    "tests/fixtures/plan",
    "tests/fixtures/faults",
    "tests/fixtures/staleness",
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
