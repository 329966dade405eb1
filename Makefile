# `make install` sets up everything; `make check` runs lint, format check, types and tests.
# The real agent CLIs (Claude Code, Codex, opencode, Kilo CLI, Gemini CLI) go in .tools/, pinned in
# .tools/package.json;
# tests/test_real_agents.py drives them against the scripted model server.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install tools browser check bench chaos

install: tools browser
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"

# `npm install`, not `npm ci`: some registry mirrors lack other platforms' builds of opencode,
# which `npm ci` insists on finding; the exact versions in .tools/package.json still pin.
tools:
	@command -v npm >/dev/null || { echo "make install needs npm (Node.js 20 or later) for the agent CLIs in .tools/"; exit 1; }
	npm install --prefix .tools --no-audit --no-fund --loglevel=error

# The dashboard's browser tests drive Debian's chromium through Playwright, which is told to use
# /usr/bin/chromium and never downloads a browser of its own.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

check:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest --cov --cov-report=term:skip-covered

bench:
	$(BIN)/python bench/run.py

chaos:
	$(BIN)/python bench/chaos.py
