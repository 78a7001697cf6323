"""The fast kernels against the plain layers they stand in for, and the machinery they use.

Every kernel is compared with the plain path (``fast.disabled()``) as its oracle, value for value,
on the shapes below, for one to three threads.  The switch, the thread helpers and the reused
buffers have tests of their own.
"""

import ast
import os
import platform
import threading
from pathlib import Path

import numpy as np
import pytest

from code_base import fast
from code_base.classifiers.cnn import ThreeLayerConvNet
from code_base.fast import buffers, columns, fpu, parallel
from code_base.fast.conv import conv_backward_channel_major, conv_forward_channel_major
from code_base.im2col import col2im, im2col
from code_base.layer_utils import (affine_relu_backward, affine_relu_forward,
                                   conv_relu_pool_backward, conv_relu_pool_forward)
from code_base.layers import ConvCache, conv_backward, conv_forward
from code_base.optim import adam


def fast_and_plain(run, num_threads=None):
    """(run() on the fast kernels with num_threads, run() on the plain layers)."""
    with fast.configure(num_threads=num_threads):
        got = run()
    with fast.disabled():
        want = run()
    return got, want


def assert_same(got, want, tol):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        if w is None:
            assert g is None
        else:
            assert g.dtype == w.dtype and g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


CONV_POOL_CASES = [  # x shape, filters, kernel, conv stride, total pad, (pool h, w, stride), fused
    ((9, 3, 16, 16), 4, 3, 1, 2, (2, 2, 2), True),  # the model's case
    ((3, 2, 13, 13), 5, 3, 2, 4, (2, 2, 2), True),  # strided conv
    ((7, 3, 12, 12), 4, 5, 1, 4, (3, 3, 3), True),  # 3x3 tiling pool
    ((2, 1, 34, 34), 2, 1, 1, 0, (17, 17, 17), True),  # 289 window offsets: more than a byte holds
    ((5, 3, 13, 13), 4, 3, 1, 2, (3, 3, 2), False),  # overlapping pool
    ((4, 2, 8, 11), 3, 3, 1, 2, (2, 3, 2), False),  # rectangular pool, not tiling
]


@pytest.mark.parametrize("num_threads", [1, 2, 3])
@pytest.mark.parametrize("case", CONV_POOL_CASES, ids=[f"pool{c[5]}-stride{c[3]}" for c in CONV_POOL_CASES])
def test_conv_relu_pool_fast_equals_plain(case, num_threads):
    x_shape, F, k, stride, pad, (ph, pw, ps), fused = case
    rng = np.random.default_rng(sum(x_shape) + num_threads)
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal((F, x_shape[1], k, k))
    b = rng.standard_normal(F)
    conv_param = {"stride": stride, "pad": pad}
    pool_param = {"pool_height": ph, "pool_width": pw, "stride": ps}
    caches = []

    def run():
        out, cache = conv_relu_pool_forward(x, w, b, conv_param, pool_param)
        caches.append(cache)
        return (out, *conv_relu_pool_backward(dout, cache))

    with fast.disabled():
        dout = rng.standard_normal(conv_relu_pool_forward(x, w, b, conv_param, pool_param)[0].shape)
    got, want = fast_and_plain(run, num_threads)
    assert isinstance(caches[0], fast.FusedConvReluPoolCache) == fused
    assert isinstance(caches[1], tuple) and isinstance(caches[1][0], ConvCache)
    # Bias before or after the pool: equal up to rounding; the same windows are chosen.
    assert_same(got, want, 1e-12)


def test_fused_kernel_is_chosen_for_tiling_pools_only():
    x, w = np.zeros((2, 3, 8, 8)), np.zeros((4, 3, 3, 3))
    conv = {"stride": 1, "pad": 2}
    assert fast.pool_tiles(x, w, conv, {"pool_height": 2, "pool_width": 2, "stride": 2})
    assert not fast.pool_tiles(x, w, conv, {"pool_height": 2, "pool_width": 2, "stride": 1})
    assert not fast.pool_tiles(np.zeros((2, 3, 9, 9)), w, conv,
                               {"pool_height": 3, "pool_width": 3, "stride": 2})
    with pytest.raises(ValueError, match="needs a pool that tiles"):
        fast.conv_relu_pool_forward(x, w, np.zeros(4), conv,
                                    {"pool_height": 2, "pool_width": 2, "stride": 1})


