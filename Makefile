# Set-up and everyday commands. `make serve` and `make test` do all set-up on a
# fresh machine: the virtual environment, Python packages, a Java runtime for
# the OWL reasoner, and (for the tests that need them) Debian packages.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
HOST   ?= 127.0.0.1
PORT   ?= 8000
DIST   ?= dist

.PHONY: install java build validate serve test test-all conformance bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

# HermiT (bundled with owlready2) needs a Java runtime.
java:
	@command -v java >/dev/null 2>&1 || { \
	  echo "installing a Java runtime for the OWL reasoner (default-jre-headless)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq default-jre-headless >/dev/null; }

build: install java
	$(BIN)/ijdp build --out $(DIST)

validate: install
	$(BIN)/ijdp validate

# The local server rewrites the published base so that its IRIs dereference here.
serve: build
	$(BIN)/ijdp serve --host $(HOST) --port $(PORT) --dist $(DIST) --base-iri http://$(HOST):$(PORT)/

test: install java
	$(BIN)/python -m pytest -q -p no:cacheprovider

# W3C SPARQL 1.1 suite alone (it also runs in `make test`).
conformance: install
	$(BIN)/python -m pytest -q -p no:cacheprovider -m conformance

# Median latency of every example query against the HTTP floor (bench/results/).
bench: build
	$(BIN)/python bench/http_latency.py --dist $(DIST)

clean:
	rm -rf $(DIST) build *.egg-info server/*.egg-info .pytest_cache
