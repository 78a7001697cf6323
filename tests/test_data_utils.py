"""CIFAR-10 loading, CIFAR2 splits and the verified download (no network: archives are built here)."""

import functools
import hashlib
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from code_base import data_utils
from code_base.utils import download
from code_base.data_utils import (find_cifar10_dir, get_CIFAR2_data, load_CIFAR10,
                                  load_CIFAR_batch)
from code_base.utils.download import BATCH_FILES, DownloadError, default_cache_dir, download_cifar10



# ---------------------------------------------------------------- the real (development) data

@pytest.fixture(scope="module")
def data(cifar_dir):
    return get_CIFAR2_data(root=cifar_dir)


@pytest.fixture(scope="module")
def raw(cifar_dir):
    return get_CIFAR2_data(root=cifar_dir, subtract_mean=False)


@pytest.fixture(scope="module")
def cifar10(cifar_dir):
    return load_CIFAR10(cifar_dir)


@pytest.mark.parametrize("key, shape, dtype", [
    ("X_train", (9800, 3, 32, 32), np.float32), ("y_train", (9800,), np.int64),
    ("X_val", (200, 3, 32, 32), np.float32), ("y_val", (200,), np.int64),
    ("X_test", (2000, 3, 32, 32), np.float32), ("y_test", (2000,), np.int64),
])
def test_split_shapes_and_dtypes(data, key, shape, dtype):
    assert data[key].shape == shape
    assert data[key].dtype == dtype


def test_keys_in_order(data):
    assert list(data) == ["X_train", "y_train", "X_val", "y_val", "X_test", "y_test"]


def test_load_cifar10_shapes(cifar10):
    Xtr, ytr, Xte, yte = cifar10
    assert Xtr.dtype == Xte.dtype == np.uint8 and ytr.dtype == yte.dtype == np.int64
    assert Xtr.shape[1:] == Xte.shape[1:] == (3, 32, 32)
    assert len(Xtr) == len(ytr) and len(Xte) == len(yte)


def test_labels_binary_and_balanced(data):
    for key in ("y_train", "y_val", "y_test"):
        assert set(np.unique(data[key])) == {0, 1}, key
    assert 0.45 < data["y_train"].mean() < 0.55
    assert np.bincount(data["y_test"]).tolist() == [1000, 1000]


def test_labels_map_airplane_to_0_and_bird_to_1(raw, cifar10):
    # The full test split keeps the official order, so it lines up with the CIFAR-10 test batch.
    _, _, Xte, yte = cifar10
    keep = (yte == 0) | (yte == 2)
    np.testing.assert_array_equal(raw["X_test"], Xte[keep])
    np.testing.assert_array_equal(raw["y_test"], np.where(yte[keep] == 2, 1, 0))


def test_train_mean_is_subtracted_from_every_split(data, raw):
    assert np.abs(data["X_train"].mean(axis=0, dtype=np.float64)).max() < 1e-3
    mean_image = raw["X_train"].mean(axis=0, dtype=np.float64).astype(np.float32)
    assert 50 < mean_image.mean() < 200  # a real image was subtracted, not zeros
    for split in ("train", "val", "test"):
        rows = slice(None, None, 7)  # a spread-out subset keeps this fast
        shift = raw[f"X_{split}"][rows] - data[f"X_{split}"][rows]  # (n, 3, 32, 32): one image
        assert np.abs(shift - mean_image).max() < 1e-3, split


def test_subtract_mean_false_gives_raw_pixels(raw):
    for key in ("X_train", "X_val", "X_test"):
        X = raw[key]
        assert X.dtype == np.float32
        assert X.min() == 0 and X.max() == 255
        np.testing.assert_array_equal(X[::7], np.round(X[::7]))


def _fingerprints(*arrays):
    """One number per image (sorted), to compare sets of images without sorting 3072-long rows."""
    weights = np.random.default_rng(123).standard_normal(3072).astype(np.float32)
    return np.sort(np.concatenate([X.reshape(len(X), -1) @ weights for X in arrays]))


def test_train_and_val_partition_the_cifar2_training_images(raw, cifar10):
    Xtr, ytr, _, _ = cifar10
    pool = Xtr[(ytr == 0) | (ytr == 2)]
    assert len(raw["X_train"]) + len(raw["X_val"]) == len(pool)
    np.testing.assert_allclose(_fingerprints(raw["X_train"], raw["X_val"]),
                               _fingerprints(pool.astype(np.float32)), rtol=1e-5)


