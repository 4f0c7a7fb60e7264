# Distribly: `make run` serves the site, `make test` runs the checks and tests.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock requirements-dev.lock pyproject.toml | cksum | cut -d' ' -f1)
DEV_ENV := DJANGO_DEBUG=$${DJANGO_DEBUG:-True}

.PHONY: install run admin-login test checks smoke e2e chromium lint worker beat bench bench-scale bench-smoke lock clean

$(STAMP): requirements.lock requirements-dev.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.lock
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

## run: set up everything and serve http://127.0.0.1:8000 (SQLite, eager tasks, console email).
## dev_setup migrates, seeds the demo marketplace, loads sample exchange rates and prints
## the staff login last, in one process: the development-secrets warning shows once, and
## runserver (and its autoreloader child, which inherits the variable) filters it out.
QUIET_DEV_SECRETS := PYTHONWARNINGS="$${PYTHONWARNINGS:+$$PYTHONWARNINGS,}ignore:Using DEVELOPMENT secrets:UserWarning"
run: install
	$(DEV_ENV) $(BIN)/python manage.py dev_setup
	$(DEV_ENV) $(QUIET_DEV_SECRETS) $(BIN)/python manage.py runserver 127.0.0.1:8000

## admin-login: print the development staff login again (make run prints it too)
admin-login: install
	@$(DEV_ENV) $(BIN)/python manage.py ensure_admin

## test: the checks (ruff, ruff format, mypy --strict, the layer contracts, migrations)
## and the pytest suite (PostgreSQL when DATABASE_URL is set)
test: install checks
	$(BIN)/pytest -m "not e2e and not deploy" $(PYTEST_ARGS)

## checks: everything but the tests
checks: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_DEBUG=True $(BIN)/mypy
	$(BIN)/lint-imports
	DJANGO_DEBUG=True $(BIN)/python manage.py makemigrations --check --dry-run

## e2e: browser journeys and fault tests in headless Chromium; need PostgreSQL and Redis
## (DATABASE_URL, REDIS_URL; defaults: the local servers). Installs Debian's chromium as root.
E2E_DB ?= postgres://postgres@127.0.0.1:5432/distribly_e2e
E2E_REDIS ?= redis://127.0.0.1:6379/6
e2e: install chromium
	DATABASE_URL=$${DATABASE_URL:-$(E2E_DB)} REDIS_URL=$${REDIS_URL:-$(E2E_REDIS)} \
	  $(BIN)/pytest -m e2e tests/e2e $(PYTEST_ARGS)

## smoke: the production image's steps without a container engine: a virtualenv with the
## runtime lock only, collectstatic and migrate as the image runs them, gunicorn with DEBUG
## off (PostgreSQL, Redis, an SMTP sink, the fake Stripe); every public page must answer
smoke: install
	$(BIN)/pytest -m deploy tests/deploy $(PYTEST_ARGS)

chromium:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && { apt-get install -y -q chromium >/dev/null \
	  || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; }; } \
	  || { echo "Install Debian's chromium (apt-get install chromium) for the journeys"; exit 1; }

lint: checks

## worker / beat: the Celery processes (need REDIS_URL). Each worker on a host needs its
## own name: `make worker WORKER=worker2` in a second shell. One beat only: a second one
## refuses to start (it holds a lock in Redis).
WORKER ?= worker1
worker: install
	$(BIN)/celery -A distribly worker --loglevel=INFO --pool=threads --concurrency=4 -n $(WORKER)@%h

beat: install
	$(BIN)/celery -A distribly beat --loglevel=INFO

## bench: performance figures on PostgreSQL (DATABASE_URL, default the local server)
bench: install
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/distribly_bench} \
	  $(BIN)/python -m tests.bench.run $(BENCH_ARGS)

## bench-scale: the scale ladder: 10M codes, 10k sellers, 1M orders generated in SQL,
## then import, purchases and the pages at that size (about half an hour here)
bench-scale: install
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/distribly_bench_scale} \
	  $(BIN)/python -m tests.bench.scale $(BENCH_ARGS)

## bench-smoke: the whole bench and the scale ladder at tiny sizes and 1 s runs (a
## minute or two); fails when any figure cannot be produced, so the bench cannot rot
## (CI runs it)
bench-smoke: install
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/distribly_bench_smoke} \
	  $(BIN)/python -m tests.bench.run --smoke
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/distribly_bench_smoke} \
	  $(BIN)/python -m tests.bench.scale --smoke

## lock: re-resolve the pinned requirements from pyproject.toml: requirements.lock holds
## what the production image installs, requirements-dev.lock the development and test tools
lock:
	rm -rf .lock-venv && $(PY) -m venv .lock-venv
	.lock-venv/bin/pip install -q --upgrade pip && .lock-venv/bin/pip install -q .
	.lock-venv/bin/pip freeze --exclude distribly > requirements.lock.new
	.lock-venv/bin/pip install -q ".[dev]"
	.lock-venv/bin/pip freeze --exclude distribly | grep -vxF -f requirements.lock.new > requirements-dev.lock.new
	{ echo "# Runtime requirements, pinned (the production image installs only these). make lock."; cat requirements.lock.new; } > requirements.lock
	{ echo "# Development and test tools, pinned, on top of the runtime lock. make lock."; echo "-r requirements.lock"; cat requirements-dev.lock.new; } > requirements-dev.lock
	rm -rf .lock-venv requirements.lock.new requirements-dev.lock.new

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache .mypy_cache
