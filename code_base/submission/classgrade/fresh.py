"""The fresh inputs a class is graded on: new arrays of the assignment's shapes, exact to compute.

Every value lies on a dyadic grid (multiples of 2**-16, |v| < 8; the dropout forward input is
10 + that), so the six functions' results are exact in float64 whatever the BLAS or the order of
its sums: a right answer is right to the last bit. The max-pool inputs hold tied maxima in about
a third of their 2x2 windows, so the rule "the gradient goes to the first maximum of a window"
(the solution's) is graded, not assumed away.
"""
import numpy as np

from ..compute import POOL_PARAM
from ..files import INPUT_SHAPES

__all__ = ["GRID", "fresh_inputs"]

GRID = 2.0 ** -16


def _dyadic(rng, shape):
    return np.clip(np.round(rng.standard_normal(shape) / GRID) * GRID, -8 + GRID, 8 - GRID)


def _tie(x, rng, share=1 / 3):
    """Copy each chosen window's maximum onto another of its cells (2x2 windows, stride 2)."""
    ph, pw = POOL_PARAM["pool_height"], POOL_PARAM["pool_width"]
    N, C, H, W = x.shape
    # (N, C, H, W) -> (N, C, H/ph, W/pw, ph*pw): one row per pooling window
    windows = x.reshape(N, C, H // ph, ph, W // pw, pw).transpose(0, 1, 2, 4, 3, 5)
    windows = windows.reshape(N, C, H // ph, W // pw, ph * pw)
    chosen = rng.random(windows.shape[:4]) < share
    top = windows.argmax(axis=-1)
    other = (top + rng.integers(1, ph * pw, size=top.shape)) % (ph * pw)
    peak = np.take_along_axis(windows, top[..., None], axis=-1)[..., 0]
    np.put_along_axis(windows, other[..., None], np.where(chosen, peak, np.take_along_axis(
        windows, other[..., None], axis=-1)[..., 0])[..., None], axis=-1)
    # (N, C, H/ph, W/pw, ph*pw) -> (N, C, H, W)
    return windows.reshape(N, C, H // ph, W // pw, ph, pw).transpose(0, 1, 2, 4, 3, 5).reshape(N, C, H, W)


def fresh_inputs(seed):
    """{name: float64 array} of every input file, reproducible from `seed`."""
    rng = np.random.default_rng(seed)
    arrays = {name: _dyadic(rng, shape) for name, shape in INPUT_SHAPES.items()}
    for name in ("maxpool_forward_in_x", "maxpool_backward_in_x"):
        arrays[name] = _tie(arrays[name], rng)
    arrays["dropout_forward_in_x"] = arrays["dropout_forward_in_x"] + 10.0
    return arrays
