"""The Jupyter settings `make lab` starts JupyterLab with (jupyter-config/), through the real
server machinery: the jupytext contents manager that Lab saves with, configured by the committed
jupyter_server_config.py, its pre-save hook (tools/notebook_clean.py) and the jupytext.toml files.
"""

import asyncio
import copy
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from jupytext import build_async_jupytext_contents_manager_class
from tornado.web import HTTPError
from traitlets.config.loader import PyFileConfigLoader

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import notebook_clean  # noqa: E402

NOTEBOOK = "notebooks/06_best_net"  # has a CIFAR-PIXELS cell
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
WIDGET = "application/vnd.jupyter.widget-view+json"


def lab_contents_manager(root):
    """The contents manager Lab saves with: jupytext's, over jupyter_server's, with our config."""
    config = PyFileConfigLoader("jupyter_server_config.py", path=str(REPO / "jupyter-config")).load_config()
    manager_class = build_async_jupytext_contents_manager_class(AsyncLargeFileManager)
    return manager_class(root_dir=str(root), config=config)


@pytest.fixture
def repo_copy(tmp_path):
    """The notebook pair and both jupytext.toml files in a scratch copy of the repository."""
    (tmp_path / "notebooks").mkdir()
    for name in ("jupytext.toml", "notebooks/jupytext.toml", f"{NOTEBOOK}.py", f"{NOTEBOOK}.ipynb"):
        shutil.copy(REPO / name, tmp_path / name)
    return tmp_path


def test_the_server_config_installs_the_hook_and_ipc():
    config = PyFileConfigLoader("jupyter_server_config.py", path=str(REPO / "jupyter-config")).load_config()
    assert config.ContentsManager.pre_save_hook is notebook_clean.pre_save_hook
    assert config.KernelManager.transport == "ipc"
    assert lab_contents_manager(REPO).pre_save_hook is notebook_clean.pre_save_hook


def test_opening_and_saving_from_lab_leaves_the_pair_unchanged(repo_copy):
    before = {ext: (repo_copy / f"{NOTEBOOK}{ext}").read_bytes() for ext in (".py", ".ipynb")}
    cm = lab_contents_manager(repo_copy)
    model = asyncio.run(cm.get(f"{NOTEBOOK}.py", type="notebook"))
    nb = model["content"]
    # What Lab adds when a kernel connects: the running Python's version.
    nb.metadata["language_info"]["version"] = "3.11.7"
    asyncio.run(cm.save({"type": "notebook", "content": nb}, f"{NOTEBOOK}.py"))
    after = {ext: (repo_copy / f"{NOTEBOOK}{ext}").read_bytes() for ext in (".py", ".ipynb")}
    assert after == before


def test_a_save_from_lab_is_cleaned(repo_copy):
    cm = lab_contents_manager(repo_copy)
    nb = asyncio.run(cm.get(f"{NOTEBOOK}.py", type="notebook"))["content"]
    nb.metadata["language_info"]["version"] = "3.11.7"
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    pixels = next(i for i in code if notebook_clean.is_pixel_cell(nb.cells[i].source))
    nb.cells[pixels].outputs = [nbformat.v4.new_output("display_data", {"image/png": PNG})]
    nb.cells[pixels].execution_count = 7
    other = code[0]
    nb.cells[other].metadata["execution"] = {"iopub.status.busy": "2026-12-01T08:00:00Z"}
    nb.cells[other].metadata["scrolled"] = True
    nb.cells[other].outputs = [
        nbformat.v4.new_output("display_data", {WIDGET: {"model_id": "x", "version_major": 2,
                                                         "version_minor": 0},
                                                "text/plain": "train: 100%|#####| 12/12"}),
        nbformat.v4.new_output("stream", name="stdout", text="one\n"),
        nbformat.v4.new_output("stream", name="stdout", text="two\n"),
    ]
    asyncio.run(cm.save({"type": "notebook", "content": copy.deepcopy(nb)}, f"{NOTEBOOK}.py"))

    saved = nbformat.read(repo_copy / f"{NOTEBOOK}.ipynb", as_version=4)
    assert "version" not in saved.metadata["language_info"]
    assert "widgets" not in saved.metadata
    assert saved.cells[pixels].outputs == []  # no CIFAR pixels, ever
    assert saved.cells[pixels].execution_count == 7  # the run itself is kept
    assert saved.cells[other].metadata == {}
    assert saved.cells[other].outputs == [nbformat.v4.new_output("stream", name="stdout",
                                                                 text="one\ntwo\n")]
    assert notebook_clean.is_clean(saved)
    assert (repo_copy / f"{NOTEBOOK}.py").read_bytes() == (REPO / f"{NOTEBOOK}.py").read_bytes()