def test_same_seed_reproduces_other_seed_differs(cifar_dir, data):
    again = get_CIFAR2_data(root=cifar_dir, seed=0)
    for key in data:
        np.testing.assert_array_equal(again[key], data[key], err_msg=key)
    other = get_CIFAR2_data(root=cifar_dir, seed=1)
    assert not np.array_equal(other["X_val"], data["X_val"])
    assert not np.array_equal(other["X_train"], data["X_train"])
    # The full test split does not depend on the seed; only the mean subtracted from it does.
    np.testing.assert_array_equal(other["y_test"], data["y_test"])
    shift = other["X_test"][::7] - data["X_test"][::7]  # (286, 3, 32, 32): one image repeated
    assert np.ptp(shift, axis=0).max() < 1e-3


def test_float64_option_and_smaller_splits(cifar_dir):
    d = get_CIFAR2_data(num_training=500, num_validation=50, num_test=100, dtype=np.float64,
                        root=cifar_dir)
    assert {k: (v.shape, v.dtype) for k, v in d.items()} == {
        "X_train": ((500, 3, 32, 32), np.float64), "y_train": ((500,), np.int64),
        "X_val": ((50, 3, 32, 32), np.float64), "y_val": ((50,), np.int64),
        "X_test": ((100, 3, 32, 32), np.float64), "y_test": ((100,), np.int64),
    }
    assert np.abs(d["X_train"].mean(axis=0)).max() < 1e-10
    assert set(np.unique(d["y_test"])) == {0, 1}  # a random subset, not just the first airplanes


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_training=9900, num_validation=200), r"9900 \+ 200 = 10100.*only 10000"),
    (dict(num_test=2001), r"num_test = 2001.*only 2000"),
    (dict(num_training=0), r"num_training must be an integer >= 1, got 0"),
    (dict(num_validation=-1), r"num_validation must be an integer >= 0, got -1"),
    (dict(num_training=1.5), r"num_training must be an integer >= 1, got 1.5"),
    (dict(dtype=np.int32), r"dtype must be a floating-point type, got int32"),
])
def test_bad_arguments_are_named(cifar_dir, kwargs, message):
    with pytest.raises(ValueError, match=message):
        get_CIFAR2_data(root=cifar_dir, **kwargs)


# ---------------------------------------------------------------- fake datasets and archives

