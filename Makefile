# Two commands for a newcomer: `make run` and `make test` (README.md). Both install from the
# lock (requirements-dev.txt, hashes checked) and find or start PostgreSQL and Redis, printing
# one line per step with its duration (backend/devservices.py, docs/adr/0001).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Run as a script, not `-m backend.devservices`: importing the `backend` package loads the Celery
# app, which defaults DJANGO_SETTINGS_MODULE to development for every child process.
DEV := $(PY) backend/devservices.py
# `setup` and `lock` run on the system Python: they create the virtualenv.
BOOT := $(PYTHON) backend/devservices.py
# When this `make` started, for the "ready N s after `make run`" line.
export MAKE_RUN_T0 := $(shell date +%s.%N)

.PHONY: run test test-fast test-pythons lint fmt typecheck bench setup lock lock-upgrade browser clean stop-services

## Virtualenv + install from the lock; refuses (one line) when pyproject.toml and the lock differ.
setup:
	@$(BOOT) setup

## Regenerate requirements-dev.txt and requirements.txt from pyproject.toml (keeps existing pins).
lock:
	@$(BOOT) lock

lock-upgrade:
	@$(BOOT) lock --upgrade

## Browser for the end-to-end tests: Debian's chromium (never a downloaded build).
browser:
	@$(BOOT) browser

run: setup
	@$(DEV) run

## Its own databases: clinic_test (pytest: test_clinic_test_gwN per xdist worker) and Redis
## 12–15, never make run's. TEST_WORKERS=1 runs serially (e.g. with a debugger).
TEST_WORKERS ?= 2
test: setup browser
	@$(DEV) exec --test -- $(PY) -m pytest -q --ds=backend.settings.test \
	  $(if $(filter 1,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist worksteal) $(PYTEST_ARGS)

test-fast: setup
	@$(DEV) exec --test -- $(PY) -m pytest -q --ds=backend.settings.test -m "not e2e and not worker and not slow" $(PYTEST_ARGS)

## The suite once per supported interpreter found here (3.11–3.13), each in .venv-3.X (.ci/test-pythons).
test-pythons:
	PYTEST_ARGS='$(PYTEST_ARGS)' .ci/test-pythons

## Benchmarks use their own database (clinic_bench) so they never touch the demo data.
bench: setup
	DEV_DB_NAME=clinic_bench $(DEV) exec -- sh -c '$(PY) manage.py migrate -v0 && $(PY) -m bench $(BENCH)'

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(DEV) exec -- $(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/lint-imports --no-cache

fmt: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: setup
	$(VENV)/bin/mypy

stop-services:
	@$(DEV) stop

clean:
	@$(BOOT) clean
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache .hypothesis

## Contract fuzzing (issue 12): schemathesis, every check, every operation, coordinator +
## clinician + patient, fixed seed; ≥ 5,000 cases (FUZZ_MAX_EXAMPLES per operation and phase).
## Reports (JSON + text per role) in .data/fuzz/. `make test` runs a short version of the same.
.PHONY: fuzz
fuzz: $(STAMP)
	@rm -rf .data/fuzz
	FUZZ_REPORT_DIR=$(CURDIR)/.data/fuzz FUZZ_MAX_EXAMPLES=$${FUZZ_MAX_EXAMPLES:-5} \
	  FUZZ_PHASES=examples,coverage,fuzzing,stateful FUZZ_EXCLUDE_CHECKS= \
	  $(DEV) exec -- $(PY) -m pytest -q --ds=backend.settings.test tests/api/test_fuzz.py \
	  -p no:cacheprovider; status=$$?; cat .data/fuzz/summary.txt 2>/dev/null; exit $$status