def test_fused_pool_sends_ties_to_the_first_maximum_in_row_major_order():
    # One channel, a 2x2 input, a 1x1 filter of weight 1, bias 0 and no padding: the conv
    # output is the input, so each window below has a tie whose first maximum we know.
    conv_param = {"stride": 1, "pad": 0}
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    w, b = np.ones((1, 1, 1, 1)), np.zeros(1)
    for window, first in [([[1, 3], [3, 3]], (0, 1)), ([[2, 0], [2, 1]], (0, 0)),
                          ([[0, 1], [5, 5]], (1, 0)), ([[7, 7], [7, 7]], (0, 0))]:
        x = np.array(window, dtype=float)[None, None]
        dx = {}
        for name, switch in (("fast", fast.configure()), ("plain", fast.disabled())):
            with switch:
                pooled, cache = conv_relu_pool_forward(x, w, b, conv_param, pool_param)
                assert pooled.item() == x.max()
                dx[name] = conv_relu_pool_backward(np.full((1, 1, 1, 1), 2.0), cache)[0]
        expected = np.zeros((2, 2))
        expected[first] = 2.0
        np.testing.assert_array_equal(dx["fast"][0, 0], expected)
        np.testing.assert_array_equal(dx["plain"], dx["fast"])


def test_fused_backward_rejects_a_wrong_gradient_shape():
    x = np.zeros((2, 1, 4, 4))
    _, cache = fast.conv_relu_pool_forward(x, np.ones((3, 1, 3, 3)), np.zeros(3),
                                           {"stride": 1, "pad": 2},
                                           {"pool_height": 2, "pool_width": 2, "stride": 2})
    with pytest.raises(ValueError, match=r"dout has shape \(2, 3, 3, 3\), expected \(2, 3, 2, 2\)"):
        fast.conv_relu_pool_backward(np.zeros((2, 3, 3, 3)), cache)


CONV_CASES = [  # x shape, w shape, stride, total pad
    ((2, 3, 7, 7), (4, 3, 3, 3), 1, 2),
    ((2, 3, 7, 9), (4, 3, 3, 5), 2, 4),
    ((5, 2, 6, 6), (3, 2, 4, 4), 2, 0),
    ((3, 3, 8, 8), (2, 3, 7, 7), 1, 6),
]


@pytest.mark.parametrize("num_threads", [1, 2, 3])
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_fast_equals_plain(case, num_threads):
    x_shape, w_shape, stride, pad = case
    rng = np.random.default_rng(num_threads)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    param = {"stride": stride, "pad": pad}
    with fast.disabled():
        dout = rng.standard_normal(conv_forward(x, w, b, param)[0].shape)

    def run():
        out, cache = conv_forward(x, w, b, param)
        return (out, *conv_backward(dout, cache), *conv_backward(dout, cache, compute_dx=False))

    got, want = fast_and_plain(run, num_threads)
    assert want[4] is None and got[4] is None  # compute_dx=False
    assert_same(got, want, 1e-12)


@pytest.mark.parametrize("num_threads", [2, 3, 8])
@pytest.mark.parametrize("with_bias", [True, False])
def test_sharded_conv_equals_one_thread(num_threads, with_bias):
    rng = np.random.default_rng(num_threads)
    x = rng.standard_normal((5, 3, 9, 7))
    w = rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4) if with_bias else None
    conv_param = {"stride": 2, "pad": 2}
    dout = rng.standard_normal((4, 5, 5, 4))  # (F, N, H_out, W_out)
    runs = {}
    for threads in (1, num_threads):
        with fast.configure(num_threads=threads):
            out, cache = conv_forward_channel_major(x, w, b, conv_param)
            runs[threads] = (out, conv_backward_channel_major(dout, cache))
    (out1, want), (outk, got) = runs[1], runs[num_threads]
    np.testing.assert_allclose(outk, out1, rtol=1e-13, atol=1e-13)
    assert (got[2] is None) == (not with_bias)
    assert_same(got, want, 1e-12)


