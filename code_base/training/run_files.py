"""A training run's files: JSON written readably and atomically, parameters as .npz.

See :mod:`code_base.training.train` for what a run folder holds.
"""

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

from ..utils.fileio import atomic_write, zip_member

__all__ = ["save_json", "save_params", "load_params", "load_run", "sha256"]


def _dumps(obj, indent=0):
    """JSON with one key per line, but each list of numbers or strings on a single line."""
    pad = " " * (indent + 1)
    if isinstance(obj, dict) and obj:
        items = [f"{pad}{json.dumps(str(k))}: {_dumps(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        items = [pad + _dumps(v, indent + 1) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"
    return json.dumps(obj)


def save_json(path, obj):
    """Write obj as JSON (lists of numbers on one line each), atomically."""
    atomic_write(path, lambda f: f.write((_dumps(obj) + "\n").encode()))


def save_params(path, params):
    """Write the parameter dict as an .npz archive, atomically.

    The archive is what ``np.savez`` writes, but with its members sorted and fixed timestamps,
    so the same parameters give the same bytes (and the same SHA-256 in the run's summary).
    """
    def write(f):
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as archive:
            for name in sorted(params):
                with archive.open(zip_member(f"{name}.npy"), "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asarray(params[name]), allow_pickle=False)

    atomic_write(path, write)


def load_params(path):
    """The parameter dict saved in a run's params.npz."""
    with np.load(path, allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files}


def load_run(out_dir):
    """The small artefacts of a saved run: {'config': ..., 'history': ..., 'summary': ...}."""
    folder = Path(out_dir)
    return {name: json.loads((folder / f"{name}.json").read_text())
            for name in ("config", "history", "summary")}


def sha256(path):
    """Hex SHA-256 of a file, read in 1 MiB pieces."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
