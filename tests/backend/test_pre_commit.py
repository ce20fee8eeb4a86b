""".pre-commit-config.yaml: local hooks only, each running a tool that is there (issue 16)."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".pre-commit-config.yaml"
VENV_BIN = Path(sys.executable).parent


def _hooks() -> list[dict]:
    config = yaml.safe_load(CONFIG.read_text())
    return [hook for repo in config["repos"] for hook in repo["hooks"]]


def test_every_hook_is_local_and_downloads_nothing():
    config = yaml.safe_load(CONFIG.read_text())
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    assert {hook["language"] for hook in _hooks()} == {"system"}


def test_the_hooks_are_the_lint_checks_and_their_programs_exist():
    hooks = {hook["id"]: shlex.split(hook["entry"]) for hook in _hooks()}
    assert set(hooks) == {
        "ruff-check",
        "ruff-format",
        "makemigrations-check",
        "mypy",
        "lint-imports",
    }
    for hook_id, argv in hooks.items():
        # each program is the virtualenv's (.venv/bin/…): the version the lock pins
        assert argv[0].startswith(".venv/bin/"), hook_id
        assert (VENV_BIN / Path(argv[0]).name).is_file(), hook_id
        for arg in argv[1:]:
            if arg.endswith(".py"):
                assert (ROOT / arg).is_file(), (hook_id, arg)
    assert "makemigrations" in hooks["makemigrations-check"]
    assert "--check" in hooks["makemigrations-check"]


def test_pre_commit_accepts_the_file():
    result = subprocess.run(
        [str(VENV_BIN / "pre-commit"), "validate-config", str(CONFIG)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