def test_bias_row_gives_the_same_outputs_and_db_as_an_explicit_sum():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 2, 5, 5))
    w = rng.standard_normal((3, 2, 3, 3))
    b = np.array([0.5, -1.0, 2.0])
    conv_param = {"stride": 1, "pad": 2}
    with_b, cache = conv_forward_channel_major(x, w, b, conv_param)
    without_b, _ = conv_forward_channel_major(x, w, None, conv_param)
    np.testing.assert_allclose(with_b, without_b + b[:, None, None, None], rtol=1e-13)
    dout = rng.standard_normal(with_b.shape)
    _, _, db = conv_backward_channel_major(dout, cache)
    np.testing.assert_allclose(db, dout.sum(axis=(1, 2, 3)), rtol=1e-12)


def test_conv_backward_names_the_expected_dout_shape(kernel_path):
    x = np.zeros((2, 1, 4, 4))
    _, cache = conv_forward(x, np.zeros((3, 1, 3, 3)), np.zeros(3), {"stride": 1, "pad": 2})
    with pytest.raises(ValueError, match=r"dout has shape \(2, 3, 4, 3\), expected \(2, 3, 4, 4\)"):
        conv_backward(np.zeros((2, 3, 4, 3)), cache)


def test_im2col_fills_a_block_of_columns_in_place():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 4, 4))
    whole = np.full((2 * 3 * 3 + 1, 3 * 2 * 16), -1.0)
    columns.im2col(x, 3, 3, 1, 2, out=whole[:18, 16:48])
    np.testing.assert_array_equal(whole[:18, 16:48], im2col(x, 3, 3, 1, 2))  # the textbook's
    assert (whole[:, :16] == -1).all() and (whole[18] == -1).all()  # nothing else touched
    with pytest.raises(ValueError, match=r"out must be an array of shape \(18, 32\)"):
        columns.im2col(x, 3, 3, 1, 2, out=np.zeros((18, 31)))
    with pytest.raises(ValueError, match="contiguous rows"):
        columns.im2col(x, 3, 3, 1, 2, out=np.zeros((18, 64))[:, ::2])


@pytest.mark.parametrize("x_shape, HH, WW, stride, pad", [
    ((2, 3, 7, 9), 3, 5, 2, 4), ((1, 2, 6, 6), 4, 4, 2, 0), ((3, 1, 5, 5), 5, 5, 1, 0),
    ((2, 3, 8, 8), 7, 7, 1, 6)])
