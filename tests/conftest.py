"""Fixtures shared by the test modules."""

import functools
import os
from pathlib import Path

import pytest

from code_base import fast
from code_base.data_utils import get_CIFAR2_data
from code_base.utils import download

# The shared folder sits beside the repository (../shared) on this project's machines and in CI:
# the development copy of CIFAR2 (CIFAR10_DIR points anywhere else) and the demo photos' sources.
SHARED = Path(__file__).resolve().parents[2] / "shared"
DEV_COPY = SHARED / "data" / "cifar-10-batches-py"


@pytest.fixture(scope="session")
def cifar_dir():
    folder = Path(os.environ.get("CIFAR10_DIR") or DEV_COPY)
    missing = download.missing_batches(folder)
    if missing:
        pytest.skip(f"CIFAR-10 batches not found in {folder} (missing {missing}); "
                    "set CIFAR10_DIR=/path/to/cifar-10-batches-py")
    return folder


@pytest.fixture(scope="session")
def photos_dir():
    """The redistributable source photos of kitten.jpg and puppy.jpg."""
    folder = SHARED / "photos"
    if not folder.is_dir():
        pytest.skip(f"the source photos folder {folder} is not beside the repository")
    return folder


@pytest.fixture(params=["fast", "plain"])
def kernel_path(request):
    """Runs the test twice: with the fast kernels (the default) and with the plain layers."""
    with fast.configure(enabled=request.param == "fast"):
        yield request.param


@functools.lru_cache(maxsize=8)
def _cached_split(**kwargs):
    return get_CIFAR2_data(**kwargs)


@pytest.fixture
def cached_data(cifar_dir, monkeypatch):
    """The training pipeline's data loader, loading each split once per test session and
    handing out fresh copies of it."""
    monkeypatch.setenv("CIFAR10_DIR", str(cifar_dir))

    def get(**kwargs):
        return {k: v.copy() for k, v in _cached_split(**kwargs).items()}

    monkeypatch.setattr("code_base.training.train.get_CIFAR2_data", get)
    return get
