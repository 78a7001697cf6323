# Two commands on a fresh machine:  `make all` (the main job) and `make test` (the tests).
# Both create the virtual environment in .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: all test venv submission notebooks sync-check bench clean

all: submission notebooks

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

submission: $(STAMP)
	$(BIN)/python -m code_base.submission run --inputs input_files --outputs output_files

notebooks: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash tools/execute_notebooks.sh

sync-check: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash tools/check_notebook_sync.sh

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) .pytest_cache build
