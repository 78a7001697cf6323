"""Fetch the official CIFAR-10 archive into a cache folder, verified and extracted atomically.

Nothing is unpickled here: the archive's MD5 is checked before it is even opened, members are
extracted with tarfile's ``'data'`` filter (no absolute paths, no ``..``, no links or devices
pointing outside), and the result is moved into place with ``os.replace`` only when complete.
Every temporary file lives in the cache folder and is removed on any failure.
"""

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from .progress import progress_bar

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
BATCH_FILES = TRAIN_BATCHES + (TEST_BATCH,)

HOW_TO_PROVIDE = (
    "To use a copy you already have, point the loader at the extracted folder: set the "
    "environment variable CIFAR10_DIR=/path/to/cifar-10-batches-py or pass "
    "root='/path/to/cifar-10-batches-py' to get_CIFAR2_data / load_CIFAR10."
)


class DownloadError(RuntimeError):
    """The CIFAR-10 archive could not be downloaded, verified or extracted."""


def default_cache_dir():
    """``$XDG_CACHE_HOME/cnn-from-scratch`` (``~/.cache/cnn-from-scratch`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cnn-from-scratch"


def missing_batches(folder):
    """Names of the CIFAR-10 batch files absent from ``folder`` (all of them if it does not exist)."""
    folder = Path(folder)
    return [name for name in BATCH_FILES if not (folder / name).is_file()]


def _remove(path):
    if path is None:
        return
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def _fetch(url, dest, progress):
    """Stream ``url`` into the open binary file ``dest``; return the MD5 hex digest of the bytes."""
    md5 = hashlib.md5()
    with urllib.request.urlopen(url, timeout=60) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        received = 0
        with progress_bar(total, enabled=progress, unit="B", unit_scale=True, unit_divisor=1024,
                          desc="cifar-10-python.tar.gz") as bar:
            while chunk := response.read(1 << 20):
                dest.write(chunk)
                md5.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if total is not None and received != total:
        raise DownloadError(f"download of {url} stopped after {received} of {total} bytes")
    return md5.hexdigest()


def download_cifar10(cache_dir=None, url=CIFAR10_URL, md5=CIFAR10_MD5, progress=True):
    """Download, verify and extract CIFAR-10 into ``cache_dir``; return the batches folder.

    Inputs:
    - cache_dir: folder that will hold ``cifar-10-batches-py/`` (default ``default_cache_dir()``).
    - url: where the ``.tar.gz`` comes from (``file://`` URLs work, which the tests use).
    - md5: expected hex MD5 of the archive; a mismatch rejects it before it is opened.
    - progress: show a progress bar (a widget in a notebook, text in a terminal).

    Returns the ``Path`` of ``cache_dir/cifar-10-batches-py``. Raises DownloadError on any failure,
    after removing every temporary file it created.
    """
    if not hasattr(tarfile, "data_filter"):
        raise DownloadError(
            "this Python's tarfile module has no extraction filters (needs Python >= 3.10.12 or "
            ">= 3.11.4), so the archive cannot be extracted safely; upgrade Python or extract "
            f"cifar-10-python.tar.gz yourself. {HOW_TO_PROVIDE}")
    cache_dir = Path(default_cache_dir() if cache_dir is None else cache_dir).expanduser()
    target = cache_dir / CIFAR10_FOLDER
    if target.exists():
        raise DownloadError(f"{target} already exists; remove it to download again")
    cache_dir.mkdir(parents=True, exist_ok=True)

    archive = extract_dir = None
    try:
        with tempfile.NamedTemporaryFile(dir=cache_dir, prefix=".cifar-10-python.",
                                         suffix=".tar.gz.part", delete=False) as f:
            archive = Path(f.name)
            try:
                digest = _fetch(url, f, progress)
            except (urllib.error.URLError, OSError, ValueError) as e:
                raise DownloadError(
                    f"could not download {url}: {e}. Nothing was saved. {HOW_TO_PROVIDE}") from e
        if digest != md5.lower():
            raise DownloadError(
                f"the file downloaded from {url} is corrupt or incomplete: MD5 {digest}, expected "
                f"{md5}. It was deleted without being opened. Try again, or: {HOW_TO_PROVIDE}")

        extract_dir = Path(tempfile.mkdtemp(dir=cache_dir, prefix=".cifar-10-extract."))
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(extract_dir, filter="data")
        except (tarfile.TarError, OSError, EOFError) as e:
            raise DownloadError(f"could not extract the archive from {url} safely: {e}. "
                                "Nothing was kept.") from e
        extracted = extract_dir / CIFAR10_FOLDER
        missing = missing_batches(extracted)
        if missing:
            raise DownloadError(f"the archive from {url} has no {CIFAR10_FOLDER}/ folder with "
                                f"{missing}; nothing was kept")
        try:
            os.replace(extracted, target)
        except OSError:
            # Another process finished the same download first: keep its complete copy.
            if missing_batches(target):
                raise
    finally:
        _remove(archive)
        _remove(extract_dir)
    return target
