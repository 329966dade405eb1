# `make install` sets up everything; `make check` runs lint, format check, types and tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install check bench

install:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"

check:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest --cov --cov-report=term:skip-covered

bench:
	$(BIN)/python bench/run.py
