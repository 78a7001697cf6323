#!/usr/bin/env bash
# Re-execute the notebooks in place from their py:percent sources, then strip run-specific metadata.
#
#   bash tools/execute_notebooks.sh                      # every notebook, notebooks/*.py
#   bash tools/execute_notebooks.sh notebooks/04_dropout.py ...
#
# The .py file is the source: its cells are written into the paired .ipynb (created if missing),
# the .ipynb is executed with the `python3` kernel of the environment on PATH, and per-cell timing
# metadata is removed so that re-running an unchanged notebook gives an unchanged file.
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
    start=$(date +%s)
    # --update keeps the notebook's metadata (kernelspec) when the .ipynb exists already.
    jupytext --quiet --to ipynb --update "$src"
    jupyter nbconvert --log-level=WARN --to notebook --execute --inplace \
        --ExecutePreprocessor.kernel_name=python3 \
        --ExecutePreprocessor.timeout=1200 \
        --ExecutePreprocessor.record_timing=False \
        "$nb"
    python - "$nb" <<'EOF'
import sys

import nbformat

path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                             "language": "python"}
nb.metadata.get("language_info", {}).pop("version", None)  # differs between machines
for cell in nb.cells:
    for key in ("execution", "ExecuteTime", "collapsed", "scrolled"):
        cell.metadata.pop(key, None)
    # How printed text is split into stream outputs depends on timing: merge neighbours.
    merged = []
    for out in cell.get("outputs", []):
        if (out.output_type == "stream" and merged and merged[-1].output_type == "stream"
                and merged[-1].name == out.name):
            merged[-1].text += out.text
        else:
            merged.append(out)
    if cell.cell_type == "code":
        cell.outputs = merged
        if "# CIFAR-PIXELS" in cell.source:
            cell.outputs = []  # dataset images are drawn at run time only, never committed
nbformat.validate(nb)
nbformat.write(nb, path)
EOF
    echo "executed $nb in $(( $(date +%s) - start )) s"
done
