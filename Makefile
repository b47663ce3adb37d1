# Set-up and everyday commands. `make serve` and `make test` do all set-up on a
# fresh machine: the virtual environment, Python packages, a Java runtime for
# the OWL reasoner, and (for the tests that need them) Debian packages.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
TEST_STAMP := $(VENV)/.installed-test-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
HOST   ?= 127.0.0.1
PORT   ?= 8000
DIST   ?= dist

.PHONY: install install-test java ui chromium nginx build validate serve deploy test conformance fuzz bench soak clean

# Serving needs only the runtime dependencies; the tests add their extras (install-test).
install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	rm -f $(VENV)/.installed-[0-9]* && touch $@

install-test: $(TEST_STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-test-* && touch $@

# HermiT (bundled with owlready2) needs a Java runtime.
java:
	@command -v java >/dev/null 2>&1 || { \
	  echo "installing a Java runtime for the OWL reasoner (default-jre-headless)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq default-jre-headless >/dev/null; }

# The query editor (YASGUI) from the npm registry, served by the server itself.
# Without it the pages fall back to a plain HTML form, so a failure here only warns.
ui: ui/node_modules/.installed

ui/node_modules/.installed: ui/package.json ui/package-lock.json
	@command -v npm >/dev/null 2>&1 && (cd ui && npm ci --no-audit --no-fund --loglevel=error) && touch $@ \
	  || echo "warning: npm could not install the query editor; the UI falls back to a plain form"

# Debian's Chromium for the browser tests (they skip, saying why, where it cannot be installed).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null \
	  || echo "warning: chromium could not be installed; the browser tests will be skipped"; }

# Debian's nginx (the light build: proxy, cache, limits) for the deployment in deploy/ and its tests.
nginx:
	@command -v nginx >/dev/null 2>&1 || { \
	  echo "installing Debian's nginx-light for the deployment tests"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq nginx-light >/dev/null \
	  || echo "warning: nginx could not be installed; the deployment tests will be skipped"; }

build: install java
	$(BIN)/ijdp build --out $(DIST)

validate: install
	$(BIN)/ijdp validate

# The local server publishes the IRIs of the build (https://w3id.org/ijdp/…) and serves
# them under its own paths (/id/…, /doc/…), so queries from queries/ and the README work as they are.
# HOST=0.0.0.0 PORT=8080 make serve to listen elsewhere.
serve: build ui
	$(BIN)/ijdp serve --host $(HOST) --port $(PORT) --dist $(DIST)

# REPLICAS identical servers behind nginx (a shared cache, buffering, limits) on HOST:DEPLOY_PORT.
REPLICAS ?= 2
DEPLOY_PORT ?= 8080
deploy: build ui nginx
	$(BIN)/python deploy/cluster.py --dist $(DIST) --replicas $(REPLICAS) --host $(HOST) --port $(DEPLOY_PORT)

test: install-test java ui chromium nginx
	$(BIN)/python -m pytest -q -p no:cacheprovider

# W3C SPARQL 1.1 suite alone (it also runs in `make test`).
conformance: install-test
	$(BIN)/python -m pytest -q -p no:cacheprovider -m conformance

# Long fuzzing of the safety decisions and the endpoint (`make test` runs a bounded sample).
FUZZ_EXAMPLES ?= 3000
fuzz: install-test
	IJDP_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_hostile_fuzz.py tests/test_fuzz.py
	IJDP_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_hostile_files.py \
		-k "generated or entity_declaration or nesting"

# Benchmarks (not part of `make test`): every example query against the HTTP floor
# (bench/results/http-latency.md), then the 1M-triple graph on our stores against
# Virtuoso, rdflib-endpoint and the floor (docs/benchmarks.md and its plot).
bench: build nginx
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/http_latency.py --dist $(DIST)
	$(BIN)/python bench/safety_cost.py --dist $(DIST)
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/link_scale.py
	$(BIN)/python bench/nginx_bench.py --dist $(DIST)

# A bounded soak (5 minutes at concurrency 16, normal and runaway queries mixed).
soak: build
	$(BIN)/python bench/soak.py --dist $(DIST)

clean:
	rm -rf $(DIST) build *.egg-info server/*.egg-info .pytest_cache
