"""Numerical gradients by centred differences, to check analytic backward passes."""

import numpy as np


def rel_error(x, y):
    """Largest element-wise relative error max |x - y| / max(1e-8, |x| + |y|).

    The assignment's measure.  0.0 for empty arrays; NaN when any value is NaN.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"rel_error: shapes differ, {x.shape} vs {y.shape}")
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def eval_numerical_gradient(f, x, verbose=False, h=1e-5):
    """Gradient of a scalar function ``f(x)`` at ``x`` by centred differences.

    ``x`` is perturbed in place one element at a time and restored afterwards, so f may
    read it through a closure (e.g. a model parameter).  Returns an array like x.
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        fxph = f(x)
        x[ix] = old - h
        fxmh = f(x)
        x[ix] = old
        grad[ix] = (fxph - fxmh) / (2 * h)
        if verbose:
            print(ix, grad[ix])
        it.iternext()
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Gradient of ``sum(f(x) * df)`` at ``x``: the backward pass of an array function f.

    ``df`` is the upstream gradient, shaped like f(x).  x is perturbed in place and restored.
    Subtracting the two outputs before weighting by df, rather than differencing two sums,
    avoids cancellation: it is what keeps layer checks near 1e-10 instead of 1e-7.
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        pos = f(x).copy()
        x[ix] = old - h
        neg = f(x).copy()
        x[ix] = old
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad
