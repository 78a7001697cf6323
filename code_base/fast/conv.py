"""Fast convolution: the plain layer's im2col product, sharded over threads.

The same product as :func:`code_base.layers.conv_forward`, with three changes that pay on
a CPU:

- :func:`code_base.fast.num_threads` threads each take a shard of the images: its columns and its block of
  the product (BLAS is held to one thread meanwhile);
- the bias rides in the product as a last row of ones in the columns,
  ``[W_mat | b] @ [cols; 1] = W_mat @ cols + b``, so the backward product yields db too;
- the columns and the output come from :mod:`code_base.fast.buffers`, which reuses memory
  between training steps.

The ``*_channel_major`` functions work in the channel-major layout (F, N, H_out, W_out) that
the product gives, for kernels that fuse what follows and so avoid a transpose of the largest activation.
"""

from typing import NamedTuple

import numpy as np

from ..geometry import check_conv_bias, conv_geometry
from .columns import col2im_channel_major, im2col
from ..utils.checks import check_array, check_shape
from . import buffers
from .parallel import map_shards
from .settings import num_threads

__all__ = ["FastConvCache", "conv_forward", "conv_backward", "conv_forward_channel_major",
           "conv_backward_channel_major"]


class FastConvCache(NamedTuple):
    """What :func:`conv_backward_channel_major` needs from the forward pass."""
    x_shape: tuple       # (N, C, H, W)
    w_shape: tuple       # (F, C, HH, WW)
    w_mat: np.ndarray    # (F, K) or (F, K + 1) with the bias column, K = C*HH*WW
    cols: np.ndarray     # (K or K + 1, N*H_out*W_out), the last row ones with a bias
    stride: int
    pad: int
    out_hw: tuple        # (H_out, W_out)


def conv_forward_channel_major(x, w, b, conv_param):
    """Convolution, channel-major: x (N, C, H, W), w (F, C, HH, WW), b (F,) or None (no bias).

    Returns out (F, N, H_out, W_out) and a :class:`FastConvCache`.
    """
    threads = num_threads()
    stride, pad, H_out, W_out = conv_geometry("conv_forward", x, w, conv_param)
    N, C, _, _ = x.shape
    F, _, HH, WW = w.shape
    K, P = C * HH * WW, H_out * W_out
    dtype = np.result_type(x, w, *(() if b is None else (b,)))  # the plain rule: dtype of x @ w + b
    x = x.astype(dtype, copy=False)
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

    map_shards(shard, N, threads)
    cache = FastConvCache(x.shape, w.shape, w_mat, cols, stride, pad, (H_out, W_out))
    return out.reshape(F, N, H_out, W_out), cache


def conv_backward_channel_major(dout_fn, cache, compute_dx=True):
    """Backward pass of :func:`conv_forward_channel_major`.

    dout_fn: (F, N, H_out, W_out) -> (dx (N, C, H, W) or None, dw (F, C, HH, WW),
    db (F,) or None when the forward pass had no bias).
    """
    threads = num_threads()
    N, C, H, W = cache.x_shape
    _, _, HH, WW = cache.w_shape
    F, rows = cache.w_mat.shape
    H_out, W_out = cache.out_hw
    K, P = C * HH * WW, H_out * W_out
    check_shape("conv_backward", "upstream gradient (channel-major)", dout_fn, (F, N, H_out, W_out))
    w_mat, cols = cache.w_mat, cache.cols
    d = np.ascontiguousarray(dout_fn, dtype=w_mat.dtype).reshape(F, N * P)
    dx_channel_major = buffers.empty((C, N, H, W), w_mat.dtype) if compute_dx else None

    def shard(s):
        q = slice(s.start * P, s.stop * P)
        dwb = d[:, q] @ cols[:, q].T  # (F, rows): the transposed operand costs no copy in BLAS
        if compute_dx:
            dcols = w_mat[:, :K].T @ d[:, q]  # (K, n*P)
            dx_channel_major[:, s] = col2im_channel_major(dcols, (s.stop - s.start, C, H, W),
                                                          HH, WW, cache.stride, cache.pad)
        return dwb

    dwb = sum(map_shards(shard, N, threads))
    db = dwb[:, K].copy() if rows > K else None
    dx = None if dx_channel_major is None else dx_channel_major.transpose(1, 0, 2, 3)
    return dx, np.ascontiguousarray(dwb[:, :K]).reshape(cache.w_shape), db


def conv_forward(x, w, b, conv_param):
    """:func:`code_base.layers.conv_forward` on threads: out (N, F, H_out, W_out), a cache.

    out is a transposed view of a channel-major (F, N, H_out, W_out) array.
    """
    conv_geometry("conv_forward", x, w, conv_param)
    check_conv_bias("conv_forward", b, w)
    out_fn, cache = conv_forward_channel_major(x, w, b, conv_param)
    return out_fn.transpose(1, 0, 2, 3), cache


def conv_backward(dout, cache, compute_dx=True):
    """:func:`code_base.layers.conv_backward` on threads: (dx or None, dw, db)."""
    check_array("conv_backward", "dout", dout, ndim=4)
    N, F = cache.x_shape[0], cache.w_mat.shape[0]
    check_shape("conv_backward", "dout", dout, (N, F, *cache.out_hw))
    return conv_backward_channel_major(dout.transpose(1, 0, 2, 3), cache, compute_dx)
