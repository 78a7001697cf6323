"""The known mistakes, recomputed: the outputs a conv or max-pool layer gives with each mistake.

Solution-only (the student release does not ship it: a correct pass is one of its loops).  The
class grader calls it on each student's fresh inputs (through :func:`.hints.hint_for_call`);
:func:`.cases.compute_expected` calls it once for the check's fixed cases and stores the
mistakes' outputs in expected.json, which is how the released check names a mistake.
"""

import itertools

import numpy as np

from . import calls

__all__ = ["variants"]


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


OUTPUTS = {  # function -> [(output name as in calls, key of a variant's dict)]
    "conv_forward": [("conv_forward_out", "out")],
    "conv_backward": [(f"conv_backward_out_{k}", k) for k in ("dx", "dw", "db")],
    "max_pool_forward": [("maxpool_forward_out", "out")],
    "max_pool_backward": [("maxpool_backward_out", "dx")],
}


def variants(function, inputs, params=None):
    """[(hint, {output name: array})] of the known mistakes of a conv or pool call that can run."""
    params = {**calls.PARAMS, **(params or {})}
    a = {k: np.asarray(v, dtype=np.float64) for k, v in inputs.items()}
    if function in ("conv_forward", "conv_backward"):
        x, w, b = (a[n] for n in calls.FUNCTION_INPUTS[function][:3])
        cp = params[function]
        dout = a.get("conv_backward_in_dout") if function == "conv_backward" else None
        thunks = _conv_variants(x, w, b, cp["pad"], cp["stride"], dout)
    elif function == "max_pool_forward":
        thunks = _pool_variants(a["maxpool_forward_in_x"], params["pool"])
    elif function == "max_pool_backward":
        thunks = _pool_variants(a["maxpool_backward_in_x"], params["pool"],
                                a["maxpool_backward_in_dout"])
    else:
        return []
    found = []
    for hint, thunk in thunks:
        try:
            values = thunk()
        except (ValueError, IndexError):  # the mistake cannot even run on these shapes
            continue
        found.append((hint, {name: values[key] for name, key in OUTPUTS[function]}))
    return found
