"""The chapters as the student gets them: SOLUTION-ONLY cells dropped, no outputs, paired .ipynb.

A code cell whose first line is ``# SOLUTION-ONLY`` (a markdown cell: ``<!-- SOLUTION-ONLY -->``)
is the solution's only; so are nbval's ``# NBVAL_*`` lines (they compare outputs the kit does
not have).  The .ipynb is made from the filtered .py by jupytext, with no outputs and no
execution counts, so the two are a pair as in the solution.
"""

import jupytext
import nbformat

__all__ = ["student_notebook", "is_solution_only"]

MARKERS = ("# SOLUTION-ONLY", "<!-- SOLUTION-ONLY -->")


def is_solution_only(cell):
    first = cell.source.lstrip().splitlines()[0].strip() if cell.source.strip() else ""
    return first.startswith(MARKERS)


def _strip_nbval(source):
    return "\n".join(line for line in source.splitlines()
                     if not line.strip().startswith("# NBVAL_"))


def student_notebook(py_text):
    """(the .py text, the .ipynb text) of a chapter for the kit."""
    nb = jupytext.reads(py_text, fmt="py:percent")
    nb.cells = [c for c in nb.cells if not is_solution_only(c)]
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:03d}"  # fixed ids: the same source gives the same bytes
        if cell.cell_type == "code":
            cell.source = _strip_nbval(cell.source)
            cell.outputs, cell.execution_count = [], None
        cell.metadata = {}
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python",
                                  "name": "python3"},
                   "jupytext": {"formats": "ipynb,py:percent"}}
    bare = nbformat.from_dict(dict(nb, metadata={"jupytext": {
        "notebook_metadata_filter": "-all", "cell_metadata_filter": "-all"}}))
    py = jupytext.writes(bare, fmt="py:percent")  # no header, as notebooks/jupytext.toml writes
    ipynb = nbformat.writes(nb) + "\n"
    return py, ipynb
