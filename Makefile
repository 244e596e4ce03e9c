# Riskstream: every target creates (once) and reuses a local virtual environment in .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_ARGS ?= --duration 30
PYTEST_ARGS ?=

.PHONY: venv demo test bench lint format clean

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

## bench: every benchmark in bench/, each printing one JSON object as its last line
bench: $(STAMP)
	@for f in bench/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

format: $(STAMP)
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) .riskstream .pytest_cache
