# Two entry points for a fresh Debian machine with Python 3.11:
#   make serve   install into .venv, build the demo books on SQLite, run the web server on them
#   make test    install into .venv (with dev tools), lint, run every test on SQLite and PostgreSQL
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
DEMO_DB ?= sqlite:///demo.db
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test lint bench bench-stock bench-trade bench-close clean

$(STAMP): pyproject.toml
	bash scripts/bootstrap.sh "$(PY)" "$(VENV)"
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/jxc --db $(DEMO_DB) demo --reset
	$(BIN)/jxc --db $(DEMO_DB) period status
	$(BIN)/jxc --db $(DEMO_DB) verify
	$(BIN)/jxc --db $(DEMO_DB) serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/lint-imports
	$(BIN)/mypy

test: $(STAMP) lint
	bash scripts/ensure-postgres.sh
	bash scripts/ensure-chromium.sh
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

bench-stock: $(STAMP)
	$(BIN)/python -m bench.bench_stock

bench-trade: $(STAMP)
	$(BIN)/python -m bench.bench_trade

bench-close: $(STAMP)
	$(BIN)/python -m bench.bench_close

clean:
	rm -rf $(VENV) demo.db demo.db-wal demo.db-shm .pytest_cache .ruff_cache .hypothesis
