"""Standard Python tooling over the Lambda code, the scripts, the harness and the tests: ruff's lint
rules and mypy's type checks, configured in pyproject.toml."""

import subprocess
import sys

from harness.terraform import ROOT


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True)


def test_ruff_finds_nothing():
    proc = run(
        "ruff",
        "check",
        "--no-cache",
        "--output-format",
        "concise",
        "lambda",
        "handlers",
        "scripts",
        "harness",
        "tests",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_finds_nothing():
    # The files are configured in pyproject.toml: lambda/, handlers/, scripts/ and harness/.
    proc = run("mypy", "--no-incremental")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success: no issues found" in proc.stdout


def test_ruff_and_mypy_fail_on_a_broken_file(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("import os\n\n\ndef f(x: int) -> str:\n    return x\n")
    assert run("ruff", "check", "--no-cache", str(broken)).returncode == 1  # F401: os unused
    proc = run("mypy", "--no-incremental", str(broken))
    assert proc.returncode == 1 and "Incompatible return value type" in proc.stdout
