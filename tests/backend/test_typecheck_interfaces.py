"""mypy over the interfaces (issue 16 part 6): ``api/`` and ``dashboard/`` type-check, with the
request user typed as the ``User`` model (``api.requests.AuthenticatedRequest``,
``dashboard.access.StaffRequest``), not ``Any``."""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.mark.slow
def test_mypy_passes_over_api_and_dashboard():
    result = subprocess.run(
        [str(BIN / "mypy"), "api", "dashboard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ.copy(),
    )
    assert result.returncode == 0, result.stdout[-4000:]


def test_the_interfaces_are_in_the_mypy_configuration():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert {"api", "dashboard"} <= set(config["files"])
