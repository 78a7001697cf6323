"""The cases of the layer functions: reference values, fixed cases, numerical gradients, statistics.

Each case is a function ``(expected) -> Case`` that calls the student's code the way the grader
does (:mod:`.calls`) and says what it measured; a NotImplementedError or any other exception
propagates to the runner.  Nothing here shows an expected value: only errors, shapes and hints.
"""

from typing import NamedTuple, Optional

import numpy as np

from .. import layers
from ..gradient_check import eval_numerical_gradient_array, rel_error
from . import calls
from .cases import MISTAKES, case_inputs, run_case
from .hints import hint_for_call
from .reference import TOLERANCE, conv_forward_example, max_pool_forward_example

__all__ = ["Case", "LAYER_CHECKS", "compare"]

EXACT = 1e-9      # fixed dyadic cases: the values are exact, only summation order differs
NUMERIC = 1e-6    # analytic against centred differences (h = 1e-5) on inputs away from kinks


class Case(NamedTuple):
    label: str               # the case: shapes, stride, pad
    ok: bool
    measure: str             # what was measured against what limit
    hint: Optional[str] = None


def _short(name):
    """'dx' for conv_backward_out_dx and maxpool_backward_out, 'out' for conv_forward_out."""
    if "_out_" in name:
        return name.split("_out_")[-1]
    return ("dx" if "backward" in name else "out") if name.endswith("_out") else name


def compare(label, got, expected, limit, hint=None):
    """A Case comparing the dicts of arrays `got` and `expected`, output by output."""
    worst, worst_name = 0.0, None
    for name, want in expected.items():
        have = got.get(name) if isinstance(got, dict) else None
        have = None if have is None else np.asarray(have)
        if have is None or have.shape != np.shape(want):
            shape = "nothing" if have is None else f"shape {have.shape}"
            return Case(label, False, f"{_short(name)}: returned {shape}, expected shape "
                        f"{np.shape(want)}", hint)
        error = rel_error(have, want)
        if not error <= worst:  # also catches NaN
            worst, worst_name = error, name
    ok = bool(worst <= limit)
    where = f" in {_short(worst_name)}" if worst_name and not ok else ""
    return Case(label, ok, f"rel error {worst:.1e}{where} (limit {limit:.0e})", None if ok else hint)


def fixed(case_id):
    """The check of a stored case (expected.json), with the hint of a known mistake if one fits."""
    def check(expected):
        function, inputs, params, text = case_inputs(case_id)
        got = run_case(function, inputs, params)
        want = expected[case_id]
        known = expected[MISTAKES].get(case_id, [])  # what each known mistake gives here
        hint = hint_for_call(function, inputs, got, want, params, known) \
            if function in calls.FUNCTIONS else None
        return compare(text, got, want, EXACT, hint)
    check.__name__ = case_id
    return check


def conv_reference(expected):
    x, w, b, param, want = conv_forward_example()
    inputs = {"conv_forward_in_x": x, "conv_forward_in_w": w, "conv_forward_in_b": b}
    params = {"conv_forward": param}
    got = calls.call(layers, "conv_forward", inputs, params=params)
    want = {"conv_forward_out": want}
    return compare("the assignment's example: x (2, 3, 4, 4), w (3, 3, 4, 4), stride 2, pad 2",
                   got, want, TOLERANCE)  # a mistake's hint comes with the fixed cases


def pool_reference(expected):
    x, param, want = max_pool_forward_example()
    got = calls.call(layers, "max_pool_forward", {"maxpool_forward_in_x": x}, params={"pool": param})
    return compare("the assignment's example: x (2, 3, 4, 4), 2x2 windows, stride 2",
                   got, {"maxpool_forward_out": want}, TOLERANCE)


def conv_numeric(expected):
    rng = np.random.default_rng(231)
    x, w, b = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((2, 3, 3, 3)), rng.standard_normal(2)
    param = {"stride": 2, "pad": 2}
    dout = rng.standard_normal((2, 2, 3, 3))
    inputs = {"conv_backward_in_x": x, "conv_backward_in_w": w, "conv_backward_in_b": b,
              "conv_backward_in_dout": dout}
    got = calls.call(layers, "conv_backward", inputs, params={"conv_backward": param})
    forward = (lambda x_, w_, b_: layers.conv_forward(x_, w_, b_, dict(param))[0])
    want = {"conv_backward_out_dx": eval_numerical_gradient_array(lambda v: forward(v, w, b), x, dout),
            "conv_backward_out_dw": eval_numerical_gradient_array(lambda v: forward(x, v, b), w, dout),
            "conv_backward_out_db": eval_numerical_gradient_array(lambda v: forward(x, w, v), b, dout)}
    return compare("numerical gradient: x (2, 3, 5, 5), w (2, 3, 3, 3), stride 2, pad 2",
                   got, want, NUMERIC)


def pool_numeric(expected):
    rng = np.random.default_rng(232)
    # Distinct values at least 0.1 apart: no ties, and h = 1e-5 never changes a window's maximum.
    x = (rng.permutation(2 * 2 * 6 * 6) * 0.1).reshape(2, 2, 6, 6)
    dout = rng.standard_normal((2, 2, 2, 2))
    param = {"pool_height": 3, "pool_width": 3, "stride": 3}
    got = calls.call(layers, "max_pool_backward", {"maxpool_backward_in_x": x,
                                                   "maxpool_backward_in_dout": dout},
                     params={"pool": param})
    num = eval_numerical_gradient_array(lambda v: layers.max_pool_forward(v, dict(param))[0], x, dout)
    return compare("numerical gradient: x (2, 2, 6, 6) without ties, 3x3 windows, stride 3",
                   got, {"maxpool_backward_out": num}, NUMERIC)


