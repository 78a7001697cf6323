"""The check's small fixed cases and their expected values (``expected.json``).

Inputs are dyadic (multiples of 1/4 of small integers), so every product and sum is exact in
float64 and the expected values do not depend on the BLAS or the order of summation.  The
expected values are computed from the solution by :func:`compute_expected` when the release is
built (``python -m code_base.check --write-expected PATH``) and read by the check with
:func:`load_expected`; a test keeps the committed file equal to a fresh computation.  None of
these are the assignment's official ``input_files/``.
"""

import json
from pathlib import Path

import numpy as np

from . import calls

__all__ = ["EXPECTED_PATH", "CASES", "dyadic", "case_inputs", "run_case", "compute_expected",
           "write_expected", "ExpectedMissing", "load_expected", "MISTAKES"]

EXPECTED_PATH = Path(__file__).with_name("expected.json")


def dyadic(shape, k):
    """Values in {-2, -1.75, ..., 2} spread over `shape`, a different pattern for each k."""
    n = int(np.prod(shape))
    return ((np.arange(n) * k + 3) % 17 - 8).reshape(shape) / 4.0


def _ties():
    """A (1, 2, 4, 4) input whose 2x2 windows hold tied maxima (zeros after a ReLU, repeats)."""
    x = np.zeros((1, 2, 4, 4))
    x[0, 0] = [[0, 0, 1, 1], [0, 0, 0, 1], [-1, 2, 3, -1], [2, 0, 3, 3]]
    x[0, 1] = [[-1, -1, 0.5, 0], [-1, -2, 0, 0.5], [0, 0, -3, -3], [0, 0, -3, -3]]
    return x


# id -> (function, inputs named as in calls, params for calls.call, what the check prints)
CASES = {
    "conv_forward/a": ("conv_forward", lambda: {
        "conv_forward_in_x": dyadic((2, 3, 5, 5), 5), "conv_forward_in_w": dyadic((4, 3, 3, 3), 7),
        "conv_forward_in_b": dyadic((4,), 3)}, {"conv_forward": {"stride": 1, "pad": 2}},
        "x (2, 3, 5, 5), w (4, 3, 3, 3), stride 1, pad 2"),
    "conv_forward/b": ("conv_forward", lambda: {
        "conv_forward_in_x": dyadic((1, 2, 6, 7), 3), "conv_forward_in_w": dyadic((2, 2, 2, 3), 5),
        "conv_forward_in_b": dyadic((2,), 11)}, {"conv_forward": {"stride": 2, "pad": 0}},
        "x (1, 2, 6, 7), w (2, 2, 2, 3), stride 2, pad 0"),
    "conv_backward/a": ("conv_backward", lambda: {
        "conv_backward_in_x": dyadic((2, 2, 5, 5), 5), "conv_backward_in_w": dyadic((3, 2, 3, 3), 7),
        "conv_backward_in_b": dyadic((3,), 2), "conv_backward_in_dout": dyadic((2, 3, 3, 3), 3)},
        {"conv_backward": {"stride": 2, "pad": 2}},
        "x (2, 2, 5, 5), w (3, 2, 3, 3), stride 2, pad 2"),
    "max_pool_forward/a": ("max_pool_forward", lambda: {
        "maxpool_forward_in_x": dyadic((2, 2, 5, 5), 7)},
        {"pool": {"pool_height": 3, "pool_width": 3, "stride": 2}},
        "x (2, 2, 5, 5), 3x3 windows, stride 2 (overlapping)"),
    "max_pool_backward/ties": ("max_pool_backward", lambda: {
        "maxpool_backward_in_x": _ties(), "maxpool_backward_in_dout": dyadic((1, 2, 2, 2), 3) + 3},
        {"pool": {"pool_height": 2, "pool_width": 2, "stride": 2}},
        "x (1, 2, 4, 4) with tied maxima, 2x2 windows, stride 2"),
    "im2col/a": ("im2col", lambda: {"x": dyadic((2, 2, 5, 4), 5)},
                 {"HH": 3, "WW": 2, "stride": 2, "pad": 2},
                 "x (2, 2, 5, 4), 3x2 fields, stride 2, pad 2"),
    "col2im/a": ("col2im", lambda: {"cols": dyadic((2 * 3 * 2, 2 * 3 * 3), 7)},
                 {"x_shape": (2, 2, 5, 4), "HH": 3, "WW": 2, "stride": 2, "pad": 2},
                 "x (2, 2, 5, 4), 3x2 fields, stride 2, pad 2"),
}


def run_case(function, inputs, params, layers=None, im2col=None):
    """The outputs (name -> array) of `function` on a case: a graded call, or im2col/col2im."""
    if function == "im2col":
        if im2col is None:
            from .. import im2col
        p = params
        return {"cols": im2col.im2col(inputs["x"], p["HH"], p["WW"], p["stride"], p["pad"])}
    if function == "col2im":
        if im2col is None:
            from .. import im2col
        p = params
        return {"x": im2col.col2im(inputs["cols"], tuple(p["x_shape"]), p["HH"], p["WW"],
                                   p["stride"], p["pad"])}
    if layers is None:
        from .. import layers
    return calls.call(layers, function, inputs, params=params)


def case_inputs(case_id):
    """(function, inputs, params, description) of the fixed case `case_id`."""
    function, make, params, text = CASES[case_id]
    return function, make(), params, text


MISTAKES = "#mistakes"  # the key of the known mistakes' outputs on the graded cases


def _listed(outputs):
    return {name: np.asarray(a, dtype=np.float64).tolist() for name, a in sorted(outputs.items())}


def compute_expected():
    """{case id: {output name: nested list}} computed by this package's (the solution's) code,
    and under MISTAKES {case id: [[hint, outputs]]}: what each known mistake gives on the case
    (so that the released check names a mistake without the code that computes one)."""
    from .mistake_models import variants  # the solution's; the release does not ship it
    expected, mistakes = {}, {}
    for case_id in CASES:
        function, inputs, params, _ = case_inputs(case_id)
        expected[case_id] = _listed(run_case(function, inputs, params))
        if function in calls.FUNCTIONS:
            mistakes[case_id] = [[hint, _listed(values)]
                                 for hint, values in variants(function, inputs, params)]
    expected[MISTAKES] = mistakes
    return expected


def write_expected(path=EXPECTED_PATH):
    """Write compute_expected() to `path` as JSON (whole or not at all); returns the path."""
    path = Path(path)
    expected = compute_expected()
    text = "{\n" + ",\n".join(f" {json.dumps(case_id)}: {json.dumps(expected[case_id], sort_keys=True)}"
                               for case_id in sorted(expected)) + "\n}\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


class ExpectedMissing(Exception):
    """expected.json is missing or damaged."""


def load_expected(path=EXPECTED_PATH):
    """{case id: {output name: array}} read from `path`."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ExpectedMissing(f"{path}: cannot read the fixed cases' expected values "
                              f"({getattr(e, 'strerror', None) or e}); restore it from the release") from None
    def arrays(outputs):
        return {name: np.array(v, dtype=np.float64) for name, v in outputs.items()}

    expected = {case_id: arrays(outputs) for case_id, outputs in data.items() if case_id != MISTAKES}
    expected[MISTAKES] = {case_id: [(hint, arrays(outputs)) for hint, outputs in found]
                          for case_id, found in data.get(MISTAKES, {}).items()}
    return expected
