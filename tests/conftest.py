"""Fixtures shared by the test modules, the rule for where the data comes from, and no skips.

Where CIFAR-10 comes from (one rule for pytest and the notebooks it runs): $CIFAR10_DIR when set,
else the development copy ``../shared/data/cifar-10-batches-py`` beside the repository.  The
folder found is exported as CIFAR10_DIR, so the notebook kernels nbval starts inherit it.  Tests
of the real data skip, with the reason, when there is none; the training pipeline's tests run on
a small synthetic CIFAR-shaped folder (``synthetic_cifar_dir``) and never skip.

``CNN_NO_SKIPS=1`` (set by CI) turns every skipped test into a failure.
"""

import functools
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from code_base import fast
from code_base.data_utils import get_CIFAR2_data
from code_base.utils import download

REPO = Path(__file__).resolve().parents[1]
# The shared folder sits beside the repository (../shared) on this project's machines and in CI:
# the development copy of CIFAR2 and the demo photos' sources.
SHARED = REPO.parent / "shared"
DEV_COPY = SHARED / "data" / "cifar-10-batches-py"


def real_data_dir():
    """$CIFAR10_DIR, else the development copy beside the repository; None if it has no batches."""
    folder = Path(os.environ.get("CIFAR10_DIR") or DEV_COPY)
    return None if download.missing_batches(folder) else folder


if real_data_dir() is not None and not os.environ.get("CIFAR10_DIR"):
    os.environ["CIFAR10_DIR"] = str(real_data_dir())


# ------------------------------------------------------------------------------ no skips

NO_SKIPS = "CNN_NO_SKIPS"


def _refuse_skip(report):
    if os.environ.get(NO_SKIPS) == "1" and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, but {NO_SKIPS}=1 allows no skips: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _refuse_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _refuse_skip(outcome.get_result())


# ------------------------------------------------------------------------------ the data


@pytest.fixture(scope="session")
def cifar_dir():
    """The real CIFAR-10 folder (see the module's docstring); skips, with the reason, without it."""
    folder = real_data_dir()
    if folder is None:
        pytest.skip(f"CIFAR-10 batches not found in {os.environ.get('CIFAR10_DIR') or DEV_COPY}; "
                    "set CIFAR10_DIR=/path/to/cifar-10-batches-py")
    return folder


def write_synthetic_cifar(folder, per_batch=150, num_test=400, seed=0):
    """A tiny CIFAR-10 folder in the official python layout (data_batch_1..5, test_batch).

    Each batch is a pickled dict with 'batch_label', 'labels' (a list), 'data' (uint8, (n, 3072),
    R, G and B planes) and 'filenames'.  4 of 5 images are airplanes (0) or birds (2), the rest
    other classes; airplanes are bluish and bright at the top, birds greenish: easy to learn.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in [(f"data_batch_{i}", per_batch) for i in range(1, 6)] + [("test_batch", num_test)]:
        labels = rng.permutation(np.resize([0, 2, 0, 2, 0, 2, 0, 2, 1, 7], n))
        base = np.where(labels[:, None] == 0, [90, 130, 200], [110, 150, 70])  # (n, 3) RGB
        images = base[:, :, None, None] + rng.normal(0, 40, (n, 3, 32, 32))
        images[labels == 0, :, :12] += 40  # airplanes: a bright sky above
        data = np.clip(images, 0, 255).astype(np.uint8).reshape(n, 3072)
        batch = {"batch_label": f"synthetic {name}", "labels": labels.tolist(), "data": data,
                 "filenames": [f"synthetic_{k}.png" for k in range(n)]}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)
    return folder


@pytest.fixture(scope="session")
def synthetic_cifar_dir(tmp_path_factory):
    """A synthetic CIFAR-10 folder: 600 airplane/bird training images, 320 test images."""
    return write_synthetic_cifar(tmp_path_factory.mktemp("synthetic") / "cifar-10-batches-py")


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
def _cached_split(root, **kwargs):
    return get_CIFAR2_data(root=root, **kwargs)


@pytest.fixture
def cached_data(synthetic_cifar_dir, monkeypatch):
    """The training pipeline's data loader on the synthetic folder (also CIFAR10_DIR for the
    commands the test starts), loading each split once per session and handing out copies."""
    monkeypatch.setenv("CIFAR10_DIR", str(synthetic_cifar_dir))

    def get(root=None, **kwargs):
        split = _cached_split(str(root or synthetic_cifar_dir), **kwargs)
        return {k: v.copy() for k, v in split.items()}

    monkeypatch.setattr("code_base.training.train.get_CIFAR2_data", get)
    return get
