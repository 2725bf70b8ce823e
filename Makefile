# Invoice Lite: the menu.  `make demo` to try it, `make test` to check it.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/invoice_lite_test
# pytest-xdist workers (at most 2): each has its own databases and Redis database numbers.
TEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -n $(TEST_WORKERS)

.PHONY: demo test lint typecheck bench worker migrate install dev-install system-deps services

demo: install
	INVOICE_LITE_ENV=development $(BIN)/invoice-lite demo

test: dev-install system-deps services lint typecheck
	@echo "== pytest on SQLite =="
	env -u DATABASE_URL $(PYTEST)
	@echo "== pytest on PostgreSQL =="
	DATABASE_URL=$(PG_TEST_URL) $(PYTEST)

lint: dev-install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: dev-install
	$(BIN)/mypy

bench: dev-install services
	$(PY) bench/pages.py
	DATABASE_URL=$(PG_TEST_URL)_bench $(PY) bench/pages.py
	$(PY) bench/invoices.py
	DATABASE_URL=$(PG_TEST_URL)_bench $(PY) bench/invoices.py
	$(PY) bench/documents.py
	$(PY) bench/delivery.py
	$(PY) bench/portal.py
	$(PY) bench/analytics.py
	DATABASE_URL=$(PG_TEST_URL)_bench_dashboard $(PY) bench/dashboard.py
	$(PY) bench/api.py
	DATABASE_URL=$(PG_TEST_URL)_bench_api $(PY) bench/api.py

worker: install
	$(BIN)/invoice-lite worker

migrate: install
	$(BIN)/invoice-lite db upgrade

install: $(VENV)/.installed

dev-install: $(VENV)/.installed-dev

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

system-deps:
	bash scripts/system-deps.sh
	npm install --prefix tests/e2e/axe --no-audit --no-fund --silent

services:
	bash scripts/services.sh
