# surveytool: `make run` and `make test` work on a fresh machine with python3 (3.11+) and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test fuzz lint types pytest bench bench-large clean venv browser java fhirpath

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==26.3
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	@$(MAKE) --no-print-directory browser || echo "note: without chromium the clinician PDF report is unavailable (HTML works)"
	$(BIN)/surveytool serve

demo: $(STAMP)
	$(BIN)/surveytool demo

# The browser tests drive Debian's chromium with Playwright (no browser download).
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium (browser tests, PDF reports)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: run 'sudo apt-get install chromium'"; exit 1; fi; }

# ODK Validate (run by pyxform in the XLSForm tests) needs a Java runtime: Debian's
# default-jre-headless, installed as root when java is missing.
java:
	@command -v java >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's default-jre-headless (ODK Validate in the XLSForm tests)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null; \
	  else echo "java is missing: run 'sudo apt-get install default-jre-headless'"; exit 1; fi; }

# HL7's fhirpath.js checks the exported FHIR scoring in the tests: Node and npm (Debian's nodejs
# and npm when missing, as root), then the version pinned by the lock file, in the test folder.
FHIRPATH_DIR := tests/surveytool/interchange/fhirpath
fhirpath:
	@command -v node >/dev/null && command -v npm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's nodejs and npm (the FHIRPath oracle of the tests)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
	  else echo "node is missing: run 'sudo apt-get install nodejs npm'"; exit 1; fi; }
	@test -d $(FHIRPATH_DIR)/node_modules/fhirpath || \
	  (cd $(FHIRPATH_DIR) && npm ci --ignore-scripts --no-audit --no-fund --silent)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) browser java fhirpath
	$(BIN)/pytest -q

test: lint types pytest

# The property tests with new random examples each run (`make test` runs them with a fixed seed,
# so CI is repeatable): make fuzz [RUNS=5]
RUNS ?= 5
fuzz: $(STAMP)
	@for i in $$(seq $(RUNS)); do HYPOTHESIS_PROFILE=explore $(BIN)/pytest -q -p no:cacheprovider \
	  $$(grep -rl --include='test_*.py' '@given' tests) || exit 1; done

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# A cohort larger than memory on Dask (minutes at the default 10,000,000 respondents):
# make bench-large [N=1000000] [WORKERS=2] [MEMORY_LIMIT=2GB]
N ?= 10000000
WORKERS ?= 2
MEMORY_LIMIT ?= 2GB
bench-large: $(STAMP)
	$(BIN)/python -m benchmarks.bench_large --n $(N) --workers $(WORKERS) --memory-limit $(MEMORY_LIMIT)

# The web server under 50 concurrent clients on loopback (SQLite, one worker); for PostgreSQL
# with several workers: BENCH_WEB_ARGS="--workers 2 --database-url postgresql://..." (an empty
# database).
BENCH_WEB_ARGS ?=
.PHONY: bench-web
bench-web: $(STAMP)
	$(BIN)/python -m benchmarks.bench_web $(BENCH_WEB_ARGS)

clean:
	rm -rf $(VENV) dist build .mypy_cache .ruff_cache .pytest_cache

# The clinic store tests against PostgreSQL: installs Debian's postgresql if it is missing (as
# root), starts the local cluster on localhost, makes a role and a database, and runs the store
# tests (and serve --workers on PostgreSQL) with SURVEYTOOL_TEST_DATABASE_URL pointing there.
PG_USER ?= surveytool
PG_PASSWORD ?= surveytool-test
PG_DB ?= surveytool_test
.PHONY: test-postgres
test-postgres: $(STAMP)
	@command -v pg_ctlcluster >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's postgresql for the store tests"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo "postgresql is missing: run 'sudo apt-get install postgresql'"; exit 1; fi; }
	@test "$$(id -u)" = 0 || { echo "make test-postgres starts the cluster as root (or run the steps by hand)"; exit 1; }
	@set -e; \
	version=$$(ls /usr/lib/postgresql | sort -V | tail -1); \
	test -d /etc/postgresql/$$version/main || pg_createcluster $$version main >/dev/null; \
	pg_ctlcluster $$version main status >/dev/null 2>&1 || pg_ctlcluster $$version main start; \
	port=$$(pg_conftool -s $$version main show port 2>/dev/null || echo 5432); \
	for i in $$(seq 1 30); do runuser -u postgres -- pg_isready -q -h localhost -p $$port && break; sleep 1; done; \
	runuser -u postgres -- psql -q -p $$port -v ON_ERROR_STOP=1 -c "DO \$$\$$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$(PG_USER)') THEN CREATE ROLE $(PG_USER) LOGIN PASSWORD '$(PG_PASSWORD)'; END IF; END\$$\$$;"; \
	runuser -u postgres -- psql -p $$port -tAc "SELECT 1 FROM pg_database WHERE datname = '$(PG_DB)'" | grep -q 1 || \
	  runuser -u postgres -- createdb -p $$port -O $(PG_USER) $(PG_DB); \
	echo "PostgreSQL $$version on localhost:$$port, database $(PG_DB)"; \
	SURVEYTOOL_TEST_DATABASE_URL=postgresql://$(PG_USER):$(PG_PASSWORD)@localhost:$$port/$(PG_DB) \
	  $(BIN)/pytest -q tests/surveytool/clinic/test_store.py tests/surveytool/web/test_server_load.py
