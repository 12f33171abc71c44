# Two commands on a fresh machine: `make run` (service with demo data) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export REGISTRY_INSTANCE_PATH ?= $(CURDIR)/instance

.PHONY: run test test-postgres test-browser browser screenshots bench bench-instructions bench-scale bench-import lint format install clean \
	translations lock lock-upgrade audit-deps fuzz crash-long soak

install: $(STAMP)

# Every runtime and dev dependency comes from the hashed lock; the project itself goes on top.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# The venv's bundled pip can be older than the lock's format (pip 23.2 refuses extras such
	# as CacheControl[filecache] in hash mode): bring it to the locked pip, by hash, first.
	awk '/^pip==/{p=1} p && /^ *#/{exit} p' requirements.lock > $(VENV)/pip.lock
	$(BIN)/python -m pip install --quiet --require-hashes -r $(VENV)/pip.lock
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

LOCK_FLAGS := --quiet --generate-hashes --allow-unsafe --strip-extras --extra dev \
	--no-emit-index-url --no-emit-find-links -o requirements.lock pyproject.toml

# Re-pin after a change to pyproject.toml, keeping the other pins; lock-upgrade bumps them all.
lock: $(STAMP)
	$(BIN)/pip-compile $(LOCK_FLAGS)

lock-upgrade: $(STAMP)
	$(BIN)/pip-compile --upgrade $(LOCK_FLAGS)

# Known vulnerabilities of the locked pins (PyPI's advisory data); fails on any finding.
audit-deps: $(STAMP)
	$(BIN)/python scripts/audit_deps.py requirements.lock

# The long schemathesis run over the whole API (the short one is part of `make test`).
fuzz: $(STAMP)
	REGISTRY_FUZZ_EXAMPLES=$${REGISTRY_FUZZ_EXAMPLES:-200} $(BIN)/python -m pytest -m fuzz --timeout 3600 \
		tests/fuzz $(PYTEST_ARGS)

run: $(STAMP)
	$(BIN)/registry init
	$(BIN)/registry demo --if-empty --save-tokens instance/demo-tokens.json
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/run.sh

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-postgres: $(STAMP)
	REGISTRY_TEST_DATABASE_URL=$${REGISTRY_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} \
	REGISTRY_REQUIRE_POSTGRES=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

# Debian's chromium + chromedriver and axe-core (npm, into .cache/) for the browser tests.
browser:
	scripts/install-browser.sh

test-browser: $(STAMP) browser
	REGISTRY_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -m browser $(PYTEST_ARGS)

# Screenshots of the public pages and the console (a demo of its own) into docs/screenshots.
screenshots: $(STAMP) browser
	$(BIN)/python scripts/screenshots.py

# Re-extract the page texts, merge them into ru/kk/en and compile the committed .mo files.
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o registry/site/messages.pot .
	$(BIN)/pybabel update -i registry/site/messages.pot -d registry/site/translations --no-fuzzy-matching
	$(BIN)/pybabel compile -d registry/site/translations
	rm registry/site/messages.pot

bench: $(STAMP)
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	cd bench && ../$(BIN)/python http_overhead.py
	cd bench && ../$(BIN)/python registration.py --persons 100000
	cd bench && ../$(BIN)/python booking.py
	cd bench && ../$(BIN)/python episodes.py
	cd bench && ../$(BIN)/python rules.py
	cd bench && ../$(BIN)/python stats.py
	cd bench && ../$(BIN)/python slow_clients.py

# Instructions per request of each hot path (callgrind; repeatable where rates are not), e.g.
# INSTR_ARGS="--against main" to see what a change saves.
bench-instructions: $(STAMP)
	command -v valgrind >/dev/null || (apt-get update -qq && apt-get install -y -qq valgrind)
	cd bench && ../$(BIN)/python instructions.py $(INSTR_ARGS)

# The scale check of issue "Patients": linked registration at 0 and at 1,000,000 persons, on
# SQLite, or on PostgreSQL (filled by two writers) with BENCH_DATABASE_URL=postgresql+psycopg://…
bench-scale: $(STAMP)
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	cd bench && ../$(BIN)/python registration.py --persons 1000000 \
		$(if $(BENCH_DATABASE_URL),--database-url $(BENCH_DATABASE_URL) --fill-processes 2)

# Import of a legacy register (docs/import.md): records per second beside the target, on SQLite
# or with BENCH_DATABASE_URL=postgresql+psycopg://… on PostgreSQL; IMPORT_RECORDS= to change N.
bench-import: $(STAMP)
	cd bench && ../$(BIN)/python import.py $(if $(IMPORT_RECORDS),--records $(IMPORT_RECORDS)) \
		$(if $(BENCH_DATABASE_URL),--database $(BENCH_DATABASE_URL))

# Soak: a fixed-rate realistic mix against two instances on PostgreSQL; fails on any lost write
# or 5xx. A new database is made on the server SOAK_DATABASE_URL names, and dropped afterwards.
soak: $(STAMP)
	cd bench && ../$(BIN)/python soak.py --rate $${SOAK_RATE:-25} --seconds $${SOAK_SECONDS:-120} \
		--database-url $${SOAK_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}

# The crash loop of tests/hardening with many more worker kills than the suite's short run.
crash-long: $(STAMP)
	REGISTRY_CRASH_KILLS=$${REGISTRY_CRASH_KILLS:-200} $(BIN)/python -m pytest -o timeout=0 \
		tests/hardening/test_crash.py $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check registry tests bench scripts wsgi.py gunicorn.conf.py
	$(BIN)/ruff format --check registry tests bench scripts wsgi.py gunicorn.conf.py

format: $(STAMP)
	$(BIN)/ruff check --fix registry tests bench wsgi.py gunicorn.conf.py
	$(BIN)/ruff format registry tests bench wsgi.py gunicorn.conf.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
