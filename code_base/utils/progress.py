"""Progress bars that suit where the code runs.

``progress_bar(total, enabled=...)`` returns a tqdm bar of the right kind:

- inside a Jupyter kernel (JupyterLab, Notebook, VS Code): an ipywidgets bar, shown as its own
  output; printed lines go to the cell's text output below it, so the two never mix;
- anywhere else: tqdm's text bar on stderr, which ``bar.write`` clears and redraws around each
  printed line, so a terminal shows whole lines and one bar under them;
- with ``enabled=False``: no bar (``bar.write`` still prints).

Print through ``bar.write(line)`` while a bar is open, never ``print``.
"""

import sys
import warnings
from importlib.util import find_spec

from tqdm import std

__all__ = ["progress_bar", "in_jupyter_kernel"]

_warned = []


def in_jupyter_kernel():
    """True when this code runs in an IPython kernel (a notebook), not in a terminal or script."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def progress_bar(total=None, *, enabled=True, **options):
    """A tqdm bar for ``total`` steps: a widget in a notebook, text elsewhere, nothing if disabled.

    ``options`` are tqdm's (``initial``, ``desc``, ``unit``, ``unit_scale``, ...).  Use it as a
    context manager and call ``bar.update(n)`` and ``bar.write(line)``.
    """
    if not enabled:
        return std.tqdm(total=total, disable=True, **options)
    if in_jupyter_kernel():
        if find_spec("ipywidgets") is not None:
            from tqdm.notebook import tqdm as notebook_tqdm
            return notebook_tqdm(total=total, **options)
        if not _warned:
            _warned.append(True)
            warnings.warn("ipywidgets is not installed, so the progress bar is drawn as text; "
                          "`pip install -r requirements.txt` brings the widget", stacklevel=2)
    return std.tqdm(total=total, **options)