def test_fast_columns_equal_the_textbook_ones(x_shape, HH, WW, stride, pad):
    rng = np.random.default_rng(sum(x_shape))
    x = rng.standard_normal(x_shape)
    cols = im2col(x, HH, WW, stride, pad)
    np.testing.assert_array_equal(columns.im2col(x, HH, WW, stride, pad), cols)
    dcols = rng.standard_normal(cols.shape)
    np.testing.assert_allclose(
        columns.col2im_channel_major(dcols, x_shape, HH, WW, stride, pad).transpose(1, 0, 2, 3),
        col2im(dcols, x_shape, HH, WW, stride, pad), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("num_threads", [1, 2, 3])
@pytest.mark.parametrize("x_shape, hidden", [((7, 4, 3, 3), 12), ((5, 6), 1), ((3, 2, 5), 40)])
def test_affine_relu_fast_equals_plain(x_shape, hidden, num_threads):
    rng = np.random.default_rng(len(x_shape) + hidden)
    D = int(np.prod(x_shape[1:]))
    # A channel-major array seen batch-first, as the conv-pool kernel hands it on.
    x = np.moveaxis(rng.standard_normal((x_shape[1], x_shape[0], *x_shape[2:])), 0, 1)
    w, b = rng.standard_normal((D, hidden)), rng.standard_normal(hidden)
    dout = rng.standard_normal((x_shape[0], hidden))

    def run():
        out, cache = affine_relu_forward(x, w, b)
        return (out, *affine_relu_backward(dout, cache))

    got, want = fast_and_plain(run, num_threads)
    assert_same(got, want, 1e-12)
    assert (want[0] == 0).any() and (want[0] > 0).any()  # the ReLU cut some units, not all


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_blocked_inplace_adam_equals_the_plain_formula(dtype, tol, monkeypatch):
    monkeypatch.setattr("code_base.fast.adam._ADAM_BLOCK", 1000)  # many blocks, a remainder
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((3, 1001)).astype(dtype)
    states = []
    for switch in (fast.configure(num_threads=2), fast.disabled()):
        w, config = w0.copy(), {"learning_rate": 1e-2, "inplace": True}
        with switch:
            for _ in range(4):
                next_w, config = adam(w, np.sin(3 * w) + 0.1, config)
                assert next_w is w
        states.append((w, config["m"], config["v"]))
    assert_same(states[0], states[1], tol)


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_model_step_fast_equals_plain(dropout):
    rng = np.random.default_rng(12)
    X = rng.standard_normal((6, 3, 8, 8))
    y = rng.integers(10, size=6)
    kwargs = dict(input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=12, reg=0.1,
                  dropout=dropout, weight_scale=1e-1, dtype=np.float64, seed=4)
    runs = fast_and_plain(lambda: ThreeLayerConvNet(**kwargs).loss(X, y), 2)
    (loss_fast, grads_fast), (loss_plain, grads_plain) = runs
    assert loss_fast == pytest.approx(loss_plain, rel=1e-12)
    assert_same([grads_fast[k] for k in sorted(grads_plain)],
                [grads_plain[k] for k in sorted(grads_plain)], 1e-11)
    scores = fast_and_plain(lambda: ThreeLayerConvNet(**kwargs).loss(X))
    assert_same(*[[s] for s in scores], 1e-12)


KERNELS = ["conv_forward", "conv_backward", "conv_relu_pool_forward", "conv_relu_pool_backward",
           "affine_relu_forward", "affine_relu_backward", "max_pool_forward", "max_pool_backward",
           "adam_inplace", "adam_update"]


def test_sandwiches_and_a_solver_run_plain_and_equal_the_fast_path(monkeypatch):
    """With fast.disabled() no kernel runs (each is replaced by one that raises), the caches are
    the plain layers' tuples, and the sandwiches, the model and a Solver's Adam steps give the
    fast path's numbers."""
    from code_base.layer_utils import conv_relu_backward, conv_relu_forward
    from code_base.solver import Solver

    rng = np.random.default_rng(21)
    x, w, b = rng.standard_normal((3, 2, 6, 6)), rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)
    conv, pool = {"stride": 1, "pad": 2}, {"pool_height": 2, "pool_width": 2, "stride": 2}
    w2, b2 = rng.standard_normal((4 * 9, 5)), rng.standard_normal(5)
    data = {"X_train": rng.standard_normal((8, 3, 8, 8)), "y_train": rng.integers(10, size=8),
            "X_val": rng.standard_normal((4, 3, 8, 8)), "y_val": rng.integers(10, size=4)}
    caches = []

    def run():
        out1, c1 = conv_relu_forward(x, w, b, conv)
        out2, c2 = conv_relu_pool_forward(x, w, b, conv, pool)
        out3, c3 = affine_relu_forward(out2, w2, b2)
        caches.append((c1[0], c2, c3))
        model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=3, filter_size=3, hidden_dim=6,
                                  weight_scale=1e-1, reg=0.01, dropout=0.2, seed=5,
                                  dtype=np.float64)
        solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-2},
                        batch_size=4, num_epochs=1, verbose=False, seed=3)
        solver.train()
        return (out1, *conv_relu_backward(np.ones_like(out1), c1), out2,
                *conv_relu_pool_backward(np.ones_like(out2), c2), out3,
                *affine_relu_backward(np.ones_like(out3), c3),
                np.array(solver.loss_history), *(model.params[k] for k in sorted(model.params)))

    with fast.configure(num_threads=2):
        got = run()

    def no_kernel(*args, **kwargs):
        raise AssertionError("a fast kernel ran under fast.disabled()")

    for name in KERNELS:
        monkeypatch.setattr(fast, name, no_kernel)
    with fast.disabled():
        want = run()
    assert [type(c).__name__ for c in caches[0]] == ["FastConvCache", "FusedConvReluPoolCache",
                                                    "FastAffineReluCache"]
    assert [type(c).__name__ for c in caches[1]] == ["ConvCache", "tuple", "tuple"]
    assert len(want[-7]) == 2  # two Adam steps
    assert_same(got, want, 1e-10)


