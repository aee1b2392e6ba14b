# Two entry points for a fresh Debian machine with Python 3.11:
#   make serve   install into .venv, build the demo books on SQLite, show them
#   make test    install into .venv (with dev tools), lint, run every test on SQLite and PostgreSQL
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
DEMO_DB ?= sqlite:///demo.db

.PHONY: serve test lint bench bench-stock bench-trade bench-close clean

$(STAMP): pyproject.toml
	bash scripts/bootstrap.sh "$(PY)" "$(VENV)"
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/jxc --db $(DEMO_DB) demo --reset
	$(BIN)/jxc --db $(DEMO_DB) report trial-balance --period 2026-03
	$(BIN)/jxc --db $(DEMO_DB) report stock-summary --from 2026-01-01 --to 2026-03-31
	$(BIN)/jxc --db $(DEMO_DB) report ar-aging --date 2026-03-31
	$(BIN)/jxc --db $(DEMO_DB) period status
	$(BIN)/jxc --db $(DEMO_DB) close 2026-03 --check
	$(BIN)/jxc --db $(DEMO_DB) verify
	@echo
	@echo "Demo books: $(DEMO_DB). Try: $(BIN)/jxc --db $(DEMO_DB) report detail-ledger --account 1122 --from 2026-01-01 --to 2026-03-31"

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
