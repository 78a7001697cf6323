"""The inputs of a notebook, hashed: `make notebooks` re-executes a notebook only when they changed.

A committed notebook's numbers depend on the machine's BLAS in their last digits. Re-executing an
unchanged notebook on another machine would rewrite it for nothing, so ``tools/execute_notebooks.sh``
records in the executed ``.ipynb`` (``metadata.inputs_sha256``) one SHA-256 of everything the
notebook could read, and skips the notebook while that hash still holds. The inputs, the same for
every notebook (the list errs on the side of re-executing):

- the notebook's ``.py`` source;
- every file of ``code_base/`` and ``requirements.txt`` (the library versions);
- the repository's data: ``kitten.jpg``, ``puppy.jpg``, ``configs/``, ``input_files/``,
  ``output_files/`` and ``runs/`` (without what ``runs/.gitignore`` leaves out: full parameters,
  checkpoints, hidden and temporary files);
- the CIFAR-10 batch files, from where the loader reads them: ``$CIFAR10_DIR`` when set, else the
  download cache (``code_base.utils.download.default_cache_dir()``); absent batches hash as absent.

Paths are hashed relative to their root, so the hash is the same in any clone.

    python tools/notebook_inputs.py digest notebooks/NAME.py      # print the hash
    python tools/notebook_inputs.py current notebooks/NAME.py     # exit 0 when the .ipynb holds it
    python tools/notebook_inputs.py stamp notebooks/NAME.py ...   # record it in the .ipynb
    python tools/notebook_inputs.py explain notebooks/NAME.py     # every input and its hash
"""

import hashlib
import os
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
METADATA_KEY = "inputs_sha256"
DATA = ("kitten.jpg", "puppy.jpg", "configs", "input_files", "output_files", "runs")
CIFAR_FILES = ("batches.meta",) + tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
USAGE = "usage: python tools/notebook_inputs.py digest|current|stamp|explain notebooks/NAME.py ..."


def _left_out(path):
    """Files the hash ignores: caches, hidden and temporary files, run parameters, checkpoints."""
    name = path.name
    return (any(part.startswith(".") for part in path.parts) or name.endswith((".pyc", ".tmp"))
            or "__pycache__" in path.parts
            or (name.startswith("params") and name.endswith(".npz")) or name.startswith("checkpoint"))


def _files(root, names):
    """The files under ``root / name`` for each name, as sorted relative paths."""
    found = []
    for name in names:
        path = root / name
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(p for p in path.rglob("*")
                         if p.is_file() and not _left_out(p.relative_to(root)))
    return sorted(p.relative_to(root).as_posix() for p in found)


def cifar_dir():
    """Where the loader reads CIFAR-10 from: $CIFAR10_DIR, else the download cache."""
    if os.environ.get("CIFAR10_DIR"):
        return Path(os.environ["CIFAR10_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cnn-from-scratch" / "cifar-10-batches-py"  # download.default_cache_dir()


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def inputs(source, repo=REPO):
    """[(label, sha256 or 'absent')] for every input of the notebook source ``source``."""
    source, repo = Path(source), Path(repo)
    if source.suffix != ".py" or not source.is_file():
        raise FileNotFoundError("not a notebook source (an existing notebooks/NAME.py)")
    listed = [("notebook " + source.name, _sha256(source))]
    for name in _files(repo, ("requirements.txt", "code_base") + DATA):
        listed.append((name, _sha256(repo / name)))
    folder = cifar_dir()
    for name in CIFAR_FILES:
        path = folder / name
        listed.append(("CIFAR-10 " + name, _sha256(path) if path.is_file() else "absent"))
    return listed


def digest(source, repo=REPO):
    """One SHA-256 over every input of ``source`` (its labels and their hashes)."""
    text = "".join(f"{label}\0{value}\n" for label, value in inputs(source, repo))
    return hashlib.sha256(text.encode()).hexdigest()


def notebook_of(source):
    return Path(source).with_suffix(".ipynb")


def recorded(source):
    """The hash recorded in the .ipynb of ``source``, or None."""
    path = notebook_of(source)
    if not path.is_file():
        return None
    return nbformat.read(path, as_version=4).metadata.get(METADATA_KEY)


def is_current(source, repo=REPO):
    return recorded(source) == digest(source, repo)


def stamp(source, repo=REPO):
    """Record the current hash in the .ipynb of ``source`` (nothing else of the file changes)."""
    path = notebook_of(source)
    nb = nbformat.read(path, as_version=4)
    nb.metadata[METADATA_KEY] = digest(source, repo)
    nbformat.write(nb, path)


def main(argv):
    if len(argv) < 2 or argv[0] not in ("digest", "current", "stamp", "explain"):
        print(USAGE, file=sys.stderr)
        return 2
    command, sources = argv[0], argv[1:]
    status = 0
    for source in sources:
        try:
            if command == "digest":
                print(digest(source))
            elif command == "explain":
                for label, value in inputs(source):
                    print(f"{value[:16]}  {label}")
            elif command == "current":
                status |= 0 if is_current(source) else 1
            else:
                stamp(source)
        except (OSError, ValueError) as e:  # nbformat's read errors are ValueErrors
            print(f"error: {source}: {e}", file=sys.stderr)
            status = 2
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
