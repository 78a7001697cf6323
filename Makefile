# Two commands on a fresh machine:  `make all` (the main job) and `make test` (the tests).
# Both create the virtual environment in .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

# Where the data comes from, one rule for `make lab`, `make notebooks`, `make test` and CI:
# CIFAR10_DIR when set, else the development copy ../shared/data/cifar-10-batches-py beside the
# repository when it exists, else unset (the loader downloads CIFAR-10 once to its cache,
# ~/.cache/cnn-from-scratch). tests/conftest.py applies the same rule to a bare `pytest`.
DEV_DATA := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))../shared/data/cifar-10-batches-py)
ifeq ($(CIFAR10_DIR),)
ifneq ($(wildcard $(DEV_DATA)/.),)
export CIFAR10_DIR := $(DEV_DATA)
endif
endif

.PHONY: all test check venv data-dir lab train search submission notebooks report tex-deps browser-deps sandbox-deps sync-check bench clean

# The main job: train the best net (or reuse the saved run in runs/best), write the submission
# files, re-execute every notebook and build report.pdf.
all: train submission notebooks report

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

venv: $(STAMP)

data-dir:
	@echo "CIFAR10_DIR=$${CIFAR10_DIR:-<unset: the loader downloads CIFAR-10 to ~/.cache/cnn-from-scratch>}"

# The browser test drives Debian's chromium: installed by `make browser-deps` when run as root.
test: $(STAMP)
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ]; then $(MAKE) browser-deps; fi
	@if ! command -v bwrap >/dev/null && [ "$$(id -u)" = 0 ]; then $(MAKE) sandbox-deps; fi
	$(BIN)/python -m pytest

# The student's check: PASS / FAIL / TODO for each function you write (NAMES="conv_forward layers").
check: $(STAMP)
	$(BIN)/python -m code_base.check $(NAMES)

# JupyterLab on 127.0.0.1 with every notebook ready (see tools/lab.sh and docs/notebooks.md).
lab: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash tools/lab.sh $(LAB_ARGS)

train: $(STAMP)
	$(BIN)/python -m code_base.training train --config configs/best.json --out runs/best --reuse

search: $(STAMP)
	$(BIN)/python -m code_base.training search --spec configs/search.json \
	    --out runs/best/search_results.csv --reuse

submission: $(STAMP)
	$(BIN)/python -m code_base.submission run --inputs input_files --outputs output_files

# Re-executes the notebooks whose inputs changed (tools/notebook_inputs.py); FORCE=1: all of them.
notebooks: $(STAMP)
	FORCE=$(FORCE) PATH="$(abspath $(BIN)):$$PATH" bash tools/execute_notebooks.sh

# Needs XeTeX, pandoc and poppler-utils (Debian): installed by `make tex-deps` when run as root.
report: $(STAMP)
	@if ! command -v xelatex >/dev/null || ! command -v pandoc >/dev/null || ! command -v pdfinfo >/dev/null; then \
	    if [ "$$(id -u)" = 0 ]; then $(MAKE) tex-deps; else \
	    echo "report: needs xelatex, pandoc and pdfinfo; install them with 'sudo make tex-deps'" >&2; exit 1; fi; \
	fi
	PATH="$(abspath $(BIN)):$$PATH" bash tools/execute_notebooks.sh notebooks/report.py
	$(BIN)/jupyter nbconvert --log-level=ERROR --to pdf --no-input \
	    --template-file notebooks/report_pdf.tex.j2 --output-dir . --output report \
	    notebooks/report.ipynb
	PATH="$(abspath $(BIN)):$$PATH" bash tools/check_report.sh report.pdf

tex-deps:
	apt-get update
	apt-get install -y --no-install-recommends texlive-xetex texlive-fonts-recommended \
	    texlive-plain-generic pandoc poppler-utils

# Debian's chromium, for the JupyterLab browser test in `make test` (tests/test_lab_browser.py).
browser-deps:
	apt-get update
	apt-get install -y chromium

# Debian's bubblewrap: grade-class runs every student function call in its own bwrap sandbox.
sandbox-deps:
	apt-get update
	apt-get install -y bubblewrap

sync-check: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash tools/check_notebook_sync.sh

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) .pytest_cache build
