"""The chapters' side of the check: an IPython extension and ``show``.

In a notebook::

    %load_ext code_base.check.notebook

then

- a cell whose first line is ``# NEEDS: conv_forward, conv_backward`` runs as written once those
  functions are written; while one of them is still the release's stub, the cell prints the
  stub's one-line message instead of raising a traceback far from the cause;
- ``show("conv_forward")`` (in a cell whose first line is ``# CHECK``) prints the check's line
  for each function: PASS, FAIL or TODO, as ``python -m code_base.check`` would.

Whether a function is a stub is read from its file on disk (its body ends in
``raise NotImplementedError``), so it follows the student's edits.
"""

from .manifest import stub_message, task
from .stubs import is_stub

__all__ = ["is_stub", "needs_transform", "show", "load_ipython_extension"]

MARKER = "# NEEDS:"


def needs_transform(lines):
    """IPython input transformer: a ``# NEEDS:`` cell becomes a print while a function is a stub."""
    if not lines or not lines[0].startswith(MARKER):
        return lines
    names = [n.strip() for n in lines[0][len(MARKER):].split(",") if n.strip()]
    missing = [n for n in names if is_stub(n)]
    if not missing:
        return lines
    message = stub_message(task(missing[0]))
    return [f"print({'TODO: ' + message + ' (this cell runs once it is written)'!r})\n"]


def show(*names):
    """Print the check's line (PASS / FAIL / TODO) for each named function or group."""
    from .runner import check_lines  # the check itself; imported only when a cell asks
    for line in check_lines(names):
        print(line)


def load_ipython_extension(ipython):
    if needs_transform not in ipython.input_transformers_post:
        ipython.input_transformers_post.append(needs_transform)


def unload_ipython_extension(ipython):
    if needs_transform in ipython.input_transformers_post:
        ipython.input_transformers_post.remove(needs_transform)
