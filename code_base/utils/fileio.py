"""Atomic file writes: nothing a reader sees is ever half written."""

import os
import tempfile
from pathlib import Path


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_temporary(path, write):
    """Call ``write(f)`` on a new binary temporary file beside ``path``; return its name.

    The file gets the usual permissions (mkstemp makes it private) and is flushed to disk.
    On any failure it is removed and the error propagates.  Move it into place with
    ``os.replace`` (see :func:`atomic_write`), or stage several before replacing any.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path}: directory {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
    except BaseException:
        os.remove(tmp)
        raise
    return tmp


def atomic_write(path, write):
    """Write ``path`` through ``write(f)`` on a temporary file, then rename it into place."""
    tmp = write_temporary(path, write)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.remove(tmp)
        raise
