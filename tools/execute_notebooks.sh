#!/usr/bin/env bash
# Re-execute the notebooks in place from their py:percent sources, then strip run-specific metadata.
#
#   bash tools/execute_notebooks.sh                      # every notebook, notebooks/*.py
#   bash tools/execute_notebooks.sh notebooks/04_dropout.py ...
#
# The .py file is the source: its cells are written into the paired .ipynb (created if missing),
# the .ipynb is executed with the `python3` kernel of the environment on PATH, and the result is
# put in the clean form of tools/notebook_clean.py (no timing or machine metadata, no CIFAR pixels)
# so that re-running an unchanged notebook gives an unchanged file.
# A notebook whose inputs have not changed since its .ipynb was executed (its source, code_base/,
# requirements.txt, the repository's data and the CIFAR-10 files: tools/notebook_inputs.py, whose
# hash the .ipynb records) is not executed again, only put in the clean form: its numbers would
# differ in the last digits on another machine's BLAS and nothing else. FORCE=1 executes it anyway
# (`make notebooks FORCE=1`).
# Chapters that train on CIFAR2 read the data through code_base.data_utils (set CIFAR10_DIR to use
# a local copy). Needs jupytext, nbconvert and ipykernel (requirements.txt).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$#" -gt 0 ]; then
    sources=("$@")
else
    shopt -s nullglob
    sources=(notebooks/*.py)
fi
if [ "${#sources[@]}" -eq 0 ]; then
    echo "error: no notebooks/*.py to execute" >&2
    exit 1
fi

sockets=$(mktemp -d)
trap 'rm -rf "$sockets"' EXIT
for src in "${sources[@]}"; do
    case "$src" in
        *.py) ;;
        *) echo "error: $src is not a .py notebook source" >&2; exit 1 ;;
    esac
    if [ ! -f "$src" ]; then
        echo "error: $src not found" >&2
        exit 1
    fi
    nb="${src%.py}.ipynb"
    if [ "${FORCE:-0}" != 1 ] && python tools/notebook_inputs.py current "$src"; then
        python tools/notebook_clean.py "$nb"
        echo "unchanged inputs, not executed: $nb (FORCE=1 executes it)"
        continue
    fi
    start=$(date +%s)
    # --update keeps the notebook's metadata (kernelspec) when the .ipynb exists already.
    jupytext --quiet --to ipynb --update "$src"
    # The kernel talks to nbconvert over Unix sockets (ipc), not unencrypted TCP on localhost; the
    # sockets' path is absolute, since the kernel runs in notebooks/ and nbconvert here.
    jupyter nbconvert --log-level=WARN --to notebook --execute --inplace \
        --KernelManager.transport=ipc --KernelManager.ip="$sockets/kernel" \
        --ExecutePreprocessor.kernel_name=python3 \
        --ExecutePreprocessor.timeout=1200 \
        --ExecutePreprocessor.record_timing=False \
        "$nb"
    python tools/notebook_clean.py "$nb"
    python tools/notebook_inputs.py stamp "$src"
    echo "executed $nb in $(( $(date +%s) - start )) s"
done
