# Two commands do all the set-up on a fresh machine:
#   make demo   build the venv, run the built-in lab through mtls-doctor
#   make test   build the venv, install the real servers the tests use, lint, test
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin

.PHONY: demo test lint system-deps bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/mtls-doctor demo

system-deps:
	@scripts/system-deps

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: $(BIN)/.installed system-deps lint
	$(BIN)/python -m pytest

bench: $(BIN)/.installed system-deps
	$(BIN)/python bench/probe.py
	$(BIN)/python bench/check.py
	$(BIN)/python bench/watch.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
