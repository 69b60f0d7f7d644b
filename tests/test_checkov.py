"""checkov passes on the module and examples (every skip inline with its reason), and fails when a
rule is broken."""

import subprocess

from harness.terraform import ROOT


def run_checkov(*args):
    return subprocess.run(
        [str(ROOT / "scripts" / "checkov"), *args], cwd=ROOT, capture_output=True, text=True
    )


def test_module_and_examples_pass_checkov():
    proc = run_checkov()
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "checkov: no failed checks" in proc.stderr
    assert proc.stdout.count("=== checkov: ") == 2 * (1 + len(list(ROOT.glob("examples/*/main.tf"))))


def test_every_skip_gives_a_reason():
    for tf in (
        list(ROOT.glob("*.tf")) + list(ROOT.glob("modules/*/*.tf")) + list(ROOT.glob("examples/*/*.tf"))
    ):
        for line in tf.read_text().splitlines():
            if "checkov:skip=" in line:
                check, _, reason = line.split("checkov:skip=")[1].partition(":")
                assert check.startswith("CKV") and len(reason.strip()) > 20, (tf.name, line)


def test_checkov_fails_when_a_rule_is_broken(tmp_path):
    venv = ROOT / ".tools" / "checkov-venv" / "bin" / "checkov"
    (tmp_path / "main.tf").write_text('resource "aws_cloudwatch_log_group" "x" {\n  name = "x"\n}\n')
    proc = subprocess.run(
        [
            str(venv),
            "-d",
            str(tmp_path),
            "--framework",
            "terraform",
            "--skip-download",
            "--compact",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env={"CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 1 and "CKV_AWS_338" in proc.stdout
