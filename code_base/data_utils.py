"""Load CIFAR-10 from its official python batches and build the CIFAR2 (airplane vs bird) splits.

Where the data comes from, in order: the ``root`` argument, the ``CIFAR10_DIR`` environment
variable, or the cache folder ``$XDG_CACHE_HOME/cnn-from-scratch/cifar-10-batches-py`` (downloaded
there on first use). A folder named explicitly must hold the batches; it is never replaced by a
download. Run ``python -m code_base.data_utils [--root DIR]`` to fetch and check the data ahead of time.
"""

import argparse
import os
import pickle
from pathlib import Path

import numpy as np

from .utils.checks import check_int
from .utils.download import (CIFAR10_FOLDER, HOW_TO_PROVIDE, TEST_BATCH,
                                TRAIN_BATCHES, DownloadError, default_cache_dir,
                                download_cifar10, missing_batches)

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
# CIFAR2 label -> CIFAR-10 label: 0 airplane, 1 bird.
CIFAR2_SOURCE_LABELS = (0, 2)
IMAGE_SHAPE = (3, 32, 32)

__all__ = ["load_CIFAR_batch", "load_CIFAR10", "get_CIFAR2_data", "find_cifar10_dir",
           "CIFAR10_CLASSES", "DownloadError"]


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that can only rebuild numpy arrays and plain containers, nothing executable."""

    ALLOWED = {
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _field(batch, key):
    """Batches pickled by Python 2 and by Python 3 differ in key type (str vs bytes)."""
    if key in batch:
        return batch[key]
    return batch.get(key.encode())


def load_CIFAR_batch(path):
    """Read one CIFAR-10 python batch file (any number of rows).

    Returns:
    - X: uint8 array of shape (n, 3, 32, 32), channels first.
    - y: int64 array of shape (n,), CIFAR-10 labels 0..9.
    Raises FileNotFoundError if the file is missing, ValueError naming the file if it is not a
    well-formed batch.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10 batch file not found: {path}")
    try:
        with open(path, "rb") as f:
            batch = _ArrayUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not a readable CIFAR-10 batch: {e}") from e
    if not isinstance(batch, dict):
        raise ValueError(f"{path}: expected a pickled dict, got {type(batch).__name__}")
    data, labels = _field(batch, "data"), _field(batch, "labels")
    if data is None or labels is None:
        raise ValueError(f"{path}: needs keys 'data' and 'labels', found {sorted(map(str, batch))}")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != np.prod(IMAGE_SHAPE):
        desc = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) \
            else type(data).__name__
        raise ValueError(f"{path}: 'data' must be a uint8 array of shape (n, 3072), got {desc}")
    n = data.shape[0]
    y = np.asarray(labels)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{path}: 'labels' must be {n} integers (one per row of 'data'), "
                         f"got shape {y.shape} dtype {y.dtype}")
    if n and (y.min() < 0 or y.max() >= len(CIFAR10_CLASSES)):
        raise ValueError(f"{path}: labels must lie in 0..9, found {y.min()}..{y.max()}")
    X = data.reshape(n, *IMAGE_SHAPE)  # (n, 3072) -> (n, 3, 32, 32): rows are stored R, G, B planes
    return X, y.astype(np.int64)


def _check_folder(folder, source):
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise FileNotFoundError(f"CIFAR-10 folder {folder} (from {source}) is a file, not the "
                                f"cifar-10-batches-py folder. " + HOW_TO_PROVIDE)
    if not folder.is_dir():
        raise FileNotFoundError(f"CIFAR-10 folder {folder} (from {source}) does not exist. "
                                + HOW_TO_PROVIDE)
    missing = missing_batches(folder)
    if missing:
        raise FileNotFoundError(f"CIFAR-10 folder {folder} (from {source}) lacks "
                                f"{', '.join(missing)}. " + HOW_TO_PROVIDE)
    return folder


def load_CIFAR10(root):
    """Load all of CIFAR-10 from the folder ``root`` holding data_batch_1..5 and test_batch.

    Returns Xtr (Ntr, 3, 32, 32) uint8, ytr (Ntr,) int64, Xte (Nte, 3, 32, 32) uint8, yte (Nte,) int64.
    """
    root = _check_folder(root, "root")
    train = [load_CIFAR_batch(root / name) for name in TRAIN_BATCHES]
    Xtr = np.concatenate([X for X, _ in train])
    ytr = np.concatenate([y for _, y in train])
    Xte, yte = load_CIFAR_batch(root / TEST_BATCH)
    return Xtr, ytr, Xte, yte


