"""Convolution fused with a max pool whose windows tile the image (e.g. 2x2, stride 2).

With im2col in the usual column order (n, h, w), the convolution's output is an image
and the pool must gather each window's values from strided positions: NumPy runs
such strided element-wise loops many times slower than contiguous ones.  This module
orders the columns by the position INSIDE the pooling window first:

    column (di, dj, n, h2, w2)  is the receptive field of output pixel
                                (h, w) = (ph * h2 + di, pw * w2 + dj) of image n

so the product ``W_mat @ cols`` comes out as (F, ph*pw, N*H_pool*W_pool): block k holds
offset (di, dj) = divmod(k, pw) of every window, and the pool is ph*pw - 1 element-wise
maxima of contiguous blocks.  Only the column order changes, so results equal
conv_forward followed by max_pool_forward exactly, ties included: each window's gradient
goes to its first maximum in row-major order, which is the first block holding it.
"""

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import buffers
from .conv import check_conv_inputs, col2im, conv_backward_cn, conv_forward_cn, pad_channel_major
from .parallel import map_shards
from .pool import max_pool_backward, max_pool_forward, pool_output_shape


def pool_tiles(conv_shape, pool_param, where="conv_max_pool_forward"):
    """True when the pool's windows tile the (N, F, H_out, W_out) conv output exactly."""
    ph, pw, stride, H_pool, W_pool = pool_output_shape(conv_shape, pool_param, where)
    H_out, W_out = conv_shape[2:]
    return stride == ph == pw and H_out == ph * H_pool and W_out == pw * W_pool