ASSIGNMENT_MODULES = ["layers.py", "layer_utils.py", "optim.py", "classifiers/cnn.py",
                      "solver.py", "gradient_check.py", "im2col.py", "geometry.py"]


def mentions_fast(node):
    return any(isinstance(n, ast.Name) and n.id == "fast" for n in ast.walk(node))


@pytest.mark.parametrize("module", ASSIGNMENT_MODULES)
def test_the_assignment_modules_reach_the_kernels_only_through_deletable_dispatches(module):
    """Each use of code_base.fast is `from . import fast` / `from .. import fast` or an
    `if <test naming fast>: return fast.kernel(...)` whose body is that one statement, so a
    release can delete them from the syntax tree and keep correct plain code; no other line
    (docstrings included) names fast, except comments right above the import."""
    path = Path(__file__).resolve().parents[1] / "code_base" / module
    source = path.read_text()
    deletable = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and any(a.name == "fast" for a in node.names):
            assert node.module is None and [a.name for a in node.names] == ["fast"], ast.unparse(node)
            deletable.append(node)
        elif isinstance(node, ast.If) and mentions_fast(node.test):
            body = node.body
            assert len(body) == 1 and isinstance(body[0], ast.Return) and not node.orelse, \
                f"{module}:{node.lineno}: a dispatch's body must be one return"
            call = body[0].value
            assert isinstance(call, ast.Call) and ast.unparse(call.func).startswith("fast."), \
                f"{module}:{node.lineno}"
            deletable.append(node)
    lines = set()
    for node in deletable:
        lines.update(range(node.lineno, node.end_lineno + 1))
    source_lines = source.splitlines()
    for node in deletable:  # the comment block right above an import goes with it
        k = node.lineno - 1
        while isinstance(node, ast.ImportFrom) and k >= 1 and source_lines[k - 1].startswith("#"):
            lines.add(k)
            k -= 1
    rest = [(i, line) for i, line in enumerate(source_lines, 1) if i not in lines]
    assert [f"{module}:{i}: {line}" for i, line in rest if "fast" in line.lower()] == []


# ----------------------------------------------------------------------------- the switch


def test_switch_is_scoped_and_restored():
    cores = os.cpu_count() or 1
    assert fast.enabled() and fast.num_threads() == cores
    with fast.disabled():
        assert not fast.enabled()
        with fast.configure(num_threads=3):
            assert not fast.enabled() and fast.num_threads() == 3
        assert fast.num_threads() == cores
    with pytest.raises(RuntimeError):
        with fast.configure(enabled=False, num_threads=1):
            raise RuntimeError("inside the block")
    assert fast.enabled() and fast.num_threads() == cores


def test_switch_is_per_thread():
    seen = {}
    ready, checked = threading.Event(), threading.Event()

    def other():
        ready.wait(10)
        seen["other"] = fast.enabled()
        checked.set()

    thread = threading.Thread(target=other)
    thread.start()
    with fast.disabled():
        ready.set()
        checked.wait(10)
        seen["here"] = fast.enabled()
    thread.join()
    assert seen == {"other": True, "here": False}


