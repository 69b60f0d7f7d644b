"""scripts/provider_compat.py: the module and its examples use only what hashicorp/aws 6.x has."""

import shutil
from pathlib import Path

import pytest

from scripts import provider_compat


@pytest.fixture(scope="module")
def schema_dir():
    return provider_compat.fetch()  # downloads the pinned bindings on a fresh machine


def problems_in(tmp_path: Path, text: str, schema_dir: Path) -> list[str]:
    tf = tmp_path / "main.tf"
    tf.write_text(text)
    return provider_compat.check([tf], schema_dir)[1]


def test_module_and_examples_pass(schema_dir):
    files = provider_compat.module_files()
    version, problems, checked = provider_compat.check(files, schema_dir)
    assert version.startswith("6.")
    assert problems == []
    assert (
        "main.tf: aws_ssm_parameter, data.aws_caller_identity, data.aws_partition, data.aws_region" in checked
    )
    assert any(line.startswith("examples/basic/main.tf: ") for line in checked)


def test_main_prints_the_version_and_exits_0(capsys):
    assert provider_compat.main([]) == 0
    out = capsys.readouterr().out
    assert "Checked against hashicorp/aws 6." in out and "lambda.tf: aws_cloudwatch_log_group" in out


def test_fails_on_unknown_types_arguments_and_nested_blocks(tmp_path, schema_dir):
    problems = problems_in(
        tmp_path,
        """
resource "aws_lambda_function" "f" {
  for_each      = toset(["a"])
  function_name = "f"
  role          = "arn:aws:iam::123456789012:role/r"
  memory        = 128
  environment {
    variable = { A = "b" }
  }
  dynamic "vpc_config" {
    for_each = []
    content {
      subnet_ids      = []
      security_groups = []
    }
  }
  lifecycle { ignore_changes = [tags] }
}
resource "aws_db_instance" "db" { name = "removed in 5.0: db_name" }
resource "aws_eip" "ip" { vpc = true }
resource "aws_lambda_functions" "typo" {}
data "aws_region" "r" { current = true }
resource "aws_iam_role" "r" {
  tags { a = "b" }
}
""",
        schema_dir,
    )
    version = provider_compat.provider_version(schema_dir)
    assert problems == [
        f"{tmp_path / 'main.tf'}: {what} hashicorp/aws {version}"
        for what in [
            "aws_lambda_function.environment.variable is not in",
            "aws_lambda_function.memory is not in",
            "aws_lambda_function.vpc_config.security_groups is not in",
            "aws_db_instance.name is not in",
            "aws_eip.vpc is not in",
            "aws_lambda_functions is not in",
            "data.aws_region.current is not in",
            "aws_iam_role.tags is an argument, not a block, in",
        ]
    ]


def test_strings_heredocs_and_comments_do_not_confuse_the_parser(tmp_path, schema_dir):
    problems = problems_in(
        tmp_path,
        """
resource "random_id" "other_provider" { byte_length = 8 }
resource "aws_iam_role" "r" {
  name = "a { b \\" }" # } a comment with braces {
  /* a block comment {
     bogus_in_comment = 1 */
  assume_role_policy = <<-EOT
    { "bogus_in_heredoc" = 1 }
    EOT
  description = "${jsonencode({ a = "}" })} %{ if true }{%{ endif }"
  path = "/" // a comment {
  bogus = 1
}
""",
        schema_dir,
    )
    assert [p.split(": ", 1)[1] for p in problems] == [
        f"aws_iam_role.bogus is not in hashicorp/aws {provider_compat.provider_version(schema_dir)}"
    ]


def deprecate(schema_dir: Path, tmp_path: Path, folder: str, anchor: str) -> Path:
    """A copy of one type's real bindings whose argument at `anchor` is marked @deprecated."""
    copy = tmp_path / "schema"
    (copy / "lib").mkdir(parents=True, exist_ok=True)
    shutil.copy(schema_dir / "package.json", copy / "package.json")
    shutil.copytree(schema_dir / "lib" / folder, copy / "lib" / folder)
    index = copy / "lib" / folder / "index.d.ts"
    text = index.read_text()
    assert text.count(anchor) == 1
    index.write_text(text.replace(anchor, anchor + "\n    *\n    * @deprecated Use something else.", 1))
    return copy


def test_fails_on_deprecated_arguments_and_nested_arguments(tmp_path, schema_dir):
    schema = deprecate(schema_dir, tmp_path, "data-aws-region", "#name DataAwsRegion#name}")
    deprecate(schema_dir, tmp_path, "lambda-function", "#variables LambdaFunction#variables}")
    tf = tmp_path / "main.tf"
    tf.write_text("""
data "aws_region" "by_name" { name = "us-east-1" }
data "aws_region" "current" {}
resource "aws_lambda_function" "f" {
  function_name = "f"
  role          = "r"
  dynamic "environment" {
    for_each = [1]
    content { variables = {} }
  }
}
""")
    version, problems, _ = provider_compat.check([tf], schema)
    assert problems == [
        f"{tf}: data.aws_region.name is deprecated in hashicorp/aws {version}",
        f"{tf}: aws_lambda_function.environment.variables is deprecated in hashicorp/aws {version}",
    ]


def test_main_exits_1_listing_each_problem(tmp_path, capsys):
    tf = tmp_path / "bad.tf"
    tf.write_text('resource "aws_iam_role" "r" {\n  bogus = 1\n}\n')
    assert provider_compat.main([str(tmp_path)]) == 1
    assert f"{tf}: aws_iam_role.bogus is not in hashicorp/aws 6." in capsys.readouterr().out