def im2col_pool_order(x, HH, WW, stride, pad, ph, pw):
    """im2col with columns ordered (di, dj, n, h2, w2) for a tiling ph x pw pool.

    x: (N, C, H, W) -> cols: (C*HH*WW, ph*pw * N*H_pool*W_pool), rows ordered (c, i, j)
    like ``w.reshape(F, -1)``.  Column (di, dj, n, h2, w2) is the receptive field of
    output pixel (ph*h2 + di, pw*w2 + dj), i.e. padded input rows
    stride*(ph*h2 + di) + i and columns stride*(pw*w2 + dj) + j.
    """
    N, C, H, W = x.shape
    H_pool = (1 + (H + pad - HH) // stride) // ph
    W_pool = (1 + (W + pad - WW) // stride) // pw
    xp = pad_channel_major(x, pad)  # (C, N, H + pad, W + pad)
    cs, ns, rs, es = xp.strides
    # A read-only view whose axes are exactly the column index; the copy below is im2col.
    windows = as_strided(xp, shape=(C, HH, WW, ph, pw, N, H_pool, W_pool),
                         strides=(cs, rs, es, stride * rs, stride * es, ns,
                                  ph * stride * rs, pw * stride * es), writeable=False)
    cols = buffers.empty(windows.shape, x.dtype)
    cols[...] = windows
    return cols.reshape(C * HH * WW, ph * pw * N * H_pool * W_pool)


def conv_max_pool_forward_cn(x, w, conv_param, pool_param, num_threads=1):
    """Bias-free convolution then max pool, channel-major.

    x: (N, C, H, W), w: (F, C, HH, WW) -> pooled (F, N, H_pool, W_pool) and a cache for
    :func:`conv_max_pool_backward_cn`.  Pools that tile the conv output take the fused
    path above, each of ``num_threads`` threads on a shard of the batch; any other pool
    runs the plain conv and pool layers (same results).  Besides the columns, the cache
    keeps one byte per window, the block of its first maximum, rather than the conv output.
    """
    where = "conv_max_pool_forward"
    stride, pad, H_out, W_out = check_conv_inputs(where, x, w, conv_param)
    N, C, _, _ = x.shape
    F, _, HH, WW = w.shape
    if not pool_tiles((N, F, H_out, W_out), pool_param, where):
        conv_cn, conv_cache = conv_forward_cn(x, w, None, conv_param, num_threads)
        pooled, pool_cache = max_pool_forward(conv_cn, pool_param)  # (F, N, H_pool, W_pool)
        return pooled, ("layers", conv_cache, pool_cache)
    ph = pw = pool_param["stride"]
    blocks = ph * pw
    H_pool, W_pool = H_out // ph, W_out // pw
    L1 = H_pool * W_pool  # pooled values per image and channel
    dtype = np.result_type(x, w)
    x = x.astype(dtype, copy=False)
    w_mat = w.reshape(F, C * HH * WW).astype(dtype, copy=False)
    pooled = buffers.empty((F, N, L1), dtype)
    argmax = np.empty((F, N, L1), dtype=np.uint8)  # block of each window's first maximum

    def shard(s):
        n = s.stop - s.start
        cols = im2col_pool_order(x[s], HH, WW, stride, pad, ph, pw)  # (K, blocks*n*L1)
        conv = buffers.empty((F, blocks * n * L1), dtype)
        np.matmul(w_mat, cols, out=conv)
        conv = conv.reshape(F, blocks, n * L1)  # block k = window offset k
        _pool_blocks(conv, pooled[:, s], argmax[:, s])
        return s, cols

    shards = map_shards(shard, N, num_threads)
    cache = ("fused", x.shape, w.shape, w_mat, shards, argmax, stride, pad, (ph, pw))
    return pooled.reshape(F, N, H_pool, W_pool), cache


def _pool_blocks(conv, pooled, argmax):
    """Maximum over the blocks of conv (F, blocks, L) into pooled (F, n, L1), and its block.

    pooled and argmax are (F, n, L1) slices with n*L1 = L.  Block k holds a new maximum
    where it is strictly greater than all blocks before it, so the last such k is the
    FIRST block holding the maximum: argmax = max over k of k * (conv_k > running max).
    (Masked copies, ``np.copyto(..., where=)``, ran ten times slower than this.)
    """
    F, blocks, L = conv.shape
    best = pooled.reshape(F, L)  # a view: in pooled[:, c], n and L1 are adjacent
    which = argmax.reshape(F, L)
    np.copyto(best, conv[:, 0])
    which[...] = 0
    higher = np.empty((F, L), dtype=bool)
    k_where_higher = np.empty((F, L), dtype=np.uint8)
    for k in range(1, blocks):
        np.greater(conv[:, k], best, out=higher)
        np.multiply(higher, np.uint8(k), out=k_where_higher)
        np.maximum(which, k_where_higher, out=which)
        np.maximum(best, conv[:, k], out=best)


def conv_max_pool_backward_cn(dpooled, cache, compute_dx=True, num_threads=1):
    """Backward pass of :func:`conv_max_pool_forward_cn`.

    dpooled: (F, N, H_pool, W_pool) -> (dx (N, C, H, W) or None, dw (F, C, HH, WW)).
    Each window's gradient goes to its first maximum.
    """
    if cache[0] == "layers":
        _, conv_cache, pool_cache = cache
        dconv = max_pool_backward(dpooled, pool_cache)  # (F, N, H_out, W_out)
        return conv_backward_cn(dconv, conv_cache, compute_dx, num_threads)[:2]
    _, x_shape, w_shape, w_mat, shards, argmax, stride, pad, (ph, pw) = cache
    F, N, L1 = argmax.shape
    if dpooled.shape[:2] != (F, N) or dpooled[0, 0].size != L1:
        raise ValueError(f"conv_max_pool_backward: upstream gradient has shape {dpooled.shape}, "
                         f"expected ({F}, {N}) x {L1} values")
    dpooled = dpooled.reshape(F, N, L1)
    blocks = ph * pw
    dx_cn = np.empty((x_shape[1], N, *x_shape[2:]), dtype=w_mat.dtype) if compute_dx else None

    def shard(part):  # the forward pass's shards, with their columns
        dw = np.zeros(w_mat.shape, dtype=w_mat.dtype)
        for s, cols in shards[part]:
            n = s.stop - s.start
            which = argmax[:, s].reshape(F, n * L1)
            d = dpooled[:, s].reshape(F, n * L1)
            dconv = buffers.empty((F, blocks, n * L1), w_mat.dtype)
            hit = np.empty((F, n * L1), dtype=bool)
            for k in range(blocks):  # the gradient goes to the block of the first maximum
                np.equal(which, k, out=hit)
                np.multiply(d, hit, out=dconv[:, k])
            dconv = dconv.reshape(F, blocks * n * L1)
            dw += dconv @ cols.T  # the transposed operand costs no copy in BLAS
            if compute_dx:
                dx_cn[:, s] = col2im_pool_order(w_mat.T @ dconv, (n, *x_shape[1:]), w_shape,
                                                stride, pad, ph, pw).transpose(1, 0, 2, 3)
        return dw

    dw = sum(map_shards(shard, len(shards), num_threads))
    dx = None if dx_cn is None else dx_cn.transpose(1, 0, 2, 3)
    return dx, dw.reshape(w_shape)


def col2im_pool_order(dcols, x_shape, w_shape, stride, pad, ph, pw):
    """Adjoint of :func:`im2col_pool_order`: back to the usual column order, then col2im.

    dcols: (C*HH*WW, ph*pw * N*H_pool*W_pool) -> dx: (N, C, H, W).
    """
    N, C, H, W = x_shape
    _, _, HH, WW = w_shape
    K = dcols.shape[0]
    H_pool = (1 + (H + pad - HH) // stride) // ph
    W_pool = (1 + (W + pad - WW) // stride) // pw
    d = dcols.reshape(K, ph, pw, N, H_pool, W_pool).transpose(0, 3, 4, 1, 5, 2)  # (K, N, h2, di, w2, dj)
    return col2im(d.reshape(K, N * H_pool * ph * W_pool * pw), x_shape, HH, WW, stride, pad)
