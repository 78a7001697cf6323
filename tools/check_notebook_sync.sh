#!/usr/bin/env bash
# Check that every notebook source notebooks/*.py (py:percent) and its paired .ipynb (the
# executed copy) agree, that no committed output shows CIFAR pixels, and that each was executed
# with the inputs it has now (tools/notebook_inputs.py).
#
#   bash tools/check_notebook_sync.sh          # exit 0 when in sync, 1 otherwise
#
# Fails when a .py has no .ipynb or the reverse, when the cells (type and source) differ, when a
# code cell of the .ipynb was never executed, or when the .ipynb is not in the clean form of
# tools/notebook_clean.py (machine or timing metadata, widget outputs, CIFAR pixels).
# Works without git. Fix a failure with `bash tools/execute_notebooks.sh notebooks/NAME.py`.
set -euo pipefail
cd "$(dirname "$0")/.."

python - <<'EOF'
import copy
import difflib
import sys
from pathlib import Path

import jupytext
import nbformat

sys.path.insert(0, "tools")
from notebook_clean import clean, is_pixel_cell  # noqa: E402

folder = Path("notebooks")
sources = {p.stem: p for p in folder.glob("*.py")}
executed = {p.stem: p for p in folder.glob("*.ipynb")}
problems = []
for stem in sorted(set(executed) - set(sources)):
    problems.append(f"{executed[stem]}: no paired {stem}.py source")
for stem in sorted(set(sources) - set(executed)):
    problems.append(f"{sources[stem]}: no paired {stem}.ipynb (run tools/execute_notebooks.sh)")


def cells(nb):
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def as_text(cell_list):
    lines = []
    for kind, source in cell_list:
        lines.append(f"# ---- {kind} cell")
        lines.extend(source.splitlines())
    return lines


for stem in sorted(set(sources) & set(executed)):
    py, ipynb = sources[stem], executed[stem]
    text_nb = jupytext.read(py, fmt="py:percent")
    run_nb = nbformat.read(ipynb, as_version=4)
    if cells(text_nb) != cells(run_nb):
        diff = difflib.unified_diff(as_text(cells(run_nb)), as_text(cells(text_nb)),
                                    str(ipynb), str(py), lineterm="", n=1)
        problems.append(f"{ipynb}: cells differ from {py}:\n" + "\n".join(diff))
        continue
    unexecuted = [i for i, c in enumerate(run_nb.cells)
                  if c.cell_type == "code" and c.source.strip() and c.execution_count is None]
    if unexecuted:
        problems.append(f"{ipynb}: code cells {unexecuted} have not been executed")
    pixels = [i for i, c in enumerate(run_nb.cells)
              if c.cell_type == "code" and is_pixel_cell(c.source) and c.outputs]
    if pixels:
        problems.append(f"{ipynb}: CIFAR-PIXELS cells {pixels} have outputs (CIFAR images must not be committed)")
    cleaned = clean(copy.deepcopy(run_nb))
    if cleaned != run_nb:
        where = ["notebook metadata"] if cleaned.metadata != run_nb.metadata else []
        where += [f"cell {i}" for i, (a, b) in enumerate(zip(cleaned.cells, run_nb.cells)) if a != b]
        problems.append(f"{ipynb}: not in the clean form of tools/notebook_clean.py "
                        f"(timing or machine metadata, widget outputs or split streams) in "
                        f"{', '.join(where)}")

if not sources:
    problems.append(f"no notebooks found in {folder}")
for p in problems:
    print(p, file=sys.stderr)
if problems:
    print(f"{len(problems)} notebook problem(s); re-run: bash tools/execute_notebooks.sh", file=sys.stderr)
    sys.exit(1)
print(f"{len(sources)} notebooks in sync")
EOF

# Every committed notebook was executed with the inputs it has now (its hash in the .ipynb, see
# tools/notebook_inputs.py), so `make all` on a fresh clone executes none of them again and leaves
# git status clean whatever the machine's BLAS.
stale=()
for source in notebooks/*.py; do
    if ! python tools/notebook_inputs.py current "$source"; then
        stale+=("$source")
    fi
done
if [ ${#stale[@]} -gt 0 ]; then
    echo "error: ${stale[*]}: executed before its inputs last changed (python tools/notebook_inputs.py explain NAME lists them); run 'make notebooks' and commit" >&2
    exit 1
fi
echo "every notebook's inputs are those it was executed with"