def find_cifar10_dir(root=None, download=True, progress=True):
    """Return the folder holding the CIFAR-10 batches: ``root``, else $CIFAR10_DIR, else the cache.

    Only the cache is ever downloaded into (when ``download``); a folder named through ``root`` or
    CIFAR10_DIR that lacks the batches raises FileNotFoundError naming the folder and the files.
    """
    if root is not None:
        return _check_folder(root, "the root argument")
    env = os.environ.get("CIFAR10_DIR")
    if env:
        return _check_folder(env, "environment variable CIFAR10_DIR")
    cached = default_cache_dir() / CIFAR10_FOLDER
    if cached.exists():
        return _check_folder(cached, f"the download cache; delete {cached} to download again")
    if not download:
        raise FileNotFoundError(f"CIFAR-10 is not in the cache {cached}. " + HOW_TO_PROVIDE)
    return download_cifar10(cached.parent, progress=progress)


def get_CIFAR2_data(num_training=9800, num_validation=200, num_test=2000, subtract_mean=True,
                    seed=0, dtype=np.float32, root=None):
    """CIFAR2 (airplane -> 0, bird -> 1) train/validation/test splits, ready for a classifier.

    The validation images are drawn from the training images with a permutation seeded by ``seed``
    (the rest, up to ``num_training``, form the training split). The test split is the whole test
    set, or a seeded random subset of it when ``num_test`` is smaller. With ``subtract_mean`` the
    mean image of the training split is subtracted from all three splits.

    Returns a dict with X_train (num_training, 3, 32, 32), y_train (num_training,), X_val, y_val,
    X_test, y_test; X arrays have ``dtype``, labels are int64 in {0, 1}.
    """
    where = "get_CIFAR2_data"
    num_training = check_int(where, "num_training", num_training, 1)
    num_validation = check_int(where, "num_validation", num_validation, 0)
    num_test = check_int(where, "num_test", num_test, 0)
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise ValueError(f"get_CIFAR2_data: dtype must be a floating-point type, got {dtype}")

    Xtr, ytr, Xte, yte = load_CIFAR10(find_cifar10_dir(root))
    Xtr, ytr = _two_classes(Xtr, ytr)
    Xte, yte = _two_classes(Xte, yte)
    if num_training + num_validation > len(ytr):
        raise ValueError(f"get_CIFAR2_data: num_training + num_validation = {num_training} + "
                         f"{num_validation} = {num_training + num_validation}, but only "
                         f"{len(ytr)} airplane/bird training images are available")
    if num_test > len(yte):
        raise ValueError(f"get_CIFAR2_data: num_test = {num_test}, but only {len(yte)} "
                         "airplane/bird test images are available")

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(ytr))
    train_idx = order[:num_training]
    val_idx = order[num_training:num_training + num_validation]
    test_idx = np.sort(rng.choice(len(yte), size=num_test, replace=False))

    data = {
        "X_train": Xtr[train_idx].astype(dtype), "y_train": ytr[train_idx],
        "X_val": Xtr[val_idx].astype(dtype), "y_val": ytr[val_idx],
        "X_test": Xte[test_idx].astype(dtype), "y_test": yte[test_idx],
    }
    if subtract_mean:
        # Accumulate in float64 so a float32 result is still centred to float32 precision.
        mean_image = data["X_train"].mean(axis=0, dtype=np.float64).astype(dtype)
        for key in ("X_train", "X_val", "X_test"):
            data[key] -= mean_image
    return data


def _two_classes(X, y):
    """Keep airplanes and birds; relabel them 0 and 1."""
    keep = np.isin(y, CIFAR2_SOURCE_LABELS)
    return X[keep], (y[keep] == CIFAR2_SOURCE_LABELS[1]).astype(np.int64)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m code_base.data_utils",
        description="Fetch (if needed) and check the CIFAR-10 data, then print where it is.")
    parser.add_argument("--root", help="folder holding data_batch_1..5 and test_batch "
                        "(default: $CIFAR10_DIR, else the download cache)")
    args = parser.parse_args(argv)
    try:
        folder = find_cifar10_dir(args.root)
        Xtr, ytr, Xte, yte = load_CIFAR10(folder)
    except (FileNotFoundError, ValueError, DownloadError) as e:
        parser.exit(1, f"error: {e}\n")
    print(f"CIFAR-10 batches: {folder}")
    for split, y in (("training", ytr), ("test", yte)):
        counts = np.bincount(y, minlength=len(CIFAR10_CLASSES))
        per_class = ", ".join(f"{name} {c}" for name, c in zip(CIFAR10_CLASSES, counts) if c)
        print(f"{split}: {len(y)} images ({per_class})")
    cifar2 = [int(np.isin(y, CIFAR2_SOURCE_LABELS).sum()) for y in (ytr, yte)]
    print(f"CIFAR2 (airplane, bird): {cifar2[0]} training, {cifar2[1]} test images")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
