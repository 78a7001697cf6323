"""Convolution as a matrix product (im2col), forward and backward.

The input is padded, every receptive field is copied into a column (im2col), and the
whole layer becomes one matrix product of the filters with those columns:

    out[n] = W_mat @ cols[n] + b        W_mat: (F, C*HH*WW), cols[n]: (C*HH*WW, H_out*W_out)

Padding follows the assignment: ``pad`` is the TOTAL number of zero rows (and
columns) added, split evenly between the two sides, so ``pad=2`` is a one-pixel border
and ``H_out = 1 + (H + pad - HH) / stride``.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._checks import check_array, check_int, check_params


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


def im2col(x, HH, WW, stride, pad):
    """Copy every receptive field of ``x`` into a column.

    x: (N, C, H, W) -> cols: (N, C*HH*WW, H_out*W_out), rows ordered (c, i, j) like
    ``w.reshape(F, -1)`` so that ``w.reshape(F, -1) @ cols[n]`` is the convolution.
    """
    N, C, H, W = x.shape
    p = pad // 2
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))) if p else x  # (N, C, H+pad, W+pad)
    windows = sliding_window_view(xp, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]
    H_out, W_out = windows.shape[2:4]  # windows: (N, C, H_out, W_out, HH, WW), a view
    cols = np.empty((N, C, HH, WW, H_out, W_out), dtype=x.dtype)
    cols[...] = windows.transpose(0, 1, 4, 5, 2, 3)  # one strided copy, innermost W_out
    return cols.reshape(N, C * HH * WW, H_out * W_out)


def col2im(dcols, x_shape, HH, WW, stride, pad):
    """Adjoint of :func:`im2col`: sum the column gradients back onto the image.

    dcols: (N, C*HH*WW, H_out*W_out) -> dx: (N, C, H, W).  One strided slice addition per
    kernel offset (HH*WW of them), each covering the whole batch.
    """
    N, C, H, W = x_shape
    Hp, Wp = H + pad, W + pad
    H_out = 1 + (Hp - HH) // stride
    W_out = 1 + (Wp - WW) // stride
    d6 = dcols.reshape(N, C, HH, WW, H_out, W_out)
    dxp = np.zeros((N, C, Hp, Wp), dtype=dcols.dtype)
    for i in range(HH):
        rows = slice(i, i + stride * H_out, stride)
        for j in range(WW):
            dxp[:, :, rows, j : j + stride * W_out : stride] += d6[:, :, i, j]
    p = pad // 2
    return dxp[:, :, p : p + H, p : p + W] if p else dxp


def conv_forward(x, w, b, conv_param):
    """Convolution layer forward pass (im2col + one matrix product).

    Inputs:
    - x: input, (N, C, H, W)
    - w: filters, (F, C, HH, WW)
    - b: biases, (F,)
    - conv_param: {'stride': s >= 1, 'pad': total zero padding (even)}

    Returns (out, cache):
    - out: (N, F, H_out, W_out), H_out = 1 + (H + pad - HH) / stride, likewise W_out
    - cache: (x_shape, w, cols, stride, pad) for :func:`conv_backward`
    """
    check_array("conv_forward", "x", x, ndim=4)
    check_array("conv_forward", "w", w, ndim=4)
    check_array("conv_forward", "b", b, ndim=1)
    stride, pad, H_out, W_out = conv_output_shape(x.shape, w.shape, conv_param)
    N = x.shape[0]
    F, C, HH, WW = w.shape
    if b.shape != (F,):
        raise ValueError(f"conv_forward: b has shape {b.shape}, expected ({F},) for {F} filters")
    dtype = np.result_type(x, w, b)
    cols = im2col(x.astype(dtype, copy=False), HH, WW, stride, pad)  # (N, C*HH*WW, H_out*W_out)
    w_mat = w.reshape(F, C * HH * WW).astype(dtype, copy=False)
    out = np.matmul(w_mat, cols)  # (N, F, H_out*W_out)
    out += b.astype(dtype, copy=False)[:, None]
    cache = (x.shape, w_mat, cols, stride, pad, w.shape)
    return out.reshape(N, F, H_out, W_out), cache


def conv_backward(dout, cache, compute_dx=True):
    """Convolution layer backward pass.

    Inputs:
    - dout: upstream gradient, (N, F, H_out, W_out)
    - cache: from :func:`conv_forward`
    - compute_dx: False skips the input gradient (e.g. for a network's first layer, whose
      input is the data) and returns ``dx=None``.

    Returns (dx, dw, db): (N, C, H, W), (F, C, HH, WW), (F,).
    """
    x_shape, w_mat, cols, stride, pad, w_shape = cache
    N, K, P = cols.shape
    F = w_mat.shape[0]
    check_array("conv_backward", "dout", dout, ndim=4)
    if dout.shape[:2] != (N, F) or dout.shape[2] * dout.shape[3] != P:
        raise ValueError(f"conv_backward: dout has shape {dout.shape}, the forward output was "
                         f"({N}, {F}, H_out, W_out) with H_out*W_out = {P}")
    d = np.ascontiguousarray(dout, dtype=w_mat.dtype).reshape(N, F, P)
    db = d.sum(axis=(0, 2))
    # dw = sum_n d[n] @ cols[n].T, as one product over the stacked (N*P) axis.
    dw = np.matmul(d, cols.transpose(0, 2, 1)).sum(axis=0)  # (F, K)
    dx = None
    if compute_dx:
        dcols = np.matmul(w_mat.T, d)  # (N, K, P)
        _, _, HH, WW = w_shape
        dx = col2im(dcols, x_shape, HH, WW, stride, pad)
    return dx, dw.reshape(w_shape), db
