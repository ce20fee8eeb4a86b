"""``make setup`` (a virtualenv and an install from the lock, hashes checked) and ``make lock``
(uv, universal lock files with hashes); the lock records a digest of pyproject.toml's
dependencies so that a stale one is refused with one line."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from pathlib import Path

from .common import DATA, LOCK_DEV, LOCK_RUNTIME, ROOT, VENV, DevServicesError, run_logged, step


def dependency_digest(pyproject: Path) -> str:
    """What the lock must agree with: requires-python and every dependency list."""
    import tomllib

    project = tomllib.loads(pyproject.read_text())["project"]
    payload = {
        "requires-python": project.get("requires-python", ""),
        "dependencies": sorted(project.get("dependencies", [])),
        "optional-dependencies": {
            name: sorted(deps) for name, deps in project.get("optional-dependencies", {}).items()
        },
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


DIGEST_LINE = "# pyproject-dependencies-sha256: "


def lock_digest(lock: Path) -> str | None:
    with contextlib.suppress(OSError):
        for line in lock.read_text().splitlines()[:10]:
            if line.startswith(DIGEST_LINE):
                return line[len(DIGEST_LINE) :].strip()
    return None


def check_lock(pyproject: Path, lock: Path) -> None:
    if not lock.exists():
        raise DevServicesError(f"no lock file {lock.name}: run `make lock` and commit it")
    if lock_digest(lock) != dependency_digest(pyproject):
        raise DevServicesError(
            f"{lock.name} does not match pyproject.toml's dependencies (they changed since the "
            f"last `make lock`): run `make lock`, then commit pyproject.toml and "
            f"{LOCK_DEV.name}/{LOCK_RUNTIME.name} together"
        )


def _venv_python() -> Path:
    return VENV / "bin" / "python"


def _quiet_env() -> dict[str, str]:
    return {
        **os.environ,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_ROOT_USER_ACTION": "ignore",
        "PIP_NO_INPUT": "1",
        "PYTHONWARNINGS": "ignore",
    }


def cmd_setup() -> int:
    with step("virtualenv .venv") as s:
        if _venv_python().exists():
            s.result = "present"
        else:
            run_logged([sys.executable, "-m", "venv", str(VENV)], DATA / "logs" / "venv.log")
            s.result = f"created with Python {sys.version.split()[0]}"
    with step(f"lock {LOCK_DEV.name}") as s:
        check_lock(ROOT / "pyproject.toml", LOCK_DEV)
        s.result = "matches pyproject.toml"
    stamp = VENV / ".installed"
    wanted = hashlib.sha256(LOCK_DEV.read_bytes()).hexdigest() + "\n"
    with step(f"install from {LOCK_DEV.name} (hashes checked)") as s:
        if stamp.exists() and stamp.read_text() == wanted:
            s.result = "already installed"
        else:
            python, env = str(_venv_python()), _quiet_env()
            logfile = DATA / "logs" / "install.log"
            run_logged(
                [python, "-m", "pip", "install", "--require-hashes", "-r", str(LOCK_DEV)],
                logfile,
                env=env,
            )
            # The project itself, without resolving anything beyond the lock.
            project_log = DATA / "logs" / "install-project.log"
            run_logged(
                [
                    python,
                    "-m",
                    "pip",
                    "install",
                    "--no-deps",
                    "--no-build-isolation",
                    "-e",
                    str(ROOT),
                ],
                project_log,
                env=env,
            )
            count = sum(1 for line in LOCK_DEV.read_text().splitlines() if "==" in line)
            stamp.write_text(wanted)
            s.result = f"{count} pinned packages installed"
    return 0


def cmd_lock(upgrade: bool) -> int:
    """Regenerate both lock files with uv (universal: markers for every Python allowed by
    requires-python; hashes for every file of each pin). Existing pins are kept unless
    ``--upgrade``, so re-locking after a merge only adds what is new."""
    if not _venv_python().exists():
        with step("virtualenv .venv"):
            run_logged([sys.executable, "-m", "venv", str(VENV)], DATA / "logs" / "venv.log")
    uv = VENV / "bin" / "uv"
    if not uv.exists():
        with step("install uv (lock tool)"):
            run_logged(
                [str(_venv_python()), "-m", "pip", "install", "uv>=0.9,<1"],
                DATA / "logs" / "uv.log",
                env=_quiet_env(),
            )
    digest = dependency_digest(ROOT / "pyproject.toml")
    header = (
        "# Locked dependencies with hashes: do not edit. Regenerate with `make lock` after\n"
        "# changing pyproject.toml (`make lock-upgrade` moves every pin to the newest allowed).\n"
        f"{DIGEST_LINE}{digest}\n"
    )
    common = [
        "pip",
        "compile",
        "pyproject.toml",
        "--universal",
        "--python-version",
        "3.11",
        "--generate-hashes",
        "--no-header",
        "--quiet",
        "--no-annotate",
    ]
    if upgrade:
        common.append("--upgrade")
    targets = [
        (LOCK_DEV, ["--extra", "dev", "--extra", "embedded"], "runtime + dev + embedded"),
        (LOCK_RUNTIME, ["--constraint", str(LOCK_DEV)], "runtime, the same pins"),
    ]
    for lock, extra, what in targets:
        with step(f"lock {lock.name} ({what})") as s:
            # Written in place: uv prefers the pins already in the file it writes.
            run_logged(
                [str(uv), *common, *extra, "--output-file", str(lock)],
                DATA / "logs" / f"lock-{lock.stem}.log",
            )
            body = "".join(
                line
                for line in lock.read_text().splitlines(keepends=True)
                if not line.startswith("#")
            )
            lock.write_text(header + body)
            s.result = f"{sum(1 for line in body.splitlines() if '==' in line)} pins"
    return 0
