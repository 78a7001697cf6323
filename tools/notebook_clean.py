"""The clean form of a committed notebook, shared by every tool that writes or checks one.

A notebook here is saved without anything that depends on the machine, the run's timing or the
dataset's pixels, so that re-running or re-saving an unchanged notebook gives an unchanged file:

- the kernelspec is the project's ``python3`` and ``language_info`` has no Python ``version``;
- cells carry no timing (``execution``, ``ExecuteTime``) or view (``collapsed``, ``scrolled``)
  metadata, and the notebook no saved widget state;
- neighbouring stream outputs of one stream are merged (how printed text is split into outputs
  depends on timing);
- progress-bar widgets are dropped (without saved widget state they cannot be shown anyway);
- cells marked ``# CIFAR-PIXELS`` have no outputs: dataset images are drawn at run time only.

Used by ``tools/execute_notebooks.sh`` after nbconvert, by JupyterLab as a pre-save hook
(``jupyter-config/jupyter_server_config.py``, which ``make lab`` loads) and by
``tools/check_notebook_sync.sh``, which fails on a notebook that is not in this form.

    python tools/notebook_clean.py notebooks/NAME.ipynb ...    # rewrite in the clean form
"""

import copy
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
        if CIFAR_PIXELS in _source(cell):
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
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        clean(nb)
        nbformat.validate(nb)
        nbformat.write(nb, path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