def _dropout_stats(label, source, got_train, got_test, p):
    """A Case from one train- and one test-mode output of dropout (forward or backward)."""
    n = source.size
    if got_train is None or np.shape(got_train) != source.shape:
        return Case(label, False, f"train mode returned shape {np.shape(got_train)}, "
                    f"expected {source.shape}")
    if np.shape(got_test) != source.shape or rel_error(got_test, source) > EXACT:
        return Case(label, False, "test mode changes its input")
    kept = np.asarray(got_train) != 0
    fraction, sd = 1 - kept.mean(), np.sqrt(p * (1 - p) / n)
    if abs(fraction - p) > 5 * sd + 1e-3:
        return Case(label, False, f"dropped {fraction:.3f} of the units (p = {p}, limit +-{5 * sd:.3f})")
    error = rel_error(np.asarray(got_train)[kept], source[kept] / (1 - p)) if kept.any() else 0.0
    if error > EXACT:
        return Case(label, False, f"kept units: rel error {error:.1e} against unit * 1/(1-p) "
                    f"(limit {EXACT:.0e})")
    mean = float(np.mean(got_train) / np.mean(source))
    # Each unit is source * Bernoulli(1 - p) / (1 - p): its mean is the unit, its variance grows
    # with p / (1 - p).
    limit = 5 * np.sqrt(p / (1 - p) * np.mean(source ** 2) / n) / abs(np.mean(source)) + 1e-3
    ok = abs(mean - 1) <= limit
    return Case(label, ok, f"dropped {fraction:.3f} (p = {p}), mean kept at {mean:.3f} of the input "
                f"(limit +-{limit:.3f})")


def dropout_forward_case(p):
    def check(expected):
        x = 10 + np.random.default_rng(233).standard_normal((100, 100))
        inputs = {"dropout_forward_in_x": x}
        params = {"dropout_forward_p": p}
        got = calls.call(layers, "dropout_forward", inputs, params=params)
        case = _dropout_stats(f"x (100, 100), p = {p}, train and test mode", x,
                              got.get("dropout_forward_out_train"), got.get("dropout_forward_out_test"), p)
        hint = None if case.ok else hint_for_call("dropout_forward", inputs, got, None, params)
        return case._replace(hint=hint)
    check.__name__ = f"dropout_forward p={p}"
    return check


def dropout_backward_case(expected):
    rng = np.random.default_rng(234)
    x, dout, p = 10 + rng.standard_normal((100, 100)), 5 + rng.standard_normal((100, 100)), 0.8
    inputs = {"dropout_backward_in_x": x, "dropout_backward_in_dout": dout}
    params = {"dropout_backward_p": p}
    got = calls.call(layers, "dropout_backward", inputs, params=params)
    case = _dropout_stats(f"dout (100, 100), p = {p}, train and test mode", dout,
                          got.get("dropout_backward_out_train"), got.get("dropout_backward_out_test"), p)
    return case._replace(hint=None if case.ok else hint_for_call("dropout_backward", inputs, got, None,
                                                                 params))


def dropout_mask_case(expected):
    rng = np.random.default_rng(235)
    x, dout, p = 10 + rng.standard_normal((50, 40)), 5 + rng.standard_normal((50, 40)), 0.3
    out, cache = layers.dropout_forward(x.copy(), {"mode": "train", "p": p})
    dx = np.asarray(layers.dropout_backward(dout.copy(), cache))
    label = f"one forward pass then its backward pass, x (50, 40), p = {p}"
    if dx.shape != x.shape:
        return Case(label, False, f"dx has shape {dx.shape}, expected {x.shape}")
    # The backward pass drops the units the forward pass dropped, with the same scale.
    error = rel_error(dx * x, dout * np.asarray(out))
    return Case(label, error <= EXACT, f"dx against the forward pass's mask: rel error {error:.1e} "
                f"(limit {EXACT:.0e})", None if error <= EXACT else
                "use the mask the forward pass kept in its cache, not a new one")


def col2im_adjoint(expected):
    from ..im2col import col2im, im2col
    rng = np.random.default_rng(236)
    x, shape = rng.standard_normal((2, 3, 5, 6)), (2, 3, 5, 6)
    cols = im2col(x, 3, 2, 1, 2)
    c = rng.standard_normal(np.shape(cols))
    left, right = float(np.vdot(cols, c)), float(np.vdot(x, col2im(c, shape, 3, 2, 1, 2)))
    error = rel_error(left, right)
    return Case("<im2col(x), c> = <x, col2im(c)>, x (2, 3, 5, 6), 3x2 fields, stride 1, pad 2",
                error <= 1e-10, f"rel error {error:.1e} (limit 1e-10)")


LAYER_CHECKS = {
    "im2col": (fixed("im2col/a"),),
    "col2im": (fixed("col2im/a"), col2im_adjoint),
    # The fixed cases first: they carry the known mistakes' hints (expected.json).
    "conv_forward": (fixed("conv_forward/a"), fixed("conv_forward/b"), conv_reference),
    "conv_backward": (fixed("conv_backward/a"), conv_numeric),
    "max_pool_forward": (pool_reference, fixed("max_pool_forward/a")),
    "max_pool_backward": (pool_numeric, fixed("max_pool_backward/ties")),
    "dropout_forward": (dropout_forward_case(0.3), dropout_forward_case(0.8)),
    "dropout_backward": (dropout_backward_case, dropout_mask_case),
}
