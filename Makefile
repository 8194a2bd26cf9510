# labkit — every target CI needs is here; .ci/run calls `make test`.
#   make lab     set everything up, start the lab (kwok by default) and open JupyterLab on 127.0.0.1
#   make test    set everything up and run lint, type checks and the whole test suite
#   make bench   run the benchmarks and print their tables (not part of the tests)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: lab test lint unit integration binaries bench bench-up down clean-cache venv

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# Build (or find in ~/.cache/labkit) the pinned control-plane binaries.
binaries: $(STAMP)
	$(BIN)/labkit toolchain ensure

lab: binaries
	$(BIN)/labkit up
	$(BIN)/labkit jupyter

lint: $(STAMP)
	$(BIN)/ruff check labkit tests benchmarks
	$(BIN)/ruff format --check labkit tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m labkit.tools.check_notebooks notebooks

test: binaries lint
	$(BIN)/pytest $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

bench: binaries
	$(BIN)/python -m benchmarks.run all

bench-up: binaries
	$(BIN)/python -m benchmarks.run up

down: $(STAMP)
	$(BIN)/labkit down
