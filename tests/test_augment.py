"""Random crops and flips: exact shifts against a per-image reference, seeding, errors."""

import numpy as np
import pytest

from code_base.training.augment import Augment, cutout, make_augment, random_crop, random_flip


def batch(N=6, C=3, H=5, W=7, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal((N, C, H, W)).astype(dtype)


def shift_reference(img, dy, dx):
    """img (C, H, W) moved down by dy and right by dx, zeros shifted in (one image, slow loops)."""
    C, H, W = img.shape
    out = np.zeros_like(img)
    for i in range(H):
        for j in range(W):
            si, sj = i - dy, j - dx
            if 0 <= si < H and 0 <= sj < W:
                out[:, i, j] = img[:, si, sj]
    return out


def test_crop_is_a_zero_filled_shift_of_each_image():
    X = batch()
    padding = 2
    out = random_crop(X, np.random.default_rng(3), padding)
    # Replay the generator: the crop draws the window corners (top, then left) in [0, 2p].
    rng = np.random.default_rng(3)
    top, left = rng.integers(0, 2 * padding + 1, 6), rng.integers(0, 2 * padding + 1, 6)
    for n in range(len(X)):
        expected = shift_reference(X[n], padding - top[n], padding - left[n])
        np.testing.assert_array_equal(out[n], expected)
    assert out.shape == X.shape and out.dtype == X.dtype


def test_crop_uses_every_shift_and_only_those():
    X = np.ones((400, 1, 4, 4), dtype=np.float32)
    out = random_crop(X, np.random.default_rng(0), padding=1)
    # With ones inside, the number of zero rows/columns tells the shift; all 9 must occur.
    zero_rows = (out[:, 0].sum(axis=2) == 0).sum(axis=1)
    zero_cols = (out[:, 0].sum(axis=1) == 0).sum(axis=1)
    assert set(zero_rows) == {0, 1} and set(zero_cols) == {0, 1}
    assert out.sum() == pytest.approx(400 * 16 - 4 * zero_rows.sum() - 4 * zero_cols.sum()
                                      + (zero_rows * zero_cols).sum())


@pytest.mark.parametrize("p, expected_fraction", [(0.0, 0.0), (1.0, 1.0), (0.5, 0.5)])
def test_flip_mirrors_chosen_images(p, expected_fraction):
    X = batch(N=400, H=2, W=3)
    out = random_flip(X, np.random.default_rng(1), p)
    flipped = np.array([np.array_equal(o, x[:, :, ::-1]) for o, x in zip(out, X)])
    kept = np.array([np.array_equal(o, x) for o, x in zip(out, X)])
    assert np.all(flipped ^ kept)  # every image is exactly one of the two
    assert flipped.mean() == pytest.approx(expected_fraction, abs=0.07)


def test_input_is_not_modified_and_results_are_seeded():
    X = batch()
    before = X.copy()
    aug = make_augment(padding=2, flip=True)
    a = aug(X, np.random.default_rng(7))
    b = aug(X, np.random.default_rng(7))
    c = aug(X, np.random.default_rng(8))
    np.testing.assert_array_equal(X, before)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_padding_zero_and_no_flip():
    X = batch()
    np.testing.assert_array_equal(random_crop(X, np.random.default_rng(0), 0), X)
    assert make_augment(0, False) is None
    assert repr(make_augment(3, False)) == "Augment(padding=3, flip=False, cutout=0)"
    np.testing.assert_array_equal(cutout(X, np.random.default_rng(0), 0), X)


@pytest.mark.parametrize("size", [1, 4, 5])
def test_cutout_zeroes_one_square_per_image(size):
    X = batch(N=50, H=8, W=8) + 10.0  # no zeros of its own
    out = cutout(X, np.random.default_rng(5), size)
    rng = np.random.default_rng(5)  # replay: the centre rows, then the centre columns
    cy, cx = rng.integers(0, 8, 50), rng.integers(0, 8, 50)
    for n in range(50):
        expected = X[n].copy()
        top, left = cy[n] - size // 2, cx[n] - size // 2
        for i in range(max(top, 0), min(top + size, 8)):
            for j in range(max(left, 0), min(left + size, 8)):
                expected[:, i, j] = 0
        np.testing.assert_array_equal(out[n], expected)
    # Centres near the border cut the square off; away from it the whole square is zeroed.
    zeros = (out[:, 0] == 0).sum(axis=(1, 2))
    assert zeros.max() == size * size and zeros.min() >= ((size + 1) // 2) ** 2


@pytest.mark.parametrize("call, message", [
    (lambda: random_crop(np.zeros((2, 3, 4)), np.random.default_rng(0)), "must have 4 dimensions"),
    (lambda: random_crop(np.zeros((1, 1, 4, 4)), 0), "np.random.Generator"),
    (lambda: random_crop(np.zeros((1, 1, 4, 4)), np.random.default_rng(0), -1), "padding"),
    (lambda: random_flip(np.zeros((1, 1, 4, 4)), np.random.default_rng(0), 1.5), "probability"),
    (lambda: Augment(padding=2.5), "padding"),
    (lambda: Augment(flip="yes"), "flip"),
    (lambda: Augment(cutout=-2), "cutout"),
    (lambda: cutout(np.zeros((1, 1, 4, 4)), np.random.default_rng(0), 2.0), "size"),
])
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()
