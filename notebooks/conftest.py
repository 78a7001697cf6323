"""nbval runs the chapters with the data rule of the test suite (tests/conftest.py), also when
only notebooks/ is collected: $CIFAR10_DIR, else the development copy beside the repository."""

import os
from pathlib import Path

from code_base.utils import download

DEV_COPY = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar-10-batches-py"

if not os.environ.get("CIFAR10_DIR") and not download.missing_batches(DEV_COPY):
    os.environ["CIFAR10_DIR"] = str(DEV_COPY)  # the kernels nbval starts inherit it
