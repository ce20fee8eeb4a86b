"""Tooling is part of the code (STYLE.md habit 13): CI fails when lint, format, migrations or
types drift, not only when behaviour does."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(argv: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=os.environ.copy()
    )


def test_ruff_check_is_clean():
    result = _run([str(BIN / "ruff"), "check", "."])
    assert result.returncode == 0, result.stdout[-4000:]


def test_ruff_format_is_clean():
    result = _run([str(BIN / "ruff"), "format", "--check", "."])
    assert result.returncode == 0, result.stdout[-4000:]


@pytest.mark.django_db
def test_models_and_migrations_agree():
    result = _run([sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.mark.slow
def test_mypy_is_clean():
    result = _run([str(BIN / "mypy")], timeout=600)
    assert result.returncode == 0, result.stdout[-4000:]
