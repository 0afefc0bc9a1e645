# Jaring: every target does its own set-up on a fresh machine.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
PYTHON  := $(BIN)/python
STAMP   := $(VENV)/.installed

.PHONY: run test lint lock migrate seed i18n bench chaos nlu install clean screenshots
# The dashboard's browser tests drive Debian's chromium through Playwright (no browser download).
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

install: $(STAMP)

# requirements/runtime.txt and requirements/test.txt lock every package with its hashes.
$(STAMP): requirements/runtime.txt requirements/test.txt
	command -v chromium >/dev/null || $(SUDO) apt-get install -y -q chromium \
		|| ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium)
	# caddy and nginx only check deploy/'s site files in tests/test_deploy.py (never started).
	(command -v caddy && command -v nginx) >/dev/null || $(SUDO) apt-get install -y -q caddy nginx-light \
		|| ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q caddy nginx-light)
	test -x $(PYTHON) || $(PY) -m venv $(VENV)
	$(PYTHON) -m pip install -q --disable-pip-version-check --require-hashes \
		-r requirements/runtime.txt -r requirements/test.txt
	touch $(STAMP)

## make lock: remake the locks from requirements/*.in (pins kept unless an .in asks otherwise).
lock: $(STAMP)
	$(PYTHON) -m pip install -q --disable-pip-version-check pip-tools==7.6.2
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile -q --generate-hashes --strip-extras \
		--allow-unsafe --no-emit-index-url --no-emit-find-links \
		-o requirements/runtime.txt requirements/runtime.in
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile -q --generate-hashes --strip-extras \
		--allow-unsafe --no-emit-index-url --no-emit-find-links \
		-o requirements/test.txt requirements/test.in

migrate: $(STAMP)
	$(PYTHON) bot.py migrate

## make run: install, migrate, seed demo data when the database is empty, start the service.
run: $(STAMP)
	$(PYTHON) bot.py migrate
	$(PYTHON) bot.py seed-demo --if-empty
	$(PYTHON) bot.py run --console-fallback

## make test: the whole suite (SQLite always; PostgreSQL too when JARING_TEST_PG_URL is set):
## most of it on both cores (pytest-xdist), then the `serial` tests (timing-sensitive or
## many-process: SIGTERM within 10 s, the webhook's ack, three workers, a backup under load)
## with the machine to themselves. TEST_JOBS=1 runs everything in one process.
TEST_JOBS ?= 2
test: $(STAMP)
	$(PYTHON) -m pytest -n $(TEST_JOBS) -m "not serial" $(PYTEST_ARGS)
	$(PYTHON) -m pytest -m serial $(PYTEST_ARGS)

## make lint: what CI checks besides the tests: the layers (import-linter), ruff (lint and
## format), mypy on core/, domain/ and db/ (configured in pyproject.toml). Runs all four, then
## fails if any failed.
lint: $(STAMP)
	@status=0; \
	for check in "lint-imports" "ruff check ." "ruff format --check ." "mypy"; do \
		echo "== $$check"; $(BIN)/$$check || status=1; \
	done; \
	exit $$status

## make i18n: extract messages, update the id, en, su and jv catalogs, compile them.
i18n: $(STAMP)
	$(PYTHON) -m tools.i18n

bench: $(STAMP)
	$(PYTHON) -m bench.run $(BENCH_ARGS)

## make chaos: the fault suite (docs/chaos.md): the real service, simulated residents, kill -9,
## 429 storms, a 5xx outage, SIGTERM with a full queue, a locked SQLite file, PostgreSQL
## connections killed. Long (minutes); not part of `make test`. CHAOS_ARGS="--quick" for a
## smoke run, "--db postgresql" for PostgreSQL, "--strict" to fail on a lost or doubled reply.
chaos: $(STAMP)
	$(PYTHON) -m tools.chaos $(CHAOS_ARGS)

## make nlu: the understanding layer on tests/data/nlu_corpus.tsv: accuracy per intent, the
## confusion table, wrong flows started on the negatives, time per message (NLU_ARGS=--show).
nlu: $(STAMP)
	$(PYTHON) -m tools.nlu $(NLU_ARGS)

## make screenshots: the dashboard's main pages, from the browser test, into docs/screenshots/.
screenshots: $(STAMP)
	JARING_SCREENSHOTS=docs/screenshots $(PYTHON) -m pytest tests/test_dashboard_browser.py tests/test_reports_browser.py tests/test_stats_simulator_browser.py

clean:
	rm -rf $(VENV) .cache
