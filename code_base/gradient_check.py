"""Numerical gradients by centred differences, to check analytic backward passes."""

import numpy as np

from .vis_utils import Table


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


def kink_margins(pre_activation, pool_param=None):
    """How far a numerical check stays from the kinks of ReLU and max pooling.

    Inputs: pre_activation (N, F, H, W) or (N, D), the values a ReLU receives; pool_param
    (pool_height, pool_width, stride) of the max pool after that ReLU, if any.
    Returns {"relu": smallest |a|} and, with pooling, "pool gap": the smallest difference between
    a window's two largest values after the ReLU (windows that are all zero route no gradient).
    A step that moves no value by more than half of both margins crosses no kink.
    """
    a = np.asarray(pre_activation, dtype=np.float64)
    margins = {"relu": float(np.abs(a).min())}
    if pool_param is None:
        return margins
    kh, kw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    r = np.maximum(a, 0)
    N, F, H, W = r.shape
    Hp, Wp = 1 + (H - kh) // s, 1 + (W - kw) // s
    windows = np.stack([r[:, :, i:i + s * Hp:s, j:j + s * Wp:s]
                        for i in range(kh) for j in range(kw)])  # (kh*kw, N, F, H', W')
    top2 = np.sort(windows, axis=0)[-2:]  # (2, N, F, H', W'): second largest, largest
    routed = top2[1] > 0
    margins["pool gap"] = float((top2[1] - top2[0])[routed].min()) if routed.any() else np.inf
    return margins


def error_table(rows, bound):
    """A check table that asserts: every error in `rows` is below `bound`.

    rows: list of (case, {column: relative error}).  Raises AssertionError naming the case and
    column of any error >= bound (or NaN).  Returns a :class:`code_base.vis_utils.Table` showing
    each error as "< bound": the measured values depend on how the machine's BLAS rounds, the
    verdict does not, so the table a notebook commits is the same on every machine.
    """
    columns = list(rows[0][1])
    for case, errors in rows:
        for name, err in errors.items():
            assert err < bound, f"{case}: {name} relative error {err:.2e} is not below {bound:.0e}"
    shown = f"< {bound:.0e}".replace("e-0", "e-")
    return Table(["case"] + [f"{name} error" for name in columns],
                 [[case] + [shown] * len(columns) for case, _ in rows])
