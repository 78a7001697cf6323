"""Convolution fused with a max pool whose windows tile the image (e.g. 2x2, stride 2).

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

Results equal conv_forward followed by max_pool_forward up to rounding, ties included:
each window's gradient goes to its first maximum in row-major order, the first block.
"""

import numpy as np

from . import buffers
from .conv import check_conv_inputs, col2im_cn, conv_backward_cn, conv_forward_cn, im2col
from .parallel import map_shards
from .pool import max_pool_backward, max_pool_forward, pool_output_shape


def pool_tiles(conv_shape, pool_param, where="conv_max_pool_forward"):
    """True when the pool's windows tile the (N, F, H_out, W_out) conv output exactly."""
    ph, pw, stride, H_pool, W_pool = pool_output_shape(conv_shape, pool_param, where)
    H_out, W_out = conv_shape[2:]
    return stride == ph == pw and H_out == ph * H_pool and W_out == pw * W_pool


def super_kernel(w, S, ph, pw):
    """(ph*pw*F, C*Hs*Ws): row ((di, dj), f) is filter f placed at offset (S*di, S*dj)."""
    F, C, HH, WW = w.shape
    Hs, Ws = HH + S * (ph - 1), WW + S * (pw - 1)
    w_sup = np.zeros((ph, pw, F, C, Hs, Ws), dtype=w.dtype)
    for di in range(ph):
        for dj in range(pw):
            w_sup[di, dj, :, :, S * di : S * di + HH, S * dj : S * dj + WW] = w
    return w_sup.reshape(ph * pw * F, C * Hs * Ws)


def conv_max_pool_forward_cn(x, w, conv_param, pool_param, num_threads=1):
    """Bias-free convolution then max pool, channel-major.

    x: (N, C, H, W), w: (F, C, HH, WW) -> pooled (F, N, H_pool, W_pool) and a cache for
    :func:`conv_max_pool_backward_cn`.  Pools that tile the conv output take the fused
    path above, each of ``num_threads`` threads on a shard of the batch; any other pool
    runs the plain conv and pool layers (same results).  Besides the shifted columns, the
    cache keeps one byte per window, the block of its first maximum, not the conv output.
    """
    where = "conv_max_pool_forward"
    S, pad, H_out, W_out = check_conv_inputs(where, x, w, conv_param)
    N, C, _, _ = x.shape
    F, _, HH, WW = w.shape
    if not pool_tiles((N, F, H_out, W_out), pool_param, where):
        conv_cn, conv_cache = conv_forward_cn(x, w, None, conv_param, num_threads)
        pooled, pool_cache = max_pool_forward(conv_cn, pool_param)  # (F, N, H_pool, W_pool)
        return pooled, ("layers", conv_cache, pool_cache)
    ph = pw = pool_param["stride"]
    blocks = ph * pw
    Hs, Ws = HH + S * (ph - 1), WW + S * (pw - 1)
    H_pool, W_pool = H_out // ph, W_out // pw
    L1 = H_pool * W_pool  # pooled values per image and channel
    dtype = np.result_type(x, w)
    x = x.astype(dtype, copy=False)
    w_sup = super_kernel(w.astype(dtype, copy=False), S, ph, pw)  # (blocks*F, C*Hs*Ws)
    pooled = buffers.empty((F, N, L1), dtype)
    argmax = np.empty((F, N, L1), dtype=np.uint8)  # block of each window's first maximum

    def shard(s):
        n = s.stop - s.start
        xs = im2col(x[s], Hs, Ws, S * ph, pad,
                    out=buffers.empty((C * Hs * Ws, n * L1), dtype))  # (C*Hs*Ws, n*L1)
        conv = buffers.empty((blocks * F, n * L1), dtype)
        np.matmul(w_sup, xs, out=conv)
        _pool_blocks(conv.reshape(blocks, F, n * L1), pooled[:, s], argmax[:, s])
        return s, xs

    shards = map_shards(shard, N, num_threads)
    cache = ("fused", x.shape, w.shape, w_sup, shards, argmax, S, pad, (ph, pw))
    return pooled.reshape(F, N, H_pool, W_pool), cache


