# Riskstream: every target creates (once) and reuses a local virtual environment in .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_ARGS ?= --duration 30
PYTEST_ARGS ?=

.PHONY: venv demo test example bench chaos lint format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## demo: the main job on embedded defaults (make demo DEMO_ARGS= runs until Ctrl-C)
demo: $(STAMP)
	$(VENV)/bin/riskstream demo $(DEMO_ARGS)

## test: the whole test suite (RISKSTREAM_REQUIRE_SERVICES=1 makes missing servers fail)
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

## example: the real-data example book (skfolio, arch.data, ECB rates) — VaR, ES, L-VaR and
## the backtest of the engine's 1-day VaR, in its own data folder
EXAMPLE_DIR ?= .riskstream-example
example: $(STAMP)
	rm -rf $(EXAMPLE_DIR)
	$(PY) examples/real_book/build_files.py $(EXAMPLE_DIR)/files
	RISKSTREAM_STORE__DATA_DIR=$(EXAMPLE_DIR) $(VENV)/bin/riskstream history load $(EXAMPLE_DIR)/files/prices.csv
	RISKSTREAM_STORE__DATA_DIR=$(EXAMPLE_DIR) $(VENV)/bin/riskstream history load $(EXAMPLE_DIR)/files/vols.csv --kind vols
	RISKSTREAM_STORE__DATA_DIR=$(EXAMPLE_DIR) $(VENV)/bin/riskstream instruments load $(EXAMPLE_DIR)/files/instruments.csv --replace
	RISKSTREAM_STORE__DATA_DIR=$(EXAMPLE_DIR) $(VENV)/bin/riskstream positions load $(EXAMPLE_DIR)/files/positions.csv --replace
	RISKSTREAM_STORE__DATA_DIR=$(EXAMPLE_DIR) $(VENV)/bin/riskstream risk --universe --method historical --confidence 0.99 --horizon 1 --window 500
	RISKSTREAM_STORE__DATA_DIR=$(EXAMPLE_DIR) $(VENV)/bin/riskstream backtest book --window 500 --days 700 --report $(EXAMPLE_DIR)/backtest.html

## bench: every benchmark in bench/, each printing one JSON object as its last line
bench: $(STAMP)
	@for f in bench/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

## chaos: the chaos tests at 10x (more messages, more broker kills) and the failover bench
chaos: $(STAMP)
	RISKSTREAM_CHAOS_SCALE=10 $(PY) -m pytest -q tests/runtime/test_chaos.py tests/runtime/test_chaos_stages.py
	$(PY) bench/failover.py --seconds 40 --kill-after 15 --limits-kill-after 25

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

format: $(STAMP)
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) .riskstream .riskstream-example .pytest_cache
