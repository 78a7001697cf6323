"""Hints: which known mistake explains a wrong answer, found by recomputing the mistake.

``hint_for_call(function, inputs, got, expected)`` takes one of the six graded calls
(:mod:`.calls`): its inputs and outputs named as the CSV files are, the student's outputs `got`
and the right ones `expected` (unused for dropout, whose masks are random).  Each known mistake
(per-side padding, a flipped or transposed filter, a missing bias, the gradient to every tied
maximum, dropout scaled by the keep probability, ...) is recomputed from the inputs with the
small loops below; when one reproduces `got` where `expected` differs, its hint is returned.
NumPy only, and fast: the grader quotes these hints in a class's feedback.  A hint names the
mistake, never the answer.
"""

import itertools

import numpy as np

from . import calls

__all__ = ["hint_for_call"]


def _close(a, b, tol=1e-6):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False
    scale = np.maximum(1e-8, np.abs(a) + np.abs(b))
    return bool(np.all(np.abs(a - b) / scale <= tol))


def _windows(x, HH, WW, stride, lo, hi, out_hw=None):
    """Yield (i, j, slices, patch): offset (i, j) of every window of x padded lo/hi per side.

    `out_hw` fixes the number of windows (a backward pass loops over the windows of dout)."""
    xp = np.pad(x, ((0, 0), (0, 0), (lo, hi), (lo, hi)))
    H_out, W_out = out_hw or (1 + (xp.shape[2] - HH) // stride, 1 + (xp.shape[3] - WW) // stride)
    for i, j in itertools.product(range(HH), range(WW)):
        sl = (slice(None), slice(None), slice(i, i + stride * H_out, stride),
              slice(j, j + stride * W_out, stride))
        yield i, j, sl, xp[sl], xp.shape


def _conv(x, w, b, stride, lo, hi, dout=None):
    """Forward (out,) or, with dout, backward (dx, dw, db) of a convolution padded lo/hi."""
    out, dw, dxp = None, np.zeros(w.shape), None
    out_hw = None if dout is None else dout.shape[2:]
    for i, j, sl, patch, padded in _windows(x, *w.shape[2:], stride, lo, hi, out_hw):
        if dout is None:
            term = np.einsum("nchw,fc->nfhw", patch, w[:, :, i, j])
            out = term if out is None else out + term
        else:
            dxp = np.zeros(padded) if dxp is None else dxp
            dw[:, :, i, j] = np.einsum("nchw,nfhw->fc", patch, dout)
            dxp[sl] += np.einsum("nfhw,fc->nchw", dout, w[:, :, i, j])
    if dout is None:
        return {"out": out + b[None, :, None, None]}
    H, W = dxp.shape[2:]
    return {"dx": dxp[:, :, lo:H - hi, lo:W - hi], "dw": dw, "db": dout.sum(axis=(0, 2, 3))}


def _conv_variants(x, w, b, pad, stride, dout=None):
    """(hint, thunk) pairs: each thunk recomputes the outputs of one known mistake."""
    lo, hi = pad // 2, pad - pad // 2
    flip = w[:, :, ::-1, ::-1]

    def flipped():
        values = _conv(x, flip, b, stride, lo, hi, dout)
        if dout is not None:
            values["dw"] = values["dw"][:, :, ::-1, ::-1]
        return values

    right = (lambda: _conv(x, w, b, stride, lo, hi, dout))
    variants = [
        ("pad is the TOTAL padding: pad=2 means one pixel on each side, not pad pixels per side",
         lambda: _conv(x, w, b, stride, pad, pad, dout)),
        ("this is convolution with a flipped filter: the layer slides w as it is (correlation)",
         flipped),
        ("the filter's rows and columns are swapped: w[f, c, i, j] multiplies row i, column j",
         lambda: _conv(x, w.transpose(0, 1, 3, 2), b, stride, lo, hi, dout)),
        ("the bias is missing: add b[f] to every output of filter f",
         lambda: _conv(x, w, np.zeros_like(b), stride, lo, hi, dout)),
    ]
    if dout is not None:
        variants.append(("db is missing: the bias gradient is dout summed over N, H' and W'",
                         lambda: {**right(), "db": np.zeros_like(b)}))
        variants.append(("dw sums over the batch: do not divide it by N",
                         lambda: {**right(), "dw": right()["dw"] / x.shape[0]}))
    return variants


def _pool(x, ph, pw, stride, dout=None, rule="max"):
    """Pool forward {'out'} or backward {'dx'} with `rule`: max (first maximum), every tie, last, mean."""
    H_out, W_out = (1 + (size - k) // stride for size, k in zip(x.shape[2:], (ph, pw)))
    at = [(i, j, (slice(None), slice(None), slice(i, i + stride * H_out, stride),
                  slice(j, j + stride * W_out, stride))) for i in range(ph) for j in range(pw)]
    stack = np.stack([x[sl] for _, _, sl in at])
    if dout is None:
        return {"out": stack.mean(axis=0) if rule == "mean" else stack.max(axis=0)}
    dx, top = np.zeros(x.shape), stack.max(axis=0)
    order = at[::-1] if rule == "last" else at
    unclaimed = np.ones(top.shape, dtype=bool)
    for _, _, sl in order:
        if rule == "mean":
            dx[sl] += dout / (ph * pw)
            continue
        hit = x[sl] == top
        if rule != "every":
            hit &= unclaimed
            unclaimed &= ~hit
        dx[sl] += dout * hit
    return {"dx": dx}


def _pool_variants(x, pool, dout=None):
    ph, pw, s = pool["pool_height"], pool["pool_width"], pool["stride"]
    if dout is None:
        return [("this is average pooling: take each window's maximum",
                 lambda: _pool(x, ph, pw, s, None, "mean"))]
    return [("on a tie only the FIRST maximum (row-major) gets the gradient, not every tied one",
             lambda: _pool(x, ph, pw, s, dout, "every")),
            ("on a tie the FIRST maximum (row-major) gets the gradient, not the last one",
             lambda: _pool(x, ph, pw, s, dout, "last")),
            ("max pooling sends the gradient to the maximum only, not shared over the window",
             lambda: _pool(x, ph, pw, s, dout, "mean"))]


def _match(variants, got, expected, names):
    """The hint of the first variant that reproduces every output `got` gets wrong."""
    wrong = [n for n, key in names if not _close(got.get(n), expected[n])]
    if not wrong:
        return None
    for hint, thunk in variants:
        try:
            values = thunk()
        except (ValueError, IndexError):  # the mistake cannot even run on these shapes
            continue
        if all(_close(got.get(n), values[key]) for n, key in names if n in wrong) and \
                not all(_close(values[key], expected[n]) for n, key in names):
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


def hint_for_call(function, inputs, got, expected, params=None):
    """A one-line hint naming the known mistake that explains `got`, or None.

    `inputs`, `got` and `expected` are dicts named as in :mod:`.calls`; `params` as
    calls.PARAMS (default: the assignment's).
    """
    params = {**calls.PARAMS, **(params or {})}
    try:
        a = {k: np.asarray(v, dtype=np.float64) for k, v in inputs.items()}
        if function == "conv_forward":
            cp = params["conv_forward"]
            variants = _conv_variants(a["conv_forward_in_x"], a["conv_forward_in_w"],
                                      a["conv_forward_in_b"], cp["pad"], cp["stride"])
            return _match(variants, got, expected, [("conv_forward_out", "out")])
        if function == "conv_backward":
            cp = params["conv_backward"]
            variants = _conv_variants(*(a[n] for n in calls.FUNCTION_INPUTS[function][:3]),
                                      cp["pad"], cp["stride"], a["conv_backward_in_dout"])
            names = [(f"conv_backward_out_{k}", k) for k in ("dx", "dw", "db")]
            return _match(variants, got, expected, names)
        if function == "max_pool_forward":
            return _match(_pool_variants(a["maxpool_forward_in_x"], params["pool"]), got, expected,
                          [("maxpool_forward_out", "out")])
        if function == "max_pool_backward":
            variants = _pool_variants(a["maxpool_backward_in_x"], params["pool"],
                                      a["maxpool_backward_in_dout"])
            return _match(variants, got, expected, [("maxpool_backward_out", "dx")])
        if function in ("dropout_forward", "dropout_backward"):
            kind = function.split("_")[1]
            source = a[f"dropout_{kind}_in_{'x' if kind == 'forward' else 'dout'}"]
            return _dropout_hint(source, got.get(f"dropout_{kind}_out_train"),
                                 got.get(f"dropout_{kind}_out_test"), params[f"dropout_{kind}_p"])
    except (KeyError, ValueError, TypeError, IndexError):
        return None  # outputs of the wrong kind or shape: no known mistake to name
    return None
