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
    """Copy every receptive field of ``x`` into a column, channel-major.

    x: (N, C, H, W) -> cols: (C*HH*WW, N*H_out*W_out).  Rows are ordered (c, i, j) like
    ``w.reshape(F, -1)``, columns (n, h, w), so ``w.reshape(F, -1) @ cols`` is the whole
    batch's convolution in one product, laid out (F, N, H_out, W_out).
    """
    N, C, H, W = x.shape
    p = pad // 2
    xp = np.zeros((C, N, H + pad, W + pad), dtype=x.dtype)
    xp[:, :, p : p + H, p : p + W] = x.transpose(1, 0, 2, 3)
    windows = sliding_window_view(xp, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]
    H_out, W_out = windows.shape[2:4]  # windows: (C, N, H_out, W_out, HH, WW), a view
    cols = np.empty((C, HH, WW, N, H_out, W_out), dtype=x.dtype)
    cols[...] = windows.transpose(0, 4, 5, 1, 2, 3)  # one strided copy, innermost W_out
    return cols.reshape(C * HH * WW, N * H_out * W_out)


def col2im(dcols, x_shape, HH, WW, stride, pad):
    """Adjoint of :func:`im2col`: sum the column gradients back onto the image.

    dcols: (C*HH*WW, N*H_out*W_out) -> dx: (N, C, H, W) (a transposed view of a
    channel-major array).  One strided slice addition per kernel offset (HH*WW of them),
    each covering the whole batch.
    """
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
    return dxp[:, :, p : p + H, p : p + W].transpose(1, 0, 2, 3)


def _check_conv_inputs(where, x, w, conv_param):
    check_array(where, "x", x, ndim=4)
    check_array(where, "w", w, ndim=4)
    return conv_output_shape(x.shape, w.shape, conv_param, where)


def conv_forward_cn(x, w, conv_param):
    """Bias-free convolution in channel-major layout, for layers that fuse what follows.

    x: (N, C, H, W), w: (F, C, HH, WW) -> out: (F, N, H_out, W_out) and a cache for
    :func:`conv_backward_cn`.  Channel-major is the natural layout of the product
    ``W_mat @ cols``; returning it avoids a transpose of the largest activation.
    """
    stride, pad, H_out, W_out = _check_conv_inputs("conv_forward", x, w, conv_param)
    N = x.shape[0]
    F, C, HH, WW = w.shape
    dtype = np.result_type(x, w)
    cols = im2col(x.astype(dtype, copy=False), HH, WW, stride, pad)  # (C*HH*WW, N*H_out*W_out)
    w_mat = w.reshape(F, C * HH * WW).astype(dtype, copy=False)
    out = w_mat @ cols  # (F, N*H_out*W_out)
    return out.reshape(F, N, H_out, W_out), (x.shape, w.shape, w_mat, cols, stride, pad)


def conv_backward_cn(dout_cn, cache, compute_dx=True):
    """Backward pass of :func:`conv_forward_cn`.

    dout_cn: (F, N, H_out, W_out) -> (dx (N, C, H, W) or None, dw (F, C, HH, WW)).
    """
    x_shape, w_shape, w_mat, cols, stride, pad = cache
    F, K = w_mat.shape
    P = cols.shape[1]
    if dout_cn.ndim != 4 or dout_cn.shape[0] != F or dout_cn[0].size != P:
        raise ValueError(f"conv_backward: upstream gradient has shape {dout_cn.shape}, the forward "
                         f"output had {F} channels of {P} values")
    d = np.ascontiguousarray(dout_cn, dtype=w_mat.dtype).reshape(F, P)
    dw = (d @ cols.T).reshape(w_shape)  # (F, K): the transposed operand costs no copy in BLAS
    dx = None
    if compute_dx:
        _, _, HH, WW = w_shape
        dx = col2im(w_mat.T @ d, x_shape, HH, WW, stride, pad)  # (K, N*P) -> (N, C, H, W)
    return dx, dw


def check_bias(where, b, w):
    """Check b is a (F,) float array for the F filters of w."""
    check_array(where, "b", b, ndim=1)
    F = w.shape[0]
    if b.shape != (F,):
        raise ValueError(f"{where}: b has shape {b.shape}, expected ({F},) for {F} filters")


def conv_forward(x, w, b, conv_param):
    """Convolution layer forward pass (im2col + one matrix product).

    Inputs:
    - x: input, (N, C, H, W)
    - w: filters, (F, C, HH, WW)
    - b: biases, (F,)
    - conv_param: {'stride': s >= 1, 'pad': total zero padding (even)}

    Returns (out, cache):
    - out: (N, F, H_out, W_out), H_out = 1 + (H + pad - HH) / stride, likewise W_out.
      It is a transposed view of a channel-major (F, N, H_out, W_out) array.
    - cache: for :func:`conv_backward`
    """
    out_cn, cache = conv_forward_cn(x, w, conv_param)  # (F, N, H_out, W_out); checks x, w
    check_bias("conv_forward", b, w)
    out_cn += b.astype(out_cn.dtype, copy=False)[:, None, None, None]
    return out_cn.transpose(1, 0, 2, 3), cache


def conv_backward(dout, cache, compute_dx=True):
    """Convolution layer backward pass.

    Inputs:
    - dout: upstream gradient, (N, F, H_out, W_out)
    - cache: from :func:`conv_forward`
    - compute_dx: False skips the input gradient (e.g. for a network's first layer, whose
      input is the data) and returns ``dx=None``.

    Returns (dx, dw, db): (N, C, H, W), (F, C, HH, WW), (F,).
    """
    check_array("conv_backward", "dout", dout, ndim=4)
    dout_cn = dout.transpose(1, 0, 2, 3)  # (F, N, H_out, W_out)
    dx, dw = conv_backward_cn(dout_cn, cache, compute_dx)
    return dx, dw, dout_cn.sum(axis=(1, 2, 3))