def write_fake_cifar(folder, sizes=(3, 4, 5, 6, 7, 8), seed=0):
    """Write a tiny CIFAR-10 folder (batch sizes ``sizes``); return {name: (X, y)}."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, n in zip(BATCH_FILES, sizes):
        X = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        y = rng.integers(0, 10, size=n)
        y[:2] = [0, 2]  # every batch has an airplane and a bird
        batch = {b"batch_label": name.encode(), b"data": X, b"labels": y.tolist()}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        written[name] = (X.reshape(n, 3, 32, 32), y)
    return written


def make_archive(path, fake_root, extra=()):
    """Tar.gz of ``fake_root/cifar-10-batches-py`` plus ``extra`` TarInfo members; return its md5."""
    with tarfile.open(path, "w:gz") as tar:
        tar.add(fake_root / "cifar-10-batches-py", arcname="cifar-10-batches-py")
        for info, payload in extra:
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return hashlib.md5(path.read_bytes()).hexdigest()


def regular(name, payload=b"escaped"):
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    return info, payload


def symlink(name, target):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info, None


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty XDG cache; the real home and CIFAR10_DIR are kept out of reach."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("CIFAR10_DIR", raising=False)
    return tmp_path / "xdg" / "cnn-from-scratch"


@pytest.fixture
def fake(tmp_path):
    src = tmp_path / "src"
    batches = write_fake_cifar(src / "cifar-10-batches-py")
    archive = tmp_path / "cifar-10-python.tar.gz"
    md5 = make_archive(archive, src)
    return batches, archive, md5


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def no_unpickling(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("something was unpickled")
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(data_utils._ArrayUnpickler, "load", forbidden)


@pytest.mark.parametrize("env, expected", [
    ({"XDG_CACHE_HOME": "/x/cache", "HOME": "/h"}, "/x/cache/cnn-from-scratch"),
    ({"XDG_CACHE_HOME": "", "HOME": "/h"}, "/h/.cache/cnn-from-scratch"),
])
def test_default_cache_dir(monkeypatch, env, expected):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert default_cache_dir() == Path(expected)


def test_load_cifar10_any_batch_size(tmp_path):
    batches = write_fake_cifar(tmp_path / "c")
    Xtr, ytr, Xte, yte = load_CIFAR10(tmp_path / "c")
    assert Xtr.shape == (3 + 4 + 5 + 6 + 7, 3, 32, 32) and Xte.shape == (8, 3, 32, 32)
    np.testing.assert_array_equal(Xtr[:3], batches["data_batch_1"][0])
    np.testing.assert_array_equal(ytr[-7:], batches["data_batch_5"][1])
    np.testing.assert_array_equal(Xte, batches["test_batch"][0])
    assert yte.dtype == np.int64


def test_download_verifies_extracts_and_loads(cache, fake, monkeypatch):
    batches, archive, md5 = fake
    monkeypatch.setattr(data_utils, "download_cifar10",
                        functools.partial(download_cifar10, url=archive.as_uri(), md5=md5))
    d = get_CIFAR2_data(num_training=5, num_validation=2, num_test=2)
    assert leftovers(cache) == ["cifar-10-batches-py"]
    assert download.missing_batches(cache / "cifar-10-batches-py") == []
    X, y = batches["test_batch"]
    keep = np.isin(y, [0, 2])
    assert np.isin(d["y_test"], [0, 1]).all() and len(d["y_test"]) == 2
    assert keep.sum() >= 2 and d["X_test"].shape == (2, 3, 32, 32)
    # Second use reads the cache and never downloads again.
    monkeypatch.setattr(data_utils, "download_cifar10", pytest.fail)
    raw = get_CIFAR2_data(num_training=5, num_validation=2, num_test=int(keep.sum()),
                          subtract_mean=False)
    np.testing.assert_array_equal(raw["X_test"], X[keep])
    np.testing.assert_array_equal(raw["y_test"], (y[keep] == 2).astype(np.int64))


def test_wrong_md5_is_rejected_before_opening(cache, fake, no_unpickling, monkeypatch):
    _, archive, _ = fake
    monkeypatch.setattr(tarfile, "open", pytest.fail)
    with pytest.raises(DownloadError, match=r"corrupt or incomplete: MD5 .* expected 0{32}"):
        download_cifar10(cache, url=archive.as_uri(), md5="0" * 32, progress=False)
    assert leftovers(cache) == []


def test_truncated_archive_is_rejected(cache, fake, no_unpickling, tmp_path):
    _, archive, md5 = fake
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(DownloadError, match="corrupt or incomplete"):
        download_cifar10(cache, url=cut.as_uri(), md5=md5, progress=False)
    assert leftovers(cache) == []
    # Even with a matching checksum, a broken archive fails cleanly during extraction.
    cut_md5 = hashlib.md5(cut.read_bytes()).hexdigest()
    with pytest.raises(DownloadError, match="could not extract"):
        download_cifar10(cache, url=cut.as_uri(), md5=cut_md5, progress=False)
    assert leftovers(cache) == []


@pytest.mark.parametrize("member", [
    regular("../escaped.txt"),
    regular("cifar-10-batches-py/../../escaped.txt"),
    symlink("cifar-10-batches-py/link", "../../escaped.txt"),
    symlink("cifar-10-batches-py/abslink", "/etc/passwd"),
], ids=["dotdot", "nested-dotdot", "relative-symlink", "absolute-symlink"])
def test_members_escaping_the_extraction_dir_are_refused(cache, tmp_path, member, no_unpickling):
    write_fake_cifar(tmp_path / "src" / "cifar-10-batches-py")
    archive = tmp_path / "evil.tar.gz"
    md5 = make_archive(archive, tmp_path / "src", extra=[member])
    with pytest.raises(DownloadError, match="could not extract the archive .* safely"):
        download_cifar10(cache, url=archive.as_uri(), md5=md5, progress=False)
    assert leftovers(cache) == []
    assert not list(tmp_path.rglob("escaped.txt"))


def test_absolute_member_lands_inside_and_is_discarded(cache, tmp_path):
    outside = tmp_path / "outside" / "abs.txt"
    write_fake_cifar(tmp_path / "src" / "cifar-10-batches-py")
    archive = tmp_path / "abs.tar.gz"
    md5 = make_archive(archive, tmp_path / "src", extra=[regular(str(outside))])
    folder = download_cifar10(cache, url=archive.as_uri(), md5=md5, progress=False)
    assert not outside.exists()
    assert leftovers(cache) == ["cifar-10-batches-py"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(BATCH_FILES)


def test_archive_without_the_batches_folder(cache, tmp_path):
    (tmp_path / "src" / "cifar-10-batches-py").mkdir(parents=True)
    archive = tmp_path / "empty.tar.gz"
    md5 = make_archive(archive, tmp_path / "src")
    with pytest.raises(DownloadError, match=r"no cifar-10-batches-py/ folder with \['data_batch_1'"):
        download_cifar10(cache, url=archive.as_uri(), md5=md5, progress=False)
    assert leftovers(cache) == []


def test_offline_error_says_how_to_provide_the_data(cache, tmp_path):
    url = (tmp_path / "nowhere.tar.gz").as_uri()
    with pytest.raises(DownloadError) as info:
        download_cifar10(cache, url=url, progress=False)
    message = str(info.value)
    assert "could not download" in message and "Nothing was saved" in message
    assert "CIFAR10_DIR=/path/to/cifar-10-batches-py" in message and "root=" in message
    assert leftovers(cache) == []


def test_python_without_tar_filters_refuses(cache, fake, monkeypatch):
    _, archive, md5 = fake
    monkeypatch.delattr(tarfile, "data_filter")
    with pytest.raises(DownloadError, match="cannot be extracted safely"):
        download_cifar10(cache, url=archive.as_uri(), md5=md5, progress=False)
    assert not cache.exists()


@pytest.fixture
def no_download(monkeypatch):
    monkeypatch.setattr(data_utils, "download_cifar10", pytest.fail)


@pytest.mark.parametrize("how", ["root", "env"])
def test_named_folder_that_does_not_exist(cache, tmp_path, monkeypatch, no_download, how):
    folder = tmp_path / "not-there"
    if how == "env":
        monkeypatch.setenv("CIFAR10_DIR", str(folder))
    with pytest.raises(FileNotFoundError, match=f"{folder} .*does not exist.*CIFAR10_DIR="):
        get_CIFAR2_data(root=folder if how == "root" else None)


@pytest.mark.parametrize("how", ["root", "env", "cache"])
def test_folder_missing_a_batch_names_it(cache, tmp_path, monkeypatch, no_download, how):
    folder = cache / "cifar-10-batches-py" if how == "cache" else tmp_path / "partial"
    write_fake_cifar(folder)
    (folder / "data_batch_3").unlink()
    if how == "env":
        monkeypatch.setenv("CIFAR10_DIR", str(folder))
    with pytest.raises(FileNotFoundError, match=f"{folder} .*lacks data_batch_3\\."):
        find_cifar10_dir(folder if how == "root" else None)


def test_env_var_is_used(cache, tmp_path, monkeypatch, no_download):
    write_fake_cifar(tmp_path / "env-copy")
    monkeypatch.setenv("CIFAR10_DIR", str(tmp_path / "env-copy"))
    assert find_cifar10_dir() == tmp_path / "env-copy"
    assert find_cifar10_dir(tmp_path / "env-copy") == tmp_path / "env-copy"


def _pickled(obj):
    return pickle.dumps(obj, protocol=2)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("payload, message", [
    (b"not a pickle at all", "is not a readable CIFAR-10 batch"),
    (_pickled([1, 2, 3]), "expected a pickled dict, got list"),
    (_pickled({"data": np.zeros((2, 3072), np.uint8)}), "needs keys 'data' and 'labels'"),
    (_pickled({"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]}),
     r"uint8 array of shape \(n, 3072\), got uint8 array of shape \(2, 100\)"),
    (_pickled({"data": np.zeros((2, 3072), np.float32), "labels": [0, 1]}), "got float32 array"),
    (_pickled({"data": np.zeros((2, 3072), np.uint8), "labels": [0]}), "'labels' must be 2 integers"),
    (_pickled({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 10]}), "found 0..10"),
    (_pickled({"data": np.zeros((2, 3072), np.uint8), "labels": _Exploit()}), "refusing to load"),
], ids=["garbage", "list", "no-labels", "wrong-width", "wrong-dtype", "short-labels",
        "label-10", "code"])
def test_malformed_batch_names_the_file(tmp_path, payload, message):
    path = tmp_path / "data_batch_1"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match=message) as info:
        load_CIFAR_batch(path)
    assert str(path) in str(info.value)


def test_missing_batch_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "test_batch")):
        load_CIFAR_batch(tmp_path / "test_batch")


def test_main_prints_folder_and_counts(tmp_path, capsys):
    batches = write_fake_cifar(tmp_path / "c")
    assert data_utils.main(["--root", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert f"CIFAR-10 batches: {tmp_path / 'c'}" in out
    assert "training: 25 images" in out and "test: 8 images" in out
    n_test_cifar2 = int(np.isin(batches["test_batch"][1], [0, 2]).sum())
    assert f"training, {n_test_cifar2} test images" in out


def test_main_reports_missing_folder(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        data_utils.main(["--root", str(tmp_path / "nope")])
    assert info.value.code == 1
    assert f"{tmp_path / 'nope'}" in capsys.readouterr().err