def _pool_blocks(conv, pooled, argmax):
    """Maximum over the blocks of conv (blocks, F, L) into pooled (F, n, L1), and its block.

    pooled and argmax are (F, n, L1) slices with n*L1 = L.  Block k holds a new maximum
    where it is strictly greater than all blocks before it, so the last such k is the
    FIRST block holding the maximum: argmax = max over k of k * (conv_k > running max).
    (Masked copies, ``np.copyto(..., where=)``, ran ten times slower than this.)
    """
    blocks, F, L = conv.shape
    best = pooled.reshape(F, L)  # a view: in pooled[:, s], n and L1 are adjacent
    which = argmax.reshape(F, L)
    np.copyto(best, conv[0])
    which[...] = 0
    higher = np.empty((F, L), dtype=bool)
    k_where_higher = np.empty((F, L), dtype=np.uint8)
    for k in range(1, blocks):
        np.greater(conv[k], best, out=higher)
        np.multiply(higher, np.uint8(k), out=k_where_higher)
        np.maximum(which, k_where_higher, out=which)
        np.maximum(best, conv[k], out=best)


def conv_max_pool_backward_cn(dpooled, cache, compute_dx=True, num_threads=1):
    """Backward pass of :func:`conv_max_pool_forward_cn`.

    dpooled: (F, N, H_pool, W_pool) -> (dx (N, C, H, W) or None, dw (F, C, HH, WW)).
    Each window's gradient goes to its first maximum.
    """
    if cache[0] == "layers":
        _, conv_cache, pool_cache = cache
        dconv = max_pool_backward(dpooled, pool_cache)  # (F, N, H_out, W_out)
        return conv_backward_cn(dconv, conv_cache, compute_dx, num_threads)[:2]
    _, x_shape, w_shape, w_sup, shards, argmax, S, pad, (ph, pw) = cache
    F, N, L1 = argmax.shape
    if dpooled.shape[:2] != (F, N) or dpooled[0, 0].size != L1:
        raise ValueError(f"conv_max_pool_backward: upstream gradient has shape {dpooled.shape}, "
                         f"expected ({F}, {N}) x {L1} values")
    dpooled = dpooled.reshape(F, N, L1)
    blocks = ph * pw
    _, _, HH, WW = w_shape
    Hs, Ws = HH + S * (ph - 1), WW + S * (pw - 1)
    dtype = w_sup.dtype
    dx_cn = np.empty((x_shape[1], N, *x_shape[2:]), dtype=dtype) if compute_dx else None

    def shard(part):  # the forward pass's shards, with their columns
        dw_sup = np.zeros(w_sup.shape, dtype=dtype)
        for s, xs in shards[part]:
            n = s.stop - s.start
            which = argmax[:, s].reshape(F, n * L1)
            d = dpooled[:, s].reshape(F, n * L1)
            dconv = buffers.empty((blocks, F, n * L1), dtype)
            hit = np.empty((F, n * L1), dtype=bool)
            for k in range(blocks):  # the gradient goes to the block of the first maximum
                np.equal(which, k, out=hit)
                np.multiply(d, hit, out=dconv[k])
            dconv = dconv.reshape(blocks * F, n * L1)
            dw_sup += dconv @ xs.T  # the transposed operand costs no copy in BLAS
            if compute_dx:
                dx_cn[:, s] = col2im_cn(w_sup.T @ dconv, (n, *x_shape[1:]), Hs, Ws,
                                         S * ph, pad)  # adjoint of the im2col above
        return dw_sup

    dw_sup = sum(map_shards(shard, len(shards), num_threads))
    dx = None if dx_cn is None else dx_cn.transpose(1, 0, 2, 3)
    return dx, _fold_super_kernel(dw_sup, w_shape, S, ph, pw)


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
