"""Fast max pooling for windows that tile the input (e.g. 2x2, stride 2), on threads.

The plain layer (:func:`code_base.layers.max_pool_forward`) keeps x and out, and its backward
pass finds each window's first maximum again by comparing every offset of x with out.  Here the
forward pass records, for each window, the offset of its first maximum in a small integer
(:func:`first_maximum`, which the fused conv-pool kernel shares); the backward pass then only
compares that integer with each offset and writes dout there.  When the windows tile the input
every element of dx is written once, so dx needs no zeroing.
:func:`code_base.fast.num_threads` threads share the batch.
"""

from typing import NamedTuple

import numpy as np

from ..geometry import pool_tiles_shape
from ..utils.checks import check_array, check_shape
from .parallel import map_shards
from .settings import num_threads

__all__ = ["pool_tiles_input", "FastPoolCache", "max_pool_forward", "max_pool_backward",
           "first_maximum"]


def pool_tiles_input(x, pool_param, where="max_pool_forward"):
    """True when the pool's windows tile x (N, C, H, W) exactly: stride = window, no remainder."""
    check_array(where, "x", x, ndim=4)
    return pool_tiles_shape(where, x.shape, pool_param)


class FastPoolCache(NamedTuple):
    x_shape: tuple       # (N, C, H, W)
    first: np.ndarray    # (N, C, H_out, W_out): the offset i * pw + j of each window's first max
    window: tuple        # (ph, pw)
    dtype: np.dtype      # of x


def first_maximum(blocks, best, which):
    """best <- the element-wise maximum of the equal-shaped arrays in blocks, which <- the index
    of the FIRST block holding it; a NaN counts as the maximum (the first NaN), as in the plain
    max_pool_backward.

    Block k holds a new maximum where it beats all blocks before it, so the last such k is the
    first block holding the maximum: which = max over k of k * (block k beats the running max),
    all in contiguous element-wise passes (masked copies were far slower: benchmarks/README.md).
    """
    np.copyto(best, blocks[0])
    which[...] = 0
    beats = np.empty(best.shape, dtype=bool)
    best_is_number = np.empty(best.shape, dtype=bool)
    k_where_beats = np.empty(best.shape, dtype=which.dtype)
    for k in range(1, len(blocks)):
        # Beats: not <= the running maximum (so greater, or NaN), unless that is already NaN.
        np.less_equal(blocks[k], best, out=beats)
        np.logical_not(beats, out=beats)
        np.equal(best, best, out=best_is_number)
        beats &= best_is_number
        np.multiply(beats, which.dtype.type(k), out=k_where_beats)
        np.maximum(which, k_where_beats, out=which)
        np.maximum(best, blocks[k], out=best)


def _offsets(ph, pw):
    return [(i, j) for i in range(ph) for j in range(pw)]


def max_pool_forward(x, pool_param):
    """Max pooling for a tiling pool: out (N, C, H_out, W_out) and a :class:`FastPoolCache`."""
    threads = num_threads()
    if not pool_tiles_input(x, pool_param):
        raise ValueError(f"max_pool_forward: the fast kernel needs windows that tile the input, "
                         f"got {pool_param} for {x.shape}")
    N, C, H, W = x.shape
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    x6 = x.reshape(N, C, H // ph, ph, W // pw, pw)  # a view when x is contiguous
    out = np.empty((N, C, H // ph, W // pw), dtype=x.dtype)
    first = np.empty(out.shape, dtype=np.min_scalar_type(ph * pw - 1))

    def shard(s):
        first_maximum([x6[s, :, :, i, :, j] for i, j in _offsets(ph, pw)], out[s], first[s])

    map_shards(shard, N, threads)
    return out, FastPoolCache(x.shape, first, (ph, pw), x.dtype)


def max_pool_backward(dout, cache):
    """Backward pass of :func:`max_pool_forward`: dx (N, C, H, W), dout at each first maximum."""
    threads = num_threads()
    check_array("max_pool_backward", "dout", dout, ndim=4)
    check_shape("max_pool_backward", "dout", dout, cache.first.shape)
    N, C, H, W = cache.x_shape
    ph, pw = cache.window
    dx = np.empty(cache.x_shape, dtype=np.result_type(cache.dtype, dout))
    d6 = dx.reshape(N, C, H // ph, ph, W // pw, pw)

    def shard(s):
        hit = np.empty(cache.first[s].shape, dtype=bool)
        for k, (i, j) in enumerate(_offsets(ph, pw)):
            np.equal(cache.first[s], k, out=hit)
            np.multiply(dout[s], hit, out=d6[s, :, :, i, :, j])

    map_shards(shard, N, threads)
    return dx
