"""Fixtures shared by the test modules."""

import os
from pathlib import Path

import pytest

from code_base import download

# The development copy of CIFAR2 sits beside the repository (../shared) on this project's
# machines and in CI; CIFAR10_DIR points anywhere else.
DEV_COPY = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar-10-batches-py"


@pytest.fixture(scope="session")
def cifar_dir():
    folder = Path(os.environ.get("CIFAR10_DIR") or DEV_COPY)
    missing = download.missing_batches(folder)
    if missing:
        pytest.skip(f"CIFAR-10 batches not found in {folder} (missing {missing}); "
                    "set CIFAR10_DIR=/path/to/cifar-10-batches-py")
    return folder
