"""Hints: which known mistake explains a wrong answer.

``hint_for_call(function, inputs, got, expected, params, variants)`` takes one of the six graded
calls (:mod:`.calls`): its inputs and outputs named as the CSV files are, the student's outputs
`got` and the right ones `expected` (unused for dropout, whose masks are random).  For the conv
and pool layers, `variants` holds each known mistake's outputs on these inputs (per-side padding,
a flipped or transposed filter, a missing bias, the gradient to every tied maximum, ...): the
check reads them from expected.json, and without them they are recomputed by
:mod:`.mistake_models` (the solution's, for the class grader).  Dropout's hints are read from the
statistics of the student's outputs.  A hint names the mistake, never the answer.
"""

import numpy as np

from . import calls

__all__ = ["hint_for_call"]


def _close(a, b, tol=1e-6):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False
    scale = np.maximum(1e-8, np.abs(a) + np.abs(b))
    return bool(np.all(np.abs(a - b) / scale <= tol))


def _match(variants, got, expected):
    """The hint of the first variant that reproduces every output `got` gets wrong."""
    wrong = [n for n in expected if not _close(got.get(n), expected[n])]
    if not wrong:
        return None
    for hint, values in variants:
        if all(_close(got.get(n), values[n]) for n in wrong) and \
                not all(_close(values[n], expected[n]) for n in expected):
            return hint
    return None


def _dropout_hint(x, got_train, got_test, p):
    """Hints read from the statistics of one train-mode and one test-mode output."""
    x, got_train = np.asarray(x, dtype=np.float64), np.asarray(got_train, dtype=np.float64)
    if got_test is not None and not _close(got_test, x):
        if _close(got_test, x * (1 - p)):
            return "test mode is the identity: inverted dropout does its scaling at train time"
        return "test mode returns its input unchanged"
    if got_train.shape != x.shape or x.size == 0:
        return None
    live = x != 0
    kept = (got_train != 0) & live
    fraction = kept.sum() / max(1, live.sum())
    slack = 5 * np.sqrt(p * (1 - p) / max(1, live.sum())) + 0.01
    ratio = float(np.median(got_train[kept] / x[kept])) if kept.any() else 0.0
    if abs(fraction - p) < slack and abs(fraction - (1 - p)) >= slack:
        return "p is the probability of DROPPING a unit: you kept a fraction p of them"
    if np.isclose(ratio, 1 - p) and not np.isclose(1 - p, 1 / (1 - p)):
        return "kept units are scaled by the keep probability (1 - p); inverted dropout divides by it"
    if np.isclose(ratio, 1.0) and p > 0:
        return "kept units must be scaled by 1 / (1 - p) at train time (inverted dropout)"
    return None


def hint_for_call(function, inputs, got, expected, params=None, variants=None):
    """A one-line hint naming the known mistake that explains `got`, or None.

    `inputs`, `got` and `expected` are dicts named as in :mod:`.calls`; `params` as
    calls.PARAMS (default: the assignment's); `variants` as :func:`.mistake_models.variants`
    returns them (default: computed by it).
    """
    params = {**calls.PARAMS, **(params or {})}
    try:
        if function in ("dropout_forward", "dropout_backward"):
            kind = function.split("_")[1]
            source = np.asarray(inputs[f"dropout_{kind}_in_{'x' if kind == 'forward' else 'dout'}"],
                                dtype=np.float64)
            return _dropout_hint(source, got.get(f"dropout_{kind}_out_train"),
                                 got.get(f"dropout_{kind}_out_test"), params[f"dropout_{kind}_p"])
        if function not in calls.FUNCTIONS or expected is None:
            return None
        if variants is None:
            from .mistake_models import variants as recompute  # the solution's; not released
            variants = recompute(function, inputs, params)
        return _match(variants, got, expected)
    except (KeyError, ValueError, TypeError, IndexError):
        return None  # outputs of the wrong kind or shape: no known mistake to name
