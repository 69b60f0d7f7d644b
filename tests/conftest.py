import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "lambda"))

from harness.aws import EmulatedAws  # noqa: E402
from harness.third_party import ThirdParty  # noqa: E402


@pytest.fixture(scope="session")
def emulated_aws():
    """One moto server for the session. Unit tests' mock_aws() resets moto's backends, so each
    Terraform test module deploys its own stack (module-scoped) rather than sharing one."""
    aws = EmulatedAws().start()
    yield aws
    aws.stop()


@pytest.fixture(scope="module")
def aws(emulated_aws):
    emulated_aws.configure()
    return emulated_aws


@pytest.fixture(scope="module")
def third_party():
    """The trusted third party the example handlers POST each new key to."""
    server = ThirdParty()
    yield server
    server.stop()
