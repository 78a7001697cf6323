"""Fast in-place Adam: the update block by block, in cache, blocks shared among threads.

:func:`code_base.optim.adam` with ``inplace`` writes the textbook formula's result over w, m
and v.  A whole-array formula streams every temporary through memory; on blocks small enough
to stay in cache, all twelve element-wise passes run on data already there.  The update uses
the algebraically equal form

    step = lr * sqrt(1 - beta2**t) / (1 - beta1**t) * m / (sqrt(v) + eps * sqrt(1 - beta2**t))

so it equals the formula up to rounding, and every element sees the same operations whatever
the number of threads (the results do not depend on it).
"""

import math

import numpy as np

from .parallel import parallel_map, split
from .settings import num_threads

__all__ = ["adam_update", "adam_inplace"]

# Elements per block.  Smaller blocks would stay in a smaller cache, but every block costs a
# dozen ufunc calls, each taking the GIL: with too many blocks two threads queue for it and run
# slower than one (benchmarks/README.md has the measurement).
_ADAM_BLOCK = 1 << 17


def adam_inplace(w, dw, cfg):
    """optim.adam's in-place step, cfg already checked and its t already counted: (w, cfg)."""
    adam_update(w, dw, cfg["m"], cfg["v"], cfg["learning_rate"], cfg["beta1"], cfg["beta2"],
                cfg["epsilon"], cfg["t"])
    return w, cfg


def adam_update(w, dw, m, v, learning_rate, beta1, beta2, epsilon, t):
    """Adam's step t on w, m, v in place (all shaped like w, dw cast to w's dtype)."""
    threads = num_threads()
    correction = math.sqrt(1 - beta2 ** t)
    step_size = learning_rate * correction / (1 - beta1 ** t)
    eps_hat = epsilon * correction
    arrays = (w, dw, m, v)
    if not all(a.flags.c_contiguous for a in arrays):
        # Blocks need flat views, which strided arrays lack: update them whole, in place.
        _adam_block(*arrays, np.empty_like(w), beta1, beta2, step_size, eps_hat)
        return
    flat = [a.reshape(-1) for a in arrays]
    starts = range(0, w.size, _ADAM_BLOCK)

    def run(part):  # a contiguous run of blocks
        scratch = np.empty(min(_ADAM_BLOCK, w.size), dtype=w.dtype)
        for i in starts[part]:
            block = [a[i : i + _ADAM_BLOCK] for a in flat]
            _adam_block(*block, scratch[: block[0].size], beta1, beta2, step_size, eps_hat)

    parallel_map(run, split(len(starts), threads), threads)


def _adam_block(w, g, m, v, buf, beta1, beta2, step_size, eps_hat):
    m *= beta1
    np.multiply(g, 1 - beta1, out=buf)
    m += buf
    v *= beta2
    np.multiply(g, g, out=buf)
    buf *= 1 - beta2
    v += buf
    np.sqrt(v, out=buf)
    buf += eps_hat
    np.divide(m, buf, out=buf)
    buf *= step_size
    w -= buf