def test_a_failing_clean_rejects_the_save(repo_copy):
    with pytest.raises(HTTPError, match="could not clean the notebook before saving"):
        notebook_clean.pre_save_hook({"type": "notebook", "content": {"cells": [None]}},
                                     path="notebooks/x.ipynb")
    cm = lab_contents_manager(repo_copy)
    before = (repo_copy / f"{NOTEBOOK}.ipynb").read_bytes()
    nb = asyncio.run(cm.get(f"{NOTEBOOK}.ipynb", type="notebook"))["content"]
    nb.cells[0]["metadata"] = None  # cleaning fails on it
    with pytest.raises(HTTPError):
        asyncio.run(cm.save({"type": "notebook", "content": nb}, f"{NOTEBOOK}.ipynb"))
    assert (repo_copy / f"{NOTEBOOK}.ipynb").read_bytes() == before


def tracked_modules():
    files = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.split()
    return [f for f in files if not f.startswith("notebooks/")]


def test_a_module_saved_from_the_notebook_view_is_unchanged(tmp_path):
    # `make lab` opens every .py as a notebook; saving a module from that view must not rewrite it.
    modules = tracked_modules()
    assert len(modules) > 20
    shutil.copy(REPO / "jupytext.toml", tmp_path / "jupytext.toml")
    for name in modules:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, tmp_path / name)
    cm = lab_contents_manager(tmp_path)

    async def round_trip(name):
        model = await cm.get(name, type="notebook")
        model["content"].metadata["language_info"] = {"name": "python", "version": "3.11.7"}
        await cm.save({"type": "notebook", "content": model["content"]}, name)

    async def all_modules():
        for name in modules:
            await round_trip(name)

    asyncio.run(all_modules())
    changed = [name for name in modules if (tmp_path / name).read_bytes() != (REPO / name).read_bytes()]
    assert changed == []


@pytest.mark.parametrize("source, pixels", [
    ("# CIFAR-PIXELS\nplt.imshow(x)", True),
    ("# CIFAR-PIXELS: this cell shows dataset images\nplt.imshow(x)", True),
    (["# CIFAR-PIXELS\n", "plt.imshow(x)"], True),
    ("# CIFAR-PIXELS", True),
    ("plt.imshow(x)  # CIFAR-PIXELS", False),
    ("import numpy as np\n# CIFAR-PIXELS\nplt.imshow(x)", False),
    ('print("# CIFAR-PIXELS marks cells")', False),
    ("# CIFAR-PIXELSX\n", False),
    ("", False),
])
def test_only_a_first_line_marker_makes_a_pixel_cell(source, pixels):
    assert notebook_clean.is_pixel_cell(source) is pixels
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nb.cells[0].source = source
    nb.cells[0].outputs = [nbformat.v4.new_output("display_data", {"image/png": PNG})]
    notebook_clean.clean(nb)
    assert (nb.cells[0].outputs == []) is pixels


def test_the_committed_pixel_cells_are_marked_on_their_first_line():
    marked = [c for c in nbformat.read(REPO / f"{NOTEBOOK}.ipynb", as_version=4).cells
              if notebook_clean.is_pixel_cell(c.source)]
    assert len(marked) >= 1 and all(c.outputs == [] for c in marked)


def test_cleaning_malformed_notebooks_names_each_and_cleans_the_rest(tmp_path):
    good = [tmp_path / "a.ipynb", tmp_path / "z.ipynb"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    nb.cells[0].metadata["scrolled"] = True
    for path in good:
        nbformat.write(nb, path)
    bad = {"not_json.ipynb": "{not json", "empty.ipynb": "",
           "wrong_shape.ipynb": '{"cells": 3, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'}
    for name, text in bad.items():
        (tmp_path / name).write_text(text)
    paths = [good[0], *(tmp_path / name for name in bad), tmp_path / "missing.ipynb", good[1]]
    done = subprocess.run([sys.executable, str(REPO / "tools/notebook_clean.py"), *map(str, paths)],
                          capture_output=True, text=True)
    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert [line.split(": ")[1] for line in lines] == [str(p) for p in paths[1:-1]]
    assert all(line.startswith("error: ") and "Traceback" not in line for line in lines)
    for name, text in bad.items():
        assert (tmp_path / name).read_text() == text  # left as it was
    for path in good:
        assert nbformat.read(path, as_version=4).cells[0].metadata == {}  # still cleaned
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*bad, "a.ipynb", "z.ipynb"])
