"""conv -> ReLU -> max pool fused, for pools whose windows tile the image (e.g. 2x2, stride 2).

The pool needs, for each window, its ph*pw conv outputs side by side; with the usual
layout they sit at strided positions, and NumPy runs strided element-wise loops several
times slower than contiguous ones.  So compute the convolution one window offset at a
time.  For output pixel (h, w) = (ph*h2 + di, pw*w2 + dj) with conv stride S, kernel tap
(i, j) reads padded input row S*ph*h2 + (S*di + i) and column S*pw*w2 + (S*dj + j).  With

    s = S*di + i  in [0, Hs),  Hs = HH + S*(ph - 1)       (likewise t, Ws)
    xs[c, s, t, n, h2, w2] = xp[c, n, S*ph*h2 + s, S*pw*w2 + t]

every offset reads the SAME columns xs, which are plain im2col columns for an Hs x Ws
kernel at stride S*ph (the pool tiles, so ph = pw), through a "super-kernel" of size
Hs x Ws that holds w shifted by (S*di, S*dj) and zeros elsewhere:

    conv[(di, dj), f, (n, h2, w2)] = sum_{c,s,t} w_sup[(di, dj), f, (c, s, t)] * xs[(c, s, t), (n, h2, w2)]

one matrix product of (ph*pw*F, C*Hs*Ws) by (C*Hs*Ws, N*H_pool*W_pool).  The output comes
out as ph*pw contiguous blocks, one per window offset, and the pool is ph*pw - 1
element-wise maxima.  For the model's 7x7 filters and 2x2 pool the columns are a third
of im2col's (Hs*Ws = 64 rows per channel instead of 4*49) for 31 % more (zero) products,
and the product has 4F rows, which BLAS runs more efficiently than F.

The bias and the ReLU come after the pool, where they touch a quarter of the values: a max
over a window commutes with adding the channel's bias and with the ReLU, both being
non-decreasing, and the first maximum of each window is unchanged.  Results equal
conv -> ReLU -> max pool through the plain layers up to rounding, ties included: each
window's gradient goes to its first maximum in row-major order, the first block.
"""

from typing import NamedTuple

import numpy as np

from ..geometry import check_conv_bias, conv_geometry, pool_tiles_shape
from .columns import col2im_channel_major, im2col
from ..utils.checks import check_array, check_shape
from . import buffers
from .parallel import map_shards
from .pool import first_maximum
from .settings import num_threads

__all__ = ["pool_tiles", "super_kernel", "FusedConvReluPoolCache", "conv_relu_pool_forward",
           "conv_relu_pool_backward"]


def pool_tiles(x, w, conv_param, pool_param, where="conv_relu_pool_forward"):
    """True when the pool's windows tile the convolution's output exactly (checks all four)."""
    _, _, H_out, W_out = conv_geometry(where, x, w, conv_param)
    return pool_tiles_shape(where, (x.shape[0], w.shape[0], H_out, W_out), pool_param)


def super_kernel(w, S, ph, pw):
    """(ph*pw*F, C*Hs*Ws): row ((di, dj), f) is filter f placed at offset (S*di, S*dj)."""
    F, C, HH, WW = w.shape
    Hs, Ws = HH + S * (ph - 1), WW + S * (pw - 1)
    w_sup = np.zeros((ph, pw, F, C, Hs, Ws), dtype=w.dtype)
    for di in range(ph):
        for dj in range(pw):
            w_sup[di, dj, :, :, S * di : S * di + HH, S * dj : S * dj + WW] = w
    return w_sup.reshape(ph * pw * F, C * Hs * Ws)


