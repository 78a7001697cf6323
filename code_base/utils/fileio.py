"""Atomic writes of files and of whole folders: nothing a reader sees is ever half written.

A file is written to a temporary beside it and renamed into place.  A folder of results (a
training run, the submission's outputs) is built in a sibling folder and then takes the
target's place in one step: on Linux the two folders' names are exchanged atomically
(renameat2 with RENAME_EXCHANGE).  Where that is not available, the old folder is renamed
aside and the new one renamed into place; a crash between the two renames leaves the target
missing, and :func:`recover_folder` completes the replacement on the next run.
"""

import ctypes
import ctypes.util
import errno
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

TEMPORARY_SUFFIX = ".tmp"


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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX)
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


ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip member can carry


def zip_member(name, mode=0o644, folder=False):
    """A ZipInfo that depends on nothing but its arguments: fixed timestamp, Unix mode bits.

    Writing the same members in the same order with such infos gives the same bytes.
    """
    info = zipfile.ZipInfo(name + "/" if folder else name, date_time=ZIP_EPOCH)
    info.create_system = 3  # Unix, so that readers honour the mode bits
    info.external_attr = ((0o40000 | mode) << 16 | 0x10) if folder else (0o100000 | mode) << 16
    return info


def remove_temporaries(folder):
    """Delete the temporaries (``.NAME.*.tmp``) a killed writer left in ``folder``; return their names."""
    folder = Path(folder)
    stale = [p for p in folder.glob(f".*{TEMPORARY_SUFFIX}") if p.is_file()] if folder.is_dir() else []
    for p in stale:
        p.unlink()
    return sorted(p.name for p in stale)


def sibling(target, tag):
    """The hidden folder ``.NAME.tag`` beside ``target``: where its replacement is built."""
    target = Path(target)
    return target.parent / f".{target.name}.{tag}"


def check_replaceable(where, target, owned):
    """Check the folder ``target`` can be replaced as a whole: a folder (or absent) whose parent
    is writable, holding no subfolder (files other than ``owned`` are carried over)."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(f"{where}: {target} is a file, not a folder")
    parent = target.absolute().parent
    while not parent.exists():  # it will be created
        parent = parent.parent
    if not os.access(parent, os.W_OK):
        raise PermissionError(f"{where}: cannot write in {parent} to replace {target.name}")
    folders = sorted(p.name for p in target.iterdir() if p.is_dir()) if target.is_dir() else []
    if folders:
        raise ValueError(f"{where}: {target} holds folders {folders}; it is replaced as a whole "
                         f"(its files other than {sorted(owned)} are kept): move them away first")


def carry_over(target, new, owned):
    """Put into ``new`` the files of ``target`` that its writer does not own (hard links, or copies)."""
    target = Path(target)
    if not target.is_dir():
        return
    for p in sorted(target.iterdir()):
        if p.is_file() and p.name not in owned and not p.name.endswith(TEMPORARY_SUFFIX) \
                and not (Path(new) / p.name).exists():
            try:
                os.link(p, Path(new) / p.name)
            except OSError:
                shutil.copy2(p, Path(new) / p.name)


def _exchange(a, b):
    """Swap the names of two folders atomically; OSError where the system cannot."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def replace_folder(new, target):
    """Make the complete folder ``new`` the folder ``target``; the old content is deleted."""
    new, target = Path(new), Path(target)
    old = sibling(target, "old")
    shutil.rmtree(old, ignore_errors=True)  # left by an earlier replacement cut short
    if not target.exists():
        os.rename(new, target)
        return
    try:
        _exchange(new, target)
        os.rename(new, old)  # the name ``new`` holds the old content now
    except OSError as e:
        if e.errno not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EPERM):
            raise
        os.rename(target, old)  # a crash here leaves target missing: see recover_folder
        os.rename(new, target)
    shutil.rmtree(old, ignore_errors=True)


def recover_folder(target, new):
    """Complete a :func:`replace_folder` of ``new`` onto ``target`` that a crash cut short."""
    target, new = Path(target), Path(new)
    old = sibling(target, "old")
    if not target.exists() and old.exists():
        os.rename(new if new.is_dir() else old, target)
    shutil.rmtree(old, ignore_errors=True)
