"""Entry script of the dev-services bootstrap behind ``make run`` / ``make test``: the parts are
in the package ``backend/devtools/`` (its docstring says what each command does; docs/adr/0001).

Run it as a script, never as ``python -m backend.devservices``: importing the ``backend``
package would load the Celery app, which sets ``DJANGO_SETTINGS_MODULE`` for every child
process. ``setup`` and ``lock`` run on the system Python before the virtualenv exists, so this
and ``devtools`` use the standard library only. ``python backend/devservices.py`` lists the
commands.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def load_devtools() -> None:
    """``backend/devtools`` as the top-level package ``devtools``, loaded by its path — not
    through ``backend`` (the Celery app) and without ``backend/`` on sys.path."""
    spec = importlib.util.spec_from_file_location(
        "devtools",
        HERE / "devtools" / "__init__.py",
        submodule_search_locations=[str(HERE / "devtools")],
    )
    assert spec is not None
    assert spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules["devtools"] = package
    spec.loader.exec_module(package)


if __name__ == "__main__":
    # As a script, sys.path[0] is backend/ itself; its modules (celery.py …) must not shadow the
    # installed packages of the same name.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
    load_devtools()
    cli = importlib.import_module("devtools.cli")
    sys.exit(cli.main(sys.argv[1:]))
