"""The assignment's calls of the six graded functions, written once for the check and the grader.

``call(module, function, inputs, seed=None)`` makes the call the assignment makes (the same
parameters ``python -m code_base.submission run`` uses) on ``inputs``, a dict of arrays named as
the input CSV files are (``conv_forward_in_x``, ...), and returns the outputs named as the output
CSV files are.  ``module`` is anything with the layer functions as attributes (the student's
``code_base.layers``).  Dropout gets ``{'mode', 'p'}`` only, as in 2017, plus ``'seed'`` when
`seed` is given.

Standalone on purpose: it imports nothing, not even NumPy, so the grader can load it by file path
inside a sandbox where the package is not importable.
"""

__all__ = ["PARAMS", "FUNCTION_INPUTS", "FUNCTION_OUTPUTS", "FUNCTIONS", "NEEDS", "call"]

PARAMS = {
    "conv_forward": {"stride": 2, "pad": 2},   # pad is TOTAL: one pixel each side
    "conv_backward": {"stride": 1, "pad": 2},
    "pool": {"pool_height": 2, "pool_width": 2, "stride": 2},
    "dropout_forward_p": 0.3,                  # probability of DROPPING a unit
    "dropout_backward_p": 0.8,
}

FUNCTION_INPUTS = {
    "conv_forward": ("conv_forward_in_x", "conv_forward_in_w", "conv_forward_in_b"),
    "conv_backward": ("conv_backward_in_x", "conv_backward_in_w", "conv_backward_in_b",
                      "conv_backward_in_dout"),
    "max_pool_forward": ("maxpool_forward_in_x",),
    "max_pool_backward": ("maxpool_backward_in_x", "maxpool_backward_in_dout"),
    "dropout_forward": ("dropout_forward_in_x",),
    "dropout_backward": ("dropout_backward_in_x", "dropout_backward_in_dout"),
}

FUNCTION_OUTPUTS = {
    "conv_forward": ("conv_forward_out",),
    "conv_backward": ("conv_backward_out_dx", "conv_backward_out_dw", "conv_backward_out_db"),
    "max_pool_forward": ("maxpool_forward_out",),
    "max_pool_backward": ("maxpool_backward_out",),
    "dropout_forward": ("dropout_forward_out_train", "dropout_forward_out_test"),
    "dropout_backward": ("dropout_backward_out_train", "dropout_backward_out_test"),
}

FUNCTIONS = tuple(FUNCTION_INPUTS)

# The module attributes each call uses (a backward pass needs its forward pass for the cache).
NEEDS = {
    "conv_forward": ("conv_forward",),
    "conv_backward": ("conv_forward", "conv_backward"),
    "max_pool_forward": ("max_pool_forward",),
    "max_pool_backward": ("max_pool_forward", "max_pool_backward"),
    "dropout_forward": ("dropout_forward",),
    "dropout_backward": ("dropout_forward", "dropout_backward"),
}


def _dropout_param(mode, p, seed):
    param = {"mode": mode, "p": p}
    if seed is not None:
        param["seed"] = seed
    return param


def _conv_forward(m, a, params, seed):
    x, w, b = a["conv_forward_in_x"], a["conv_forward_in_w"], a["conv_forward_in_b"]
    out, _ = m.conv_forward(x, w, b, dict(params["conv_forward"]))
    return {"conv_forward_out": out}


def _conv_backward(m, a, params, seed):
    x, w, b = a["conv_backward_in_x"], a["conv_backward_in_w"], a["conv_backward_in_b"]
    _, cache = m.conv_forward(x, w, b, dict(params["conv_backward"]))
    dx, dw, db = m.conv_backward(a["conv_backward_in_dout"], cache)
    return {"conv_backward_out_dx": dx, "conv_backward_out_dw": dw, "conv_backward_out_db": db}


def _max_pool_forward(m, a, params, seed):
    out, _ = m.max_pool_forward(a["maxpool_forward_in_x"], dict(params["pool"]))
    return {"maxpool_forward_out": out}


def _max_pool_backward(m, a, params, seed):
    _, cache = m.max_pool_forward(a["maxpool_backward_in_x"], dict(params["pool"]))
    return {"maxpool_backward_out": m.max_pool_backward(a["maxpool_backward_in_dout"], cache)}


def _dropout_forward(m, a, params, seed):
    p = params["dropout_forward_p"]
    return {f"dropout_forward_out_{mode}":
            m.dropout_forward(a["dropout_forward_in_x"].copy(), _dropout_param(mode, p, seed))[0]
            for mode in ("train", "test")}


def _dropout_backward(m, a, params, seed):
    p, out = params["dropout_backward_p"], {}
    for mode in ("train", "test"):
        _, cache = m.dropout_forward(a["dropout_backward_in_x"].copy(), _dropout_param(mode, p, seed))
        out[f"dropout_backward_out_{mode}"] = m.dropout_backward(
            a["dropout_backward_in_dout"].copy(), cache)
    return out


_CALLS = {"conv_forward": _conv_forward, "conv_backward": _conv_backward,
          "max_pool_forward": _max_pool_forward, "max_pool_backward": _max_pool_backward,
          "dropout_forward": _dropout_forward, "dropout_backward": _dropout_backward}


def call(module, function, inputs, seed=None, params=None):
    """The outputs (name -> array) of the assignment's call of `function` from `module`.

    `params` (default PARAMS) may replace the assignment's stride, padding, pool and p, so that
    the check can make the same call on its own cases.
    """
    if function not in _CALLS:
        raise KeyError(f"no graded function {function!r}; they are: {', '.join(FUNCTIONS)}")
    return _CALLS[function](module, inputs, {**PARAMS, **(params or {})}, seed)