class FusedConvReluPoolCache(NamedTuple):
    """What :func:`conv_relu_pool_backward` needs: the columns, not the conv output."""
    x_shape: tuple          # (N, C, H, W)
    w_shape: tuple          # (F, C, HH, WW)
    w_sup: np.ndarray       # the super-kernel, (ph*pw*F, C*Hs*Ws)
    shards: list            # [(slice of the batch, its shifted columns)]
    argmax: np.ndarray      # (F, N, H_pool*W_pool): the block of each window's first maximum
    pre_relu: np.ndarray    # (F, N, H_pool, W_pool): pooled + bias, before the ReLU
    stride: int
    pad: int
    pool: int               # ph = pw = the pool's stride


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    """conv -> ReLU -> max pool for a pool that tiles: out (N, F, H_pool, W_pool) and a cache.

    :func:`code_base.fast.num_threads` threads each take a shard of the batch.  out is a
    transposed view of a channel-major array.
    """
    where = "conv_relu_pool_forward"
    threads = num_threads()
    S, pad, H_out, W_out = conv_geometry(where, x, w, conv_param)
    N, C, _, _ = x.shape
    F, _, HH, WW = w.shape
    if not pool_tiles_shape(where, (N, F, H_out, W_out), pool_param):
        raise ValueError(f"{where}: the fused kernel needs a pool that tiles the conv output "
                         f"(pool_height == pool_width == stride), got {pool_param}")
    check_conv_bias(where, b, w)
    ph = pw = pool_param["stride"]
    blocks = ph * pw
    Hs, Ws = HH + S * (ph - 1), WW + S * (pw - 1)
    H_pool, W_pool = H_out // ph, W_out // pw
    P = H_pool * W_pool  # pooled values per image and channel
    dtype = np.result_type(x, w, b)  # the plain layer's rule: out has the dtype of x @ w + b
    x = x.astype(dtype, copy=False)
    w_sup = super_kernel(w.astype(dtype, copy=False), S, ph, pw)  # (blocks*F, C*Hs*Ws)
    pre_relu = np.empty((F, N, P), dtype)  # the pooled maxima plus the bias
    out = np.empty((F, N, P), dtype)
    argmax = np.empty((F, N, P), dtype=np.min_scalar_type(blocks - 1))
    bias = b.astype(dtype, copy=False)[:, None, None]

    def shard(s):
        n = s.stop - s.start
        xs = im2col(x[s], Hs, Ws, S * ph, pad,
                    out=buffers.empty((C * Hs * Ws, n * P), dtype))  # (C*Hs*Ws, n*P)
        conv = buffers.empty((blocks * F, n * P), dtype)
        np.matmul(w_sup, xs, out=conv)
        # The maximum over the blocks and its first block, into views of (F, n*P): in
        # pre_relu[:, s] and argmax[:, s], n and P are adjacent.
        first_maximum(conv.reshape(blocks, F, n * P), pre_relu[:, s].reshape(F, n * P),
                      argmax[:, s].reshape(F, n * P))
        pre_relu[:, s] += bias
        np.maximum(pre_relu[:, s], 0, out=out[:, s])  # the ReLU
        return s, xs

    shards = map_shards(shard, N, threads)
    pre_relu = pre_relu.reshape(F, N, H_pool, W_pool)
    cache = FusedConvReluPoolCache(x.shape, w.shape, w_sup, shards, argmax, pre_relu, S, pad, ph)
    return out.reshape(F, N, H_pool, W_pool).transpose(1, 0, 2, 3), cache


def conv_relu_pool_backward(dout, cache, compute_dx=True):
    """Backward pass of :func:`conv_relu_pool_forward`: (dx (N, C, H, W) or None, dw, db).

    dout: (N, F, H_pool, W_pool).  Each window's gradient goes to its first maximum.
    ``compute_dx=False`` skips the input gradient (a first layer, whose input is the data).
    """
    where = "conv_relu_pool_backward"
    threads = num_threads()
    check_array(where, "dout", dout, ndim=4)
    F, N, H_pool, W_pool = cache.pre_relu.shape
    check_shape(where, "dout", dout, (N, F, H_pool, W_pool))
    S, pad, ph = cache.stride, cache.pad, cache.pool
    blocks = ph * ph
    _, C, H, W = cache.x_shape
    _, _, HH, WW = cache.w_shape
    Hs, Ws = HH + S * (ph - 1), WW + S * (ph - 1)
    w_sup, argmax, dtype = cache.w_sup, cache.argmax, cache.w_sup.dtype
    P = argmax.shape[2]
    dx_channel_major = np.empty((C, N, H, W), dtype=dtype) if compute_dx else None

    def shard(part):  # the forward pass's shards, with their columns
        dw_sup_t = np.zeros(w_sup.shape[::-1], dtype=dtype)  # (C*Hs*Ws, blocks*F)
        db = np.zeros(F, dtype=np.result_type(dtype, dout))
        for s, xs in cache.shards[part]:
            n = s.stop - s.start
            which = argmax[:, s].reshape(F, n * P)
            d = dout[s].transpose(1, 0, 2, 3) * (cache.pre_relu[:, s] > 0)  # (F, n, H_p, W_p)
            db += d.sum(axis=(1, 2, 3))
            d = d.reshape(F, n * P)
            dconv = buffers.empty((blocks, F, n * P), dtype)
            hit = np.empty((F, n * P), dtype=bool)
            for k in range(blocks):  # the gradient goes to the block of the first maximum
                np.equal(which, k, out=hit)
                np.multiply(d, hit, out=dconv[k])
            dconv = dconv.reshape(blocks * F, n * P)
            # dw_sup = dconv @ xs.T, computed transposed: BLAS runs this shape faster.
            dw_sup_t += xs @ dconv.T
            if compute_dx:
                dx_channel_major[:, s] = col2im_channel_major(w_sup.T @ dconv, (n, C, H, W), Hs, Ws,
                                        S * ph, pad)  # adjoint of the im2col above
        return dw_sup_t, db

    parts = map_shards(shard, len(cache.shards), threads)
    dw_sup = sum(part[0] for part in parts).T
    db = sum(part[1] for part in parts)
    dx = None if dx_channel_major is None else dx_channel_major.transpose(1, 0, 2, 3)
    return dx, _fold_super_kernel(dw_sup, cache.w_shape, S, ph, ph), db


def _fold_super_kernel(dw_sup, w_shape, S, ph, pw):
    """Adjoint of :func:`super_kernel`: add each offset's window back onto (F, C, HH, WW)."""
    F, C, HH, WW = w_shape
    Hs, Ws = HH + S * (ph - 1), WW + S * (pw - 1)
    d = dw_sup.reshape(ph, pw, F, C, Hs, Ws)
    dw = np.zeros(w_shape, dtype=dw_sup.dtype)
    for di in range(ph):
        for dj in range(pw):
            dw += d[di, dj, :, :, S * di : S * di + HH, S * dj : S * dj + WW]
    return dw
