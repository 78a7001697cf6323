"""The clean form of a committed notebook, shared by every tool that writes or checks one.

A notebook here is saved without anything that depends on the machine, the run's timing or the
dataset's pixels, so that re-running or re-saving an unchanged notebook gives an unchanged file:

- the kernelspec is the project's ``python3`` and ``language_info`` has no Python ``version``;
- cells carry no timing (``execution``, ``ExecuteTime``) or view (``collapsed``, ``scrolled``)
  metadata, and the notebook no saved widget state;
- neighbouring stream outputs of one stream are merged (how printed text is split into outputs
  depends on timing);
- progress-bar widgets are dropped (without saved widget state they cannot be shown anyway);
- cells whose first line is ``# CIFAR-PIXELS`` have no outputs: dataset images are drawn at run
  time only (``is_pixel_cell``).

Used by ``tools/execute_notebooks.sh`` after nbconvert, by JupyterLab as a pre-save hook
(``jupyter-config/jupyter_server_config.py``, which ``make lab`` loads) and by
``tools/check_notebook_sync.sh``, which fails on a notebook that is not in this form.

    python tools/notebook_clean.py notebooks/NAME.ipynb ...    # rewrite in the clean form

A file that cannot be read or cleaned gets one ``error:`` line and is left as it was; the other
files are still cleaned, and the exit status is 1.
"""

import copy
import os
import sys

import nbformat

CIFAR_PIXELS = "# CIFAR-PIXELS"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
CELL_METADATA_DROPPED = ("execution", "ExecuteTime", "collapsed", "scrolled")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _merge_streams(outputs):
    merged = []
    for out in outputs:
        if (out.get("output_type") == "stream" and merged
                and merged[-1].get("output_type") == "stream"
                and merged[-1].get("name") == out.get("name")):
            merged[-1]["text"] = _text(merged[-1]["text"]) + _text(out["text"])
        else:
            merged.append(out)
    return merged


def _text(text):
    return "".join(text) if isinstance(text, list) else text


def _source(cell):
    return _text(cell.get("source", ""))


def is_pixel_cell(source):
    """True when the first line of the cell source ``source`` (a string or a list of lines) is the
    marker ``# CIFAR-PIXELS``, alone or followed by a remark (``# CIFAR-PIXELS: why``): the cell's
    outputs show dataset images and are never saved. The marker anywhere else does not count."""
    first = _text(source).split("\n", 1)[0].rstrip()
    return first == CIFAR_PIXELS or first.startswith((CIFAR_PIXELS + ":", CIFAR_PIXELS + " "))


def clean(nb):
    """Put the notebook ``nb`` (a dict or NotebookNode, changed in place) in its clean form."""
    metadata = nb.setdefault("metadata", {})
    metadata["kernelspec"] = dict(KERNELSPEC)
    metadata.get("language_info", {}).pop("version", None)  # differs between machines
    metadata.pop("widgets", None)
    for cell in nb.get("cells", []):
        for key in CELL_METADATA_DROPPED:
            cell.get("metadata", {}).pop(key, None)
        if cell.get("cell_type") != "code":
            continue
        if is_pixel_cell(_source(cell)):
            cell["outputs"] = []
            continue
        outputs = [out for out in cell.get("outputs", [])
                   if WIDGET_VIEW not in out.get("data", {})]
        cell["outputs"] = _merge_streams(outputs)
    return nb


def is_clean(nb):
    """True when ``nb`` is already in its clean form (``nb`` is not changed)."""
    return clean(copy.deepcopy(nb)) == nb


def pre_save_hook(model, path, contents_manager=None, **kwargs):
    """Jupyter server pre-save hook: every notebook is saved in its clean form.

    A failure rejects the save (the server would otherwise write the notebook as it was).
    """
    if model.get("type") != "notebook" or "content" not in model:
        return
    try:
        clean(model["content"])
    except Exception as e:  # noqa: BLE001 - any failure must stop the save, not be logged past
        from tornado.web import HTTPError
        raise HTTPError(500, f"{path}: could not clean the notebook before saving ({e}); "
                             "nothing was written") from e


def main(paths):
    if not paths:
        print("usage: python tools/notebook_clean.py NOTEBOOK.ipynb ...", file=sys.stderr)
        return 2
    failed = 0
    for path in paths:
        try:
            nb = nbformat.read(path, as_version=4)
            clean(nb)
            nbformat.validate(nb)
            text = nbformat.writes(nb)
            text += "" if text.endswith("\n") else "\n"  # as nbformat.write ends the file
        except Exception as e:  # noqa: BLE001 - any malformed file: one line, then the next file
            reason = " ".join(str(e).split()) or type(e).__name__
            print(f"error: {path}: not a notebook that can be cleaned ({reason[:200]})",
                  file=sys.stderr)
            failed += 1
            continue
        partial = f"{path}.tmp"  # replaced in one step: never a half-written notebook
        with open(partial, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(partial, path)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
