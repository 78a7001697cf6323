"""Data augmentation for minibatches of images: zero-padded random crops, mirror flips, cutout.

Every function works on a whole batch X (N, C, H, W) at once (no loop over images), takes
its randomness from an ``np.random.Generator``, and returns a new array: the input batch is
never modified.  ``make_augment`` builds the ``augment(X_batch, rng) -> X_batch`` callable
that ``Solver(augment=...)`` expects.

The images are mean-subtracted, so the zeros used for padding are the mean image's values:
a shifted image is bordered by "average" pixels rather than black ones.
"""

import numpy as np

from ..utils.checks import check_array, check_bool, check_int, check_probability, check_rng

__all__ = ["random_crop", "random_flip", "cutout", "make_augment", "Augment"]


def random_crop(X, rng, padding=4):
    """Pad every image with ``padding`` zero pixels on EACH side and crop a random H x W window.

    Inputs: X (N, C, H, W); rng: np.random.Generator; padding: int >= 0 (pixels per side,
    unlike the convolution's total ``pad``).
    Returns: (N, C, H, W), image n shifted by (dy[n], dx[n]), both drawn uniformly from
    -padding..padding; pixels shifted in from outside the image are 0.
    """
    check_array("random_crop", "X", X, ndim=4)
    check_rng("random_crop", "rng", rng)
    p = check_int("random_crop", "padding", padding, 0)
    N, C, H, W = X.shape
    if p == 0 or N == 0:
        return X.copy()
    Xp = np.zeros((N, C, H + 2 * p, W + 2 * p), dtype=X.dtype)
    Xp[:, :, p:p + H, p:p + W] = X
    top = rng.integers(0, 2 * p + 1, size=N)   # (N,) window corner in the padded image
    left = rng.integers(0, 2 * p + 1, size=N)
    rows = top[:, None] + np.arange(H)         # (N, H)
    cols = left[:, None] + np.arange(W)        # (N, W)
    n = np.arange(N)[:, None, None, None]
    c = np.arange(C)[None, :, None, None]
    # One gather for the whole batch: index arrays broadcast to (N, C, H, W).
    return Xp[n, c, rows[:, None, :, None], cols[:, None, None, :]]


def random_flip(X, rng, p=0.5):
    """Mirror each image left-right with probability ``p``.

    Inputs: X (N, C, H, W); rng: np.random.Generator; p in [0, 1].
    Returns: (N, C, H, W), a copy of X with the chosen images' W axis reversed.
    """
    check_array("random_flip", "X", X, ndim=4)
    check_rng("random_flip", "rng", rng)
    p = check_probability("random_flip", "p", p)
    flip = rng.random(X.shape[0]) < p          # (N,)
    return np.where(flip[:, None, None, None], X[:, :, :, ::-1], X)


def cutout(X, rng, size=8):
    """Set a random ``size`` x ``size`` square of each image to 0 (DeVries & Taylor, 2017).

    Inputs: X (N, C, H, W); rng: np.random.Generator; size: int >= 0.
    Returns: (N, C, H, W), a copy of X with, in image n, the pixels within ``size // 2`` rows and
    columns of a centre drawn uniformly over the image zeroed in every channel (a square cut off
    by the border when the centre is near it, as in the paper).
    """
    check_array("cutout", "X", X, ndim=4)
    check_rng("cutout", "rng", rng)
    size = check_int("cutout", "size", size, 0)
    N, C, H, W = X.shape
    if size == 0 or N == 0:
        return X.copy()
    cy, cx = rng.integers(0, H, size=N), rng.integers(0, W, size=N)
    lo = size // 2
    rows = np.arange(H) - (cy[:, None] - lo)           # (N, H): offset inside the square
    cols = np.arange(W) - (cx[:, None] - lo)           # (N, W)
    in_rows = (rows >= 0) & (rows < size)
    in_cols = (cols >= 0) & (cols < size)
    hole = in_rows[:, :, None] & in_cols[:, None, :]   # (N, H, W)
    return np.where(hole[:, None], np.zeros((), X.dtype), X)


class Augment:
    """Callable (X_batch, rng) -> X_batch: random crop (if padding > 0), random flip (if flip),
    then cutout (if cutout > 0).

    A class rather than a closure so that it has a readable repr and can be pickled.
    """

    def __init__(self, padding=4, flip=True, cutout=0):
        self.padding = check_int("make_augment", "padding", padding, 0)
        self.cutout = check_int("make_augment", "cutout", cutout, 0)
        self.flip = check_bool("make_augment", "flip", flip)

    def __call__(self, X, rng):
        if self.padding:
            X = random_crop(X, rng, self.padding)
        if self.flip:
            X = random_flip(X, rng)
        if self.cutout:
            X = cutout(X, rng, self.cutout)
        return X

    def __repr__(self):
        return f"Augment(padding={self.padding}, flip={self.flip}, cutout={self.cutout})"


def make_augment(padding=4, flip=True, cutout=0):
    """The Solver's ``augment`` callable for these settings, or None when all are off."""
    aug = Augment(padding, flip, cutout)
    return aug if (aug.padding or aug.flip or aug.cutout) else None
