"""Convolution as a matrix product (im2col), forward and backward.

The input is padded, every receptive field is copied into a column (im2col), and the
whole layer becomes one matrix product of the filters with those columns:

    out[n] = W_mat @ cols[n] + b        W_mat: (F, C*HH*WW), cols[n]: (C*HH*WW, H_out*W_out)

Padding follows the assignment: ``pad`` is the TOTAL number of zero rows (and
columns) added, split evenly between the two sides, so ``pad=2`` is a one-pixel border
and ``H_out = 1 + (H + pad - HH) / stride``.

Speed: the bias rides in the product as a last row of ones in cols (so the backward
product yields db too), ``num_threads`` threads each take a shard of the images, and the
large arrays come from :mod:`code_base.buffers`, which reuses memory between steps.
"""

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from . import buffers
from ._checks import check_array, check_int, check_params
from .parallel import map_shards, resolve_threads


def conv_output_shape(x_shape, w_shape, conv_param, where="conv_forward"):
    """Validate a convolution's shapes and parameters; return ``(stride, pad, H_out, W_out)``."""
    check_params(where, "conv_param", conv_param, ("stride", "pad"))
    stride = check_int(where, "stride", conv_param["stride"], 1)
    pad = check_int(where, "pad", conv_param["pad"], 0)
    if pad % 2:
        raise ValueError(
            f"{where}: pad is the total padding and must be even (split over both sides), got {pad}"
        )
    N, C, H, W = x_shape
    F, Cw, HH, WW = w_shape
    if C != Cw:
        raise ValueError(f"{where}: x has {C} channels but w expects {Cw} (x {x_shape}, w {w_shape})")
    for axis, size, k in (("H", H, HH), ("W", W, WW)):
        span = size + pad - k
        if span < 0:
            raise ValueError(f"{where}: filter {axis} {k} is larger than the padded input {size + pad}")
        if span % stride:
            raise ValueError(
                f"{where}: ({axis} + pad - {axis * 2}) = {span} is not divisible by stride {stride}"
            )
    H_out = 1 + (H + pad - HH) // stride
    W_out = 1 + (W + pad - WW) // stride
    return stride, pad, H_out, W_out


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
    larger matrix).
    """
    N, C, H, W = x.shape
    windows = _padded_windows(x, HH, WW, stride, pad)  # (C, N, H_out, W_out, HH, WW), a view
    H_out, W_out = windows.shape[2:4]
    shape = (C * HH * WW, N * H_out * W_out)
    cols = np.empty(shape, dtype=x.dtype) if out is None else _check_out("im2col", out, shape)
    # One strided copy, innermost W_out, through a view of cols with the window axes.
    _split_view(cols, (C, HH, WW), (N, H_out, W_out))[...] = windows.transpose(0, 4, 5, 1, 2, 3)
    return cols


def _split_view(a, row_axes, column_axes):
    """A view of the 2-d array a (contiguous rows) with its rows and columns split into axes."""
    rs, cs = a.strides
    row_strides = tuple(rs * int(np.prod(row_axes[k + 1 :])) for k in range(len(row_axes)))
    col_strides = tuple(cs * int(np.prod(column_axes[k + 1 :])) for k in range(len(column_axes)))
    return as_strided(a, row_axes + column_axes, row_strides + col_strides)


def _check_out(where, out, shape):
    """``out`` if it is an array of ``shape`` with contiguous rows, else a ValueError."""
    if out.shape != shape or out.strides[1] != out.itemsize:
        raise ValueError(f"{where}: out must be an array of shape {shape} with contiguous "
                         f"rows, got shape {out.shape}, strides {out.strides}")
    return out


def col2im_cn(dcols, x_shape, HH, WW, stride, pad):
    """col2im laid out channel-major: (C, N, H, W), a view into the padded sum."""
    N, C, H, W = x_shape
    Hp, Wp = H + pad, W + pad
    H_out = 1 + (Hp - HH) // stride
    W_out = 1 + (Wp - WW) // stride
    d6 = dcols.reshape(C, HH, WW, N, H_out, W_out)
    dxp = np.zeros((C, N, Hp, Wp), dtype=dcols.dtype)
    for i in range(HH):
        rows = slice(i, i + stride * H_out, stride)
        for j in range(WW):
            dxp[:, :, rows, j : j + stride * W_out : stride] += d6[:, i, j]
    p = pad // 2
    return dxp[:, :, p : p + H, p : p + W]


def col2im(dcols, x_shape, HH, WW, stride, pad):
    """Adjoint of :func:`im2col`: sum the column gradients back onto the image.

    dcols: (C*HH*WW, N*H_out*W_out) -> dx: (N, C, H, W) (a transposed view of a
    channel-major array).  One strided slice addition per kernel offset (HH*WW of them),
    each covering the whole batch.
    """
    return col2im_cn(dcols, x_shape, HH, WW, stride, pad).transpose(1, 0, 2, 3)


def check_conv_inputs(where, x, w, conv_param):
    check_array(where, "x", x, ndim=4)
    check_array(where, "w", w, ndim=4)
    return conv_output_shape(x.shape, w.shape, conv_param, where)


def conv_forward_cn(x, w, b, conv_param, num_threads=1):
    """Convolution in channel-major layout, for layers that fuse what follows.

    x: (N, C, H, W), w: (F, C, HH, WW), b: (F,) or None (no bias) -> out:
    (F, N, H_out, W_out) and a cache for :func:`conv_backward_cn`.  Channel-major is the
    natural layout of the product ``W_mat @ cols``; returning it avoids a transpose of the
    largest activation.  ``num_threads`` threads each take a shard of the images: its
    columns and its block of the product.
    """
    stride, pad, H_out, W_out = check_conv_inputs("conv_forward", x, w, conv_param)
    N, C, _, _ = x.shape
    F, _, HH, WW = w.shape
    K, P = C * HH * WW, H_out * W_out
    dtype = np.result_type(x, w)
    x = x.astype(dtype, copy=False)
    # With a bias, a last row of ones carries it through the product:
    # [W_mat | b] @ [cols; 1] = W_mat @ cols + b, and the backward product gives db too.
    rows = K if b is None else K + 1
    w_mat = np.empty((F, rows), dtype=dtype)
    w_mat[:, :K] = w.reshape(F, K)
    cols = buffers.empty((rows, N * P), dtype)
    if b is not None:
        w_mat[:, K] = b
        cols[K] = 1
    out = buffers.empty((F, N * P), dtype)

    def shard(s):
        q = slice(s.start * P, s.stop * P)  # the shard's columns
        im2col(x[s], HH, WW, stride, pad, out=cols[:K, q])
        np.matmul(w_mat, cols[:, q], out=out[:, q])  # (F, rows) @ (rows, n*P)

    map_shards(shard, N, num_threads)
    return out.reshape(F, N, H_out, W_out), (x.shape, w.shape, w_mat, cols, stride, pad,
                                              (H_out, W_out))


def conv_backward_cn(dout_cn, cache, compute_dx=True, num_threads=1):
    """Backward pass of :func:`conv_forward_cn`.

    dout_cn: (F, N, H_out, W_out) -> (dx (N, C, H, W) or None, dw (F, C, HH, WW),
    db (F,) or None when the forward pass had no bias).
    """
    x_shape, w_shape, w_mat, cols, stride, pad, (H_out, W_out) = cache
    F, rows = w_mat.shape
    N, C, H, W = x_shape
    _, _, HH, WW = w_shape
    K, P = C * HH * WW, H_out * W_out
    if dout_cn.shape != (F, N, H_out, W_out):
        raise ValueError(f"conv_backward: upstream gradient has shape {dout_cn.shape} (channel-"
                         f"major), expected {(F, N, H_out, W_out)}")
    d = np.ascontiguousarray(dout_cn, dtype=w_mat.dtype).reshape(F, N * P)
    dx_cn = buffers.empty((C, N, H, W), w_mat.dtype) if compute_dx else None

    def shard(s):
        q = slice(s.start * P, s.stop * P)
        dwb = d[:, q] @ cols[:, q].T  # (F, rows): the transposed operand costs no copy in BLAS
        if compute_dx:
            dcols = w_mat[:, :K].T @ d[:, q]  # (K, n*P)
            dx_cn[:, s] = col2im_cn(dcols, (s.stop - s.start, C, H, W), HH, WW, stride, pad)
        return dwb

    dwb = sum(map_shards(shard, N, num_threads))
    db = dwb[:, K].copy() if rows > K else None
    dx = None if dx_cn is None else dx_cn.transpose(1, 0, 2, 3)
    return dx, np.ascontiguousarray(dwb[:, :K]).reshape(w_shape), db


def check_bias(where, b, w):
    """Check b is a (F,) float array for the F filters of w."""
    check_array(where, "b", b, ndim=1)
    F = w.shape[0]
    if b.shape != (F,):
        raise ValueError(f"{where}: b has shape {b.shape}, expected ({F},) for {F} filters")


def conv_forward(x, w, b, conv_param, num_threads=None):
    """Convolution layer forward pass (im2col + one matrix product).

    Inputs:
    - x: input, (N, C, H, W)
    - w: filters, (F, C, HH, WW)
    - b: biases, (F,)
    - conv_param: {'stride': s >= 1, 'pad': total zero padding (even)}
    - num_threads: threads sharing the batch (default: the number of cores)

    Returns (out, cache):
    - out: (N, F, H_out, W_out), H_out = 1 + (H + pad - HH) / stride, likewise W_out.
      It is a transposed view of a channel-major (F, N, H_out, W_out) array.
    - cache: for :func:`conv_backward`
    """
    threads = resolve_threads("conv_forward", num_threads)
    check_conv_inputs("conv_forward", x, w, conv_param)
    check_bias("conv_forward", b, w)
    out_cn, cache = conv_forward_cn(x, w, b, conv_param, threads)  # (F, N, H_out, W_out)
    return out_cn.transpose(1, 0, 2, 3), cache


def conv_backward(dout, cache, compute_dx=True, num_threads=None):
    """Convolution layer backward pass.

    Inputs:
    - dout: upstream gradient, (N, F, H_out, W_out)
    - cache: from :func:`conv_forward`
    - compute_dx: False skips the input gradient (e.g. for a network's first layer, whose
      input is the data) and returns ``dx=None``.
    - num_threads: threads sharing the batch (default: the number of cores)

    Returns (dx, dw, db): (N, C, H, W), (F, C, HH, WW), (F,).
    """
    threads = resolve_threads("conv_backward", num_threads)
    check_array("conv_backward", "dout", dout, ndim=4)
    x_shape, _, w_mat, _, _, _, (H_out, W_out) = cache
    expected = (x_shape[0], w_mat.shape[0], H_out, W_out)
    if dout.shape != expected:
        raise ValueError(f"conv_backward: dout has shape {dout.shape}, expected {expected}")
    return conv_backward_cn(dout.transpose(1, 0, 2, 3), cache, compute_dx, threads)
