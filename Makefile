# The two commands: `make serve` (set up and run the server) and `make test` (set up and run the tests).
# Everything else is a helper. Variables: PORT (9200), ADMIN_PASSWORD (admin), DEMO_USERS (false),
# OCIS_CONFIG_DIR,
# OCIS_BASE_DATA_PATH (default ./.ocis/config and ./.ocis/data), PYTEST_ARGS.

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 9200
ADMIN_PASSWORD ?= admin
DEMO_USERS ?= false
OCIS_CONFIG_DIR ?= $(CURDIR)/.ocis/config
OCIS_BASE_DATA_PATH ?= $(CURDIR)/.ocis/data
PYTEST_ARGS ?=
SHARED ?= $(abspath $(CURDIR)/../shared)

export OCIS_CONFIG_DIR OCIS_BASE_DATA_PATH

.PHONY: help setup setup-test serve test test-fast bench docs lint

help:
	@echo "make serve      set up .venv and run the server on http://127.0.0.1:$(PORT) (admin/$(ADMIN_PASSWORD))"
	@echo "make test       install test tools (apt), set up .venv, run the whole test suite"
	@echo "make test-fast  the suite without the slow real-client tests"
	@echo "make bench      benchmark our server next to peer WebDAV servers (needs ../shared/bench)"
	@echo "make docs       regenerate man pages and shell completions"
	@echo "make lint       check the import layers (import-linter) and the types (mypy --strict)"

setup:
	scripts/setup.sh

setup-test:
	scripts/install-test-tools.sh
	scripts/setup.sh --test

serve: setup
	@if [ ! -e "$(OCIS_CONFIG_DIR)/ocis.toml" ]; then \
	  $(VENV)/bin/ocis init --insecure true --admin-password "$(ADMIN_PASSWORD)"; \
	fi
	PROXY_ENABLE_BASIC_AUTH=true PROXY_HTTP_ADDR=127.0.0.1:$(PORT) OCIS_URL=http://127.0.0.1:$(PORT) \
	  OCIS_INSECURE=true IDM_CREATE_DEMO_USERS=$(DEMO_USERS) $(VENV)/bin/ocis server

test: setup-test
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: setup-test
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

bench:
	scripts/setup.sh --test    # the peers need wsgidav, cheroot, lxml from the [test] extras
	scripts/bench.sh

docs: setup
	$(PY) -m ocis_cli.docsgen

# The same two checks run inside `make test` (tests/test_layers.py, tests/test_types.py).
lint: setup-test
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy --strict ocis_server ocis_cli ocis_tui
