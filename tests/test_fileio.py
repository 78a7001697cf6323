"""Atomic writes leave either the old file or the new one, never a part or a temporary."""

import os

import pytest

from code_base.utils.fileio import atomic_write


def test_atomic_write_replaces_and_failure_keeps_the_old_file(tmp_path):
    path = tmp_path / "out.txt"
    atomic_write(path, lambda f: f.write(b"first"))
    assert path.read_bytes() == b"first"
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())

    def broken(f):
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, broken)
    assert path.read_bytes() == b"first"
    assert sorted(os.listdir(tmp_path)) == ["out.txt"]


def test_missing_directory_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="directory .*missing does not exist"):
        atomic_write(tmp_path / "missing" / "out.txt", lambda f: f.write(b"x"))


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
