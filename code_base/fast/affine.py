"""Fast affine -> ReLU: the products split over threads by blocks of the weight matrix.

The same computation as :func:`code_base.layer_utils.affine_relu_forward`.  Each thread
reads only its block of w, which matters when w is the network's largest array: w is split
into row blocks (input features); forward, each thread multiplies its columns of x by its
rows of w and the partial products are added; backward, each thread writes its rows of dw
and its columns of dx.  BLAS is held to one thread meanwhile.
"""

from typing import NamedTuple

import numpy as np

from ..geometry import check_affine
from ..utils.checks import check_array, check_shape
from . import buffers
from .parallel import parallel_map, single_threaded_blas, split
from .settings import num_threads

__all__ = ["FastAffineReluCache", "affine_relu_forward", "affine_relu_backward"]


class FastAffineReluCache(NamedTuple):
    x_shape: tuple     # (N, d_1, ..., d_k)
    x2: np.ndarray     # (N, D), the input flattened into a contiguous buffer
    w: np.ndarray      # (D, M)
    active: np.ndarray  # (N, M) bool: where the ReLU passed its input


def affine_relu_forward(x, w, b):
    """affine -> ReLU: x (N, d_1, ..., d_k), w (D, M), b (M,) -> out (N, M) and a cache."""
    threads = num_threads()
    N, D, M = check_affine("affine_relu_forward", x, w, b)
    dtype = np.result_type(x, w)
    x2 = buffers.empty((N, D), dtype)
    x2.reshape(x.shape)[...] = x  # one copy, whatever the layout of x
    with single_threaded_blas():  # sum over row blocks of w: (N, d) @ (d, M) each
        partial = parallel_map(lambda f: x2[:, f] @ w[f], split(D, threads), threads)
    out = partial[0]
    for other in partial[1:]:
        out += other
    out += b
    np.maximum(out, 0, out=out)
    return out, FastAffineReluCache(x.shape, x2, w, out > 0)


def affine_relu_backward(dout, cache):
    """Backward pass of :func:`affine_relu_forward`: (dx (N, d_1, ..., d_k), dw (D, M), db (M,))."""
    threads = num_threads()
    check_array("affine_relu_backward", "dout", dout, ndim=2)
    check_shape("affine_relu_backward", "dout", dout, cache.active.shape)
    x2, w = cache.x2, cache.w
    N, D = x2.shape
    da = dout * cache.active  # (N, M): the gradient through the ReLU
    db = da.sum(axis=0)
    dw = buffers.empty(w.shape, np.result_type(x2, da))
    dx2 = buffers.empty((N, D), np.result_type(da, w))

    def rows(f):  # a block of input features
        np.matmul(x2[:, f].T, da, out=dw[f])  # (d, N) @ (N, M)
        np.matmul(da, w[f].T, out=dx2[:, f])  # (N, M) @ (M, d)

    with single_threaded_blas():
        parallel_map(rows, split(D, threads), threads)
    return dx2.reshape(cache.x_shape), dw, db