def test_switch_picks_the_path():
    x, w, b = np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), np.zeros(1)
    param = {"stride": 1, "pad": 2}
    assert isinstance(conv_forward(x, w, b, param)[1], fast.FastConvCache)
    with fast.disabled():
        assert isinstance(conv_forward(x, w, b, param)[1], ConvCache)


@pytest.mark.parametrize("kwargs, message", [
    ({"enabled": "no"}, "enabled must be true or false"),
    ({"num_threads": 0}, "num_threads must be an integer >= 1"),
    ({"num_threads": 2.0}, "num_threads must be an integer >= 1"),
])
def test_switch_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        with fast.configure(**kwargs):
            pass


@pytest.mark.parametrize("value", [0, -1, 2.5, True, "2"])
def test_thread_counts_are_checked(value):
    with pytest.raises(ValueError, match="configure: num_threads must be an integer >= 1"):
        with fast.configure(num_threads=value):
            pass


# ----------------------------------------------------------------------------- flush to zero

SUBNORMAL = np.float32(1e-40)


def product_is_flushed():
    return float(SUBNORMAL * np.float32(1.0)) == 0.0


@pytest.mark.skipif(platform.system() != "Linux" or platform.machine() not in ("x86_64", "aarch64"),
                    reason="flush-to-zero is set through glibc on x86-64 and AArch64 only")
def test_flush_to_zero_is_available_on_this_platform():
    assert fpu.supported()


@pytest.mark.skipif(not fpu.supported(), reason="no flush-to-zero mode on this platform")
def test_kernel_jobs_flush_subnormals_and_the_caller_is_restored():
    assert not product_is_flushed()  # gradual underflow outside the kernels
    with fpu.flush_to_zero():
        assert product_is_flushed()
        with fpu.flush_to_zero():  # nested: stays on, and the outer block still restores
            assert product_is_flushed()
        assert product_is_flushed()
    assert not product_is_flushed()
    flushed = parallel.parallel_map(lambda _: product_is_flushed(), range(4), 2)
    assert flushed == [True] * 4 and not product_is_flushed()
    assert parallel.parallel_map(lambda _: product_is_flushed(), [0], 1) == [True]  # inline too
    with fast.session():
        assert product_is_flushed()
    with fast.disabled(), fast.session():
        assert not product_is_flushed()  # the plain path keeps the platform's arithmetic


@pytest.mark.skipif(not fpu.supported(), reason="no flush-to-zero mode on this platform")
def test_adam_flushes_decaying_weights_instead_of_going_subnormal():
    # A weight whose only gradient is a tiny L2 term decays geometrically (see fast/fpu.py).
    w = np.full(1000, 1e-30, dtype=np.float32)
    config = {"learning_rate": 1e-5, "inplace": True}
    for _ in range(300):
        w, config = adam(w, 1e-4 * w, config)
    tiny = np.finfo(np.float32).tiny
    for a in (w, config["m"], config["v"]):
        assert not np.any((a != 0) & (np.abs(a) < tiny))


# ----------------------------------------------------------------------------- parallel


@pytest.mark.parametrize("n, parts, sizes", [(10, 3, [3, 3, 4]), (2, 5, [1, 1]), (0, 2, [0]),
                                             (7, 1, [7])])
def test_split_covers_the_range_in_near_equal_pieces(n, parts, sizes):
    pieces = parallel.split(n, parts)
    assert [s.stop - s.start for s in pieces] == sizes
    assert pieces[0].start == 0 and pieces[-1].stop == n
    assert all(a.stop == b.start for a, b in zip(pieces, pieces[1:]))


def test_parallel_map_keeps_order_and_runs_nested_calls_inline():
    def job(k):
        inner = parallel.parallel_map(lambda j: (k, j), range(3), 2)  # nested: no deadlock
        return k * 10, inner

    results = parallel.parallel_map(job, range(5), 2)
    assert [r[0] for r in results] == [0, 10, 20, 30, 40]
    assert results[2][1] == [(2, 0), (2, 1), (2, 2)]
    assert parallel.parallel_map(lambda k: k + 1, [5], 4) == [6]


