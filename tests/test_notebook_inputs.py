"""tools/notebook_inputs.py: the hash of everything a notebook could read, with which
tools/execute_notebooks.sh (`make notebooks`) skips notebooks whose inputs did not change."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import notebook_inputs  # noqa: E402

TINY = '# %%\nprint("two", 1 + 1)\n'


@pytest.fixture
def tiny_repo(tmp_path, monkeypatch):
    """A repository holding one tiny notebook, its code and data, and CIFAR-10 beside it."""
    repo = tmp_path / "repo"
    for name, text in {"requirements.txt": "numpy==2.0\n", "code_base/layers.py": "x = 1\n",
                       "notebooks/tiny.py": TINY, "configs/best.json": "{}\n",
                       "input_files/a.csv": "1\n", "output_files/a.csv": "2\n",
                       "runs/best/history.json": "[]\n", "kitten.jpg": "k", "README.md": "r\n"}.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    cifar = tmp_path / "cifar-10-batches-py"
    cifar.mkdir()
    for name in notebook_inputs.CIFAR_FILES:
        (cifar / name).write_bytes(name.encode())
    monkeypatch.setenv("CIFAR10_DIR", str(cifar))
    return repo


def digest(repo):
    return notebook_inputs.digest(repo / "notebooks" / "tiny.py", repo)


def test_every_kind_of_input_changes_the_hash(tiny_repo):
    before = digest(tiny_repo)
    assert len(before) == 64 and before == digest(tiny_repo)
    cifar = Path(os.environ["CIFAR10_DIR"])
    for path in [tiny_repo / "notebooks/tiny.py", tiny_repo / "code_base/layers.py",
                 tiny_repo / "requirements.txt", tiny_repo / "configs/best.json",
                 tiny_repo / "input_files/a.csv", tiny_repo / "output_files/a.csv",
                 tiny_repo / "runs/best/history.json", tiny_repo / "kitten.jpg",
                 cifar / "data_batch_3"]:
        original = path.read_bytes()
        path.write_bytes(original + b"#")
        assert digest(tiny_repo) != before, path
        path.write_bytes(original)
        assert digest(tiny_repo) == before, path
    (tiny_repo / "code_base/new.py").write_text("")  # a new module counts too
    assert digest(tiny_repo) != before


def test_what_git_ignores_and_other_files_leave_the_hash_alone(tiny_repo):
    before = digest(tiny_repo)
    for name in ["code_base/__pycache__/layers.cpython-311.pyc", "runs/best/params.npz",
                 "runs/best/checkpoint.npz", "runs/.best.partial/history.json", "README.md",
                 "notebooks/tiny.ipynb", "tools/anything.py", "output_files/.a.csv.tmp"]:
        (tiny_repo / name).parent.mkdir(parents=True, exist_ok=True)
        (tiny_repo / name).write_text("changed")
    assert digest(tiny_repo) == before


def test_the_hash_does_not_depend_on_where_the_repository_is(tiny_repo, tmp_path):
    moved = shutil.copytree(tiny_repo, tmp_path / "elsewhere" / "clone")
    assert digest(moved) == digest(tiny_repo)


def test_missing_cifar_batches_hash_as_absent_and_differ_from_present_ones(tiny_repo, monkeypatch,
                                                                           tmp_path):
    present = digest(tiny_repo)
    monkeypatch.setenv("CIFAR10_DIR", str(tmp_path / "nowhere"))
    absent = digest(tiny_repo)
    assert absent != present
    labels = dict(notebook_inputs.inputs(tiny_repo / "notebooks/tiny.py", tiny_repo))
    assert labels["CIFAR-10 test_batch"] == "absent"
    monkeypatch.delenv("CIFAR10_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert notebook_inputs.cifar_dir() == tmp_path / "cache/cnn-from-scratch/cifar-10-batches-py"


def test_stamp_records_the_hash_and_current_follows_the_inputs(tiny_repo):
    source = tiny_repo / "notebooks/tiny.py"
    assert not notebook_inputs.is_current(source, tiny_repo)  # no .ipynb yet
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('print("two", 1 + 1)')])
    nbformat.write(nb, source.with_suffix(".ipynb"))
    assert not notebook_inputs.is_current(source, tiny_repo)  # no hash recorded
    notebook_inputs.stamp(source, tiny_repo)
    saved = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    assert saved.metadata["inputs_sha256"] == digest(tiny_repo)
    assert saved.cells == nb.cells
    assert notebook_inputs.is_current(source, tiny_repo)
    (tiny_repo / "code_base/layers.py").write_text("x = 2\n")
    assert not notebook_inputs.is_current(source, tiny_repo)


def run_tool(*args, repo=REPO):
    return subprocess.run([sys.executable, str(repo / "tools/notebook_inputs.py"), *args],
                          capture_output=True, text=True)


def test_the_command_line_names_a_bad_source_in_one_line(tmp_path):
    missing = run_tool("digest", str(tmp_path / "nope.py"))
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr == (f"error: {tmp_path / 'nope.py'}: not a notebook source "
                              "(an existing notebooks/NAME.py)\n")
    usage = run_tool("frobnicate", "x.py")
    assert usage.returncode == 2 and usage.stderr.startswith("usage: python tools/notebook_inputs.py")
    (tmp_path / "nb.py").write_text(TINY)
    (tmp_path / "nb.ipynb").write_text("{not json")
    broken = run_tool("current", str(tmp_path / "nb.py"))
    assert broken.returncode == 2 and broken.stderr.startswith(f"error: {tmp_path / 'nb.py'}: ")
    assert len(broken.stderr.splitlines()) == 1


def test_execute_notebooks_skips_a_notebook_whose_inputs_are_unchanged(tiny_repo):
    shutil.copytree(REPO / "tools", tiny_repo / "tools")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("FORCE", None)

    def execute(**extra):
        done = subprocess.run(["bash", "tools/execute_notebooks.sh", "notebooks/tiny.py"],
                              cwd=tiny_repo, env={**env, **extra}, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout, (tiny_repo / "notebooks/tiny.ipynb").read_bytes()

    out, first = execute()
    assert out.startswith("executed notebooks/tiny.ipynb")
    nb = nbformat.reads(first.decode(), as_version=4)
    assert nb.cells[0].outputs[0].text == "two 2\n"
    assert nb.metadata["inputs_sha256"] == digest(tiny_repo)

    out, second = execute()
    assert out == "unchanged inputs, not executed: notebooks/tiny.ipynb (FORCE=1 executes it)\n"
    assert second == first

    out, _ = execute(FORCE="1")
    assert out.startswith("executed notebooks/tiny.ipynb")
    current = ["current", str(tiny_repo / "notebooks/tiny.py")]
    assert run_tool(*current, repo=tiny_repo).returncode == 0
    (tiny_repo / "output_files/a.csv").write_text("3\n")  # then `make notebooks` executes it
    assert run_tool(*current, repo=tiny_repo).returncode == 1
