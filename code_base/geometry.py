"""The shape rules of the convolution and the pool: checks and output sizes.

Every implementation of these layers calls the same checks, so a bad argument gets the same
message whichever runs.
"""

import numpy as np

from .utils.checks import check_array, check_int, check_params

__all__ = ["conv_geometry", "check_conv_bias", "pool_geometry", "pool_tiles_shape", "check_affine"]


def conv_geometry(where, x, w, conv_param):
    """Check a convolution's x (N, C, H, W), w (F, C, HH, WW) and conv_param.

    Returns ``(stride, pad, H_out, W_out)`` with ``H_out = 1 + (H + pad - HH) / stride``,
    ``pad`` being the TOTAL padding (even: half on each side).
    """
    check_array(where, "x", x, ndim=4)
    check_array(where, "w", w, ndim=4)
    check_params(where, "conv_param", conv_param, ("stride", "pad"))
    stride = check_int(where, "stride", conv_param["stride"], 1)
    pad = check_int(where, "pad", conv_param["pad"], 0)
    if pad % 2:
        raise ValueError(
            f"{where}: pad is the total padding and must be even (split over both sides), got {pad}"
        )
    N, C, H, W = x.shape
    F, Cw, HH, WW = w.shape
    if C != Cw:
        raise ValueError(f"{where}: x has {C} channels but w expects {Cw} "
                         f"(x {x.shape}, w {w.shape})")
    for axis, size, k in (("H", H, HH), ("W", W, WW)):
        span = size + pad - k
        if span < 0:
            raise ValueError(f"{where}: filter {axis} {k} is larger than the padded input {size + pad}")
        if span % stride:
            raise ValueError(
                f"{where}: ({axis} + pad - {axis * 2}) = {span} is not divisible by stride {stride}"
            )
    return stride, pad, 1 + (H + pad - HH) // stride, 1 + (W + pad - WW) // stride


def check_conv_bias(where, b, w):
    """Check b is a (F,) float array for the F filters of w."""
    check_array(where, "b", b, ndim=1)
    F = w.shape[0]
    if b.shape != (F,):
        raise ValueError(f"{where}: b has shape {b.shape}, expected ({F},) for {F} filters")


def pool_geometry(where, x_shape, pool_param):
    """Check pool_param for an (N, C, H, W) input; return ``(ph, pw, stride, H_out, W_out)``.

    ``H_out = 1 + (H - pool_height) / stride``, likewise W_out; windows must fit and tile evenly.
    """
    check_params(where, "pool_param", pool_param, ("pool_height", "pool_width", "stride"))
    ph = check_int(where, "pool_height", pool_param["pool_height"], 1)
    pw = check_int(where, "pool_width", pool_param["pool_width"], 1)
    stride = check_int(where, "stride", pool_param["stride"], 1)
    N, C, H, W = x_shape
    for axis, size, k in (("H", H, ph), ("W", W, pw)):
        if k > size:
            raise ValueError(f"{where}: pool window {ph}x{pw} does not fit the input {H}x{W}")
        if (size - k) % stride:
            raise ValueError(
                f"{where}: pool window {ph}x{pw} with stride {stride} does not tile the input "
                f"{H}x{W}: ({axis} - {k}) = {size - k} is not divisible by {stride}"
            )
    return ph, pw, stride, 1 + (H - ph) // stride, 1 + (W - pw) // stride


def pool_tiles_shape(where, shape, pool_param):
    """True when the pool's windows tile an (N, C, H, W) shape exactly: stride = window, no
    remainder (checks pool_param first)."""
    ph, pw, stride, H_out, W_out = pool_geometry(where, shape, pool_param)
    return stride == ph == pw and tuple(shape[2:]) == (ph * H_out, pw * W_out)


def check_affine(where, x, w, b):
    """Check x (N, d_1, ..., d_k), w (D, M), b (M,) with D = d_1 * ... * d_k; return (N, D, M)."""
    check_array(where, "x", x)
    check_array(where, "w", w, ndim=2)
    check_array(where, "b", b, ndim=1)
    if x.ndim == 0:
        raise ValueError(f"{where}: x must have a batch axis (N, d_1, ..., d_k), got a 0-d array")
    N = x.shape[0]
    D, M = w.shape
    per_example = int(np.prod(x.shape[1:]))  # d_1 * ... * d_k, also for an empty batch
    if per_example != D:
        raise ValueError(f"{where}: x of shape {x.shape} flattens to {per_example} "
                         f"values per example, but w has shape {w.shape} (D = {D})")
    if b.shape != (M,):
        raise ValueError(f"{where}: b has shape {b.shape}, expected ({M},)")
    return N, D, M
