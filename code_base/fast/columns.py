"""The fast kernels' im2col and col2im: the same columns as :mod:`code_base.im2col`, made faster.

:func:`im2col` copies all receptive fields in one strided copy and can fill a caller's block
of columns (``out``), so the sharded kernels write straight into their buffers;
:func:`col2im_channel_major` returns the summed gradient laid out (C, N, H, W), the layout the
kernels' products produce, so no transpose is copied.  The tests compare both with the
textbook functions.
"""

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

__all__ = ["im2col", "col2im_channel_major"]


def _padded_windows(x, HH, WW, stride, pad):
    """Every receptive field of x: a (C, N, H_out, W_out, HH, WW) view of the padded input."""
    N, C, H, W = x.shape
    p = pad // 2
    xp = np.zeros((C, N, H + pad, W + pad), dtype=x.dtype)  # channel-major, pad/2 per side
    xp[:, :, p : p + H, p : p + W] = x.transpose(1, 0, 2, 3)
    return sliding_window_view(xp, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]


def im2col(x, HH, WW, stride, pad, out=None):
    """Copy every receptive field of ``x`` into a column, channel-major.

    x: (N, C, H, W) -> cols: (C*HH*WW, N*H_out*W_out).  Rows are ordered (c, i, j) like
    ``w.reshape(F, -1)``, columns (n, h, w), so ``w.reshape(F, -1) @ cols`` is the whole
    batch's convolution in one product, laid out (F, N, H_out, W_out).  ``out``, if given,
    is an array of that shape with contiguous rows to fill (e.g. a block of columns of a
    larger matrix); the fast kernels fill their shards that way.
    """
    N, C, H, W = x.shape
    windows = _padded_windows(x, HH, WW, stride, pad)  # (C, N, H_out, W_out, HH, WW), a view
    H_out, W_out = windows.shape[2:4]
    shape = (C * HH * WW, N * H_out * W_out)
    cols = np.empty(shape, dtype=x.dtype) if out is None else _check_out(out, shape)
    # One strided copy, innermost W_out, through a view of cols with the window axes.
    _split_view(cols, (C, HH, WW), (N, H_out, W_out))[...] = windows.transpose(0, 4, 5, 1, 2, 3)
    return cols


def _split_view(a, row_axes, column_axes):
    """A view of the 2-d array a (contiguous rows) with its rows and columns split into axes."""
    rs, cs = a.strides
    row_strides = tuple(rs * int(np.prod(row_axes[k + 1 :])) for k in range(len(row_axes)))
    col_strides = tuple(cs * int(np.prod(column_axes[k + 1 :])) for k in range(len(column_axes)))
    return as_strided(a, row_axes + column_axes, row_strides + col_strides)


def _check_out(out, shape):
    """``out`` if it is an array of ``shape`` with contiguous rows, else a ValueError."""
    if out.shape != shape or (out.size and out.strides[1] != out.itemsize):
        raise ValueError(f"im2col: out must be an array of shape {shape} with contiguous "
                         f"rows, got shape {out.shape}, strides {out.strides}")
    return out


def col2im_channel_major(dcols, x_shape, HH, WW, stride, pad):
    """col2im laid out channel-major: (C, N, H, W), a view into the padded sum."""
    N, C, H, W = x_shape
    Hp, Wp = H + pad, W + pad
    H_out = 1 + (Hp - HH) // stride
    W_out = 1 + (Wp - WW) // stride
    d6 = dcols.reshape(C, HH, WW, N, H_out, W_out)
    dxp = np.zeros((C, N, Hp, Wp), dtype=dcols.dtype)
    # One strided slice addition per kernel offset, each covering the whole batch: the
    # receptive fields overlap, so every input pixel sums the columns that copied it.
    for i in range(HH):
        rows = slice(i, i + stride * H_out, stride)
        for j in range(WW):
            dxp[:, :, rows, j : j + stride * W_out : stride] += d6[:, i, j]
    p = pad // 2
    return dxp[:, :, p : p + H, p : p + W]