def test_parallel_map_runs_jobs_at_the_same_time():
    # Both jobs must reach the barrier before either may pass: run one after the other,
    # the first would wait for the timeout and the barrier would break.
    barrier = threading.Barrier(2, timeout=10)
    names = parallel.parallel_map(lambda _: (barrier.wait(), threading.current_thread().name)[1],
                                  range(2), 2)
    assert names[0] == threading.current_thread().name  # the caller takes the first job
    assert names[1].startswith("code_base")


def test_parallel_map_waits_for_every_job_before_raising():
    finished = []

    def job(k):
        if k == 0:
            raise RuntimeError("job 0 failed")
        threading.Event().wait(0.05)
        finished.append(k)

    with pytest.raises(RuntimeError, match="job 0 failed"):
        parallel.parallel_map(job, range(2), 2)
    assert finished == [1]


def test_map_shards_limits_blas_to_one_thread_while_workers_run():
    from threadpoolctl import threadpool_info

    seen = parallel.map_shards(lambda s: [d["num_threads"] for d in threadpool_info()
                                          if d["user_api"] == "blas"], 4, 2)
    assert len(seen) == 2 and all(n == 1 for shard in seen for n in shard)


# ----------------------------------------------------------------------------- buffers


def test_buffers_are_reused_only_when_nothing_references_them():
    buffers.release()
    shape = (512, 1024)  # 2 MiB of float32: above MIN_BYTES
    a = buffers.empty(shape, np.float32)
    address = a.__array_interface__["data"][0]
    view = a[3:5]
    del a
    b = buffers.empty(shape, np.float32)  # the view keeps the first buffer alive
    assert b.__array_interface__["data"][0] != address
    del view
    c = buffers.empty((1024, 512), np.float32)  # same size, other shape: reused
    assert c.__array_interface__["data"][0] == address
    assert c.shape == (1024, 512) and c.dtype == np.float32 and c.flags.c_contiguous
    d = buffers.empty((1024, 256), np.float64)  # same byte count, other dtype
    assert d.__array_interface__["data"][0] not in (address, b.__array_interface__["data"][0])
    assert buffers.kept_bytes() == 3 * 2**21
    buffers.release()
    assert buffers.kept_bytes() == 0


def test_small_arrays_are_plain_numpy_arrays():
    small = buffers.empty((10, 10), np.float32)
    assert small.flags.owndata and small.nbytes < buffers.MIN_BYTES


POOL_CASES = [  # x shape, (pool h, w, stride), fast kernel
    ((6, 4, 16, 16), (2, 2, 2), True),  # the benchmark's pool
    ((3, 2, 12, 9), (3, 3, 3), True),
    ((2, 3, 34, 34), (17, 17, 17), True),  # more offsets than a byte holds
    ((3, 2, 11, 11), (3, 3, 2), False),  # overlapping windows
    ((2, 2, 8, 8), (2, 2, 3), False),  # gaps between windows
]


@pytest.mark.parametrize("num_threads", [1, 2, 3])
@pytest.mark.parametrize("case", POOL_CASES, ids=[f"{c[0]}-pool{c[1]}" for c in POOL_CASES])
def test_max_pool_fast_equals_plain(case, num_threads):
    from code_base.layers import max_pool_backward, max_pool_forward

    x_shape, (ph, pw, stride), tiles = case
    rng = np.random.default_rng(sum(x_shape))
    x = rng.standard_normal(x_shape)
    x[0, 0, :2, :2] = 1.5  # a tie: the first maximum in row-major order takes the gradient
    param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    with fast.disabled():
        dout = rng.standard_normal(max_pool_forward(x, param)[0].shape)
    caches = []

    def run():
        out, cache = max_pool_forward(x, param)
        caches.append(cache)
        return out, max_pool_backward(dout, cache)

    got, want = fast_and_plain(run, num_threads)
    assert isinstance(caches[0], fast.FastPoolCache) == tiles
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
