"""Fast L2 regularisation: the loss term and the gradient term in one pass over w, on threads.

The model's L2 loop adds ``0.5 * reg * sum(w**2)`` to the loss and ``reg * w`` to the gradient.
Written as array expressions that reads w twice and makes a temporary as large as w, the
network's largest weight matrix; here both terms are computed block by block while the block is
in cache, the blocks shared among threads.
"""

import numpy as np

from .parallel import parallel_map, single_threaded_blas, split
from .settings import num_threads as resolve_threads

__all__ = ["add_l2"]

_BLOCK = 1 << 16  # elements: a block of w, of the gradient and the scratch stay in cache


def add_l2(grad, w, reg, num_threads=None):
    """``grad += reg * w`` in place; returns ``0.5 * reg * sum(w**2)`` as a Python float."""
    threads = resolve_threads(num_threads, "add_l2")
    if grad.shape != w.shape:
        raise ValueError(f"add_l2: grad has shape {grad.shape} but w has shape {w.shape}")
    if not (grad.flags.c_contiguous and w.flags.c_contiguous):
        # Blocks need flat views, which strided arrays lack: compute the terms whole.
        grad += reg * w
        return 0.5 * reg * float(np.vdot(w, w))
    flat_g, flat_w = grad.reshape(-1), w.reshape(-1)
    starts = range(0, w.size, _BLOCK)

    def run(part):  # a contiguous run of blocks
        scratch = np.empty(min(_BLOCK, w.size), dtype=grad.dtype)
        squares = 0.0
        for i in starts[part]:
            wb, gb = flat_w[i : i + _BLOCK], flat_g[i : i + _BLOCK]
            buf = scratch[: wb.size]
            np.multiply(wb, reg, out=buf)
            gb += buf
            squares += float(np.vdot(wb, wb))
        return squares

    with single_threaded_blas():
        return 0.5 * reg * sum(parallel_map(run, split(len(starts), threads), threads))
