"""Layer tests: the assignment's worked values, gradient checks, dtypes and error messages."""

import numpy as np
import pytest

from code_base import fast
from code_base.check import reference
from code_base.im2col import col2im, im2col
from code_base.gradient_check import eval_numerical_gradient_array, rel_error
from code_base.layer_utils import (affine_relu_forward, conv_relu_pool_backward,
                                   conv_relu_pool_forward)
from code_base.layers import (affine_backward, affine_forward, conv_backward, conv_forward,
                              dropout_backward, dropout_forward, max_pool_backward,
                              max_pool_forward, relu_backward, relu_forward, softmax_loss, svm_loss)

POOL2 = {"pool_height": 2, "pool_width": 2, "stride": 2}


def test_conv_forward_matches_assignment_reference(kernel_path):
    x, w, b, conv_param, correct = reference.conv_forward_example()
    assert conv_param == {"stride": 2, "pad": 2}
    out, _ = conv_forward(x, w, b, conv_param)
    assert out.shape == (2, 3, 2, 2)
    assert rel_error(out, correct) < reference.TOLERANCE


def naive_conv(x, w, b, stride, pad):
    """Sliding-window oracle: a direct loop over output pixels."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    p = pad // 2
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    H_out, W_out = 1 + (H + pad - HH) // stride, 1 + (W + pad - WW) // stride
    out = np.zeros((N, F, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            patch = xp[:, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out


@pytest.mark.parametrize("shape_x, shape_w, stride, pad", [
    ((2, 3, 7, 7), (4, 3, 3, 3), 1, 2),
    ((2, 3, 7, 9), (4, 3, 3, 5), 2, 4),
    ((1, 2, 6, 6), (3, 2, 4, 4), 2, 0),
    ((3, 1, 5, 5), (2, 1, 5, 5), 1, 0),
    ((2, 3, 8, 8), (2, 3, 7, 7), 1, 6),
])
def test_conv_forward_matches_naive_loop(shape_x, shape_w, stride, pad, kernel_path):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(shape_x), rng.standard_normal(shape_w)
    b = rng.standard_normal(shape_w[0])
    out, _ = conv_forward(x, w, b, {"stride": stride, "pad": pad})
    assert rel_error(out, naive_conv(x, w, b, stride, pad)) < 1e-10


def test_total_pad_is_split_over_both_sides(kernel_path):
    # A 1x1 identity filter shows the padding itself: pad=2 adds ONE zero on each side.
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    out, _ = conv_forward(x, np.ones((1, 1, 1, 1)), np.zeros(1), {"stride": 1, "pad": 2})
    assert out.shape == (1, 1, 5, 5)
    np.testing.assert_array_equal(out[0, 0, 1:4, 1:4], x[0, 0])
    assert out[0, 0, 0].sum() == 0 and out[0, 0, :, 0].sum() == 0


def test_col2im_is_the_adjoint_of_im2col():
    # <im2col(x), c> == <x, col2im(c)> for every x, c defines the adjoint.
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 7, 9))
    cols = im2col(x, 3, 5, 2, 4)
    c = rng.standard_normal(cols.shape)
    assert np.isclose(np.sum(cols * c), np.sum(x * col2im(c, x.shape, 3, 5, 2, 4)), rtol=1e-12)


@pytest.mark.parametrize("shape_x, shape_w, stride, pad", [
    ((4, 3, 5, 5), (2, 3, 3, 3), 1, 2),   # the assignment's conv_backward shapes
    ((2, 3, 7, 9), (4, 3, 3, 5), 2, 4),
    ((2, 2, 6, 6), (3, 2, 4, 4), 2, 0),
])
def test_conv_backward_gradient_check(shape_x, shape_w, stride, pad, kernel_path):
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal(shape_x), rng.standard_normal(shape_w)
    b = rng.standard_normal(shape_w[0])
    param = {"stride": stride, "pad": pad}
    out, cache = conv_forward(x, w, b, param)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv_backward(dout, cache)
    errors = {
        "dx": rel_error(dx, eval_numerical_gradient_array(lambda v: conv_forward(v, w, b, param)[0], x, dout)),
        "dw": rel_error(dw, eval_numerical_gradient_array(lambda v: conv_forward(x, v, b, param)[0], w, dout)),
        "db": rel_error(db, eval_numerical_gradient_array(lambda v: conv_forward(x, w, v, param)[0], b, dout)),
    }
    assert max(errors.values()) < 1e-7, errors
    no_dx, dw2, db2 = conv_backward(dout, cache, compute_dx=False)
    assert no_dx is None
    np.testing.assert_array_equal(dw2, dw)
    np.testing.assert_array_equal(db2, db)


def test_max_pool_forward_matches_assignment_reference(kernel_path):
    x, pool_param, correct = reference.max_pool_forward_example()
    assert pool_param == POOL2
    out, _ = max_pool_forward(x, pool_param)
    assert rel_error(out, correct) < reference.TOLERANCE


@pytest.mark.parametrize("shape, param", [
    ((3, 2, 10, 10), POOL2),   # the assignment's maxpool_backward shapes
    ((2, 3, 7, 7), {"pool_height": 3, "pool_width": 3, "stride": 2}),   # overlapping windows
    ((2, 2, 6, 8), {"pool_height": 3, "pool_width": 2, "stride": 1}),
    ((2, 2, 8, 8), {"pool_height": 2, "pool_width": 2, "stride": 3}),   # gaps between windows
])
def test_max_pool_backward_gradient_check(shape, param):
    # A permutation of spaced values has no ties, so the numeric gradient is well defined.
    rng = np.random.default_rng(3)
    x = rng.permutation(np.prod(shape)).reshape(shape) * 0.01
    out, cache = max_pool_forward(x, param)
    dout = rng.standard_normal(out.shape)
    dx = max_pool_backward(dout, cache)
    dx_num = eval_numerical_gradient_array(lambda v: max_pool_forward(v, param)[0], x, dout)
    assert rel_error(dx, dx_num) < 1e-8


def test_max_pool_backward_routes_ties_to_the_first_maximum():
    x = np.zeros((1, 1, 2, 4))
    x[0, 0, :, 2:] = [[1.0, 3.0], [3.0, 3.0]]
    out, cache = max_pool_forward(x, POOL2)
    dx = max_pool_backward(np.array([[[[5.0, 7.0]]]]), cache)
    expected = np.array([[5.0, 0, 0, 7.0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(dx[0, 0], expected)


@pytest.mark.parametrize("shape, param, tiles", [
    ((2, 3, 4, 6), POOL2, True),  # the fast kernel's case: windows that tile the input
    ((2, 3, 5, 5), {"pool_height": 3, "pool_width": 3, "stride": 2}, False),  # overlapping
])
def test_a_nan_is_the_maximum_of_its_window_and_its_first_nan_takes_the_gradient(shape, param,
                                                                                  tiles):
    # One rule on both paths: np.maximum propagates NaN, so a window holding one pools to NaN,
    # and its gradient goes to the window's first NaN in row-major order (not to the number).
    x = np.arange(np.prod(shape), dtype=float).reshape(shape)
    x[0, 1, 0, 1] = x[0, 1, 1, 0] = np.nan  # both in the first window of channel 1
    x[1, 2, 1, 1] = np.nan  # after the window's larger numbers
    results = {}
    for name, switch in (("fast", fast.configure()), ("plain", fast.disabled())):
        with switch:
            out, cache = max_pool_forward(x, param)
            assert isinstance(cache, fast.FastPoolCache) == (tiles and name == "fast")
            results[name] = out, max_pool_backward(np.full(out.shape, 3.0), cache)
    out, dx = results["plain"]
    assert np.isnan(out[0, 1, 0, 0]) and np.isnan(out[1, 2, 0, 0])
    assert np.isfinite(np.delete(out.ravel(), [np.ravel_multi_index(i, out.shape)
                                              for i in ((0, 1, 0, 0), (1, 2, 0, 0))])).all()
    assert dx[0, 1, 0, 1] == 3.0 and dx[0, 1, 1, 0] == 0.0 and dx[0, 1, 0, 0] == 0.0
    assert dx[1, 2, 1, 1] == 3.0 and dx[1, 2, :2, :2].sum() == 3.0
    for got, want in zip(results["fast"], results["plain"]):
        np.testing.assert_array_equal(got, want)  # NaN where NaN, equal elsewhere


@pytest.mark.parametrize("x_dtype, w_dtype, b_dtype, out_dtype", [
    (np.float32, np.float32, np.float32, np.float32),
    (np.float32, np.float32, np.float64, np.float64),  # a float64 bias
    (np.float32, np.float64, np.float32, np.float64),
    (np.float64, np.float32, np.float32, np.float64),
])
def test_conv_output_has_the_dtype_of_x_times_w_plus_b_on_both_paths(x_dtype, w_dtype, b_dtype,
                                                                      out_dtype, kernel_path):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 3, 6, 6)).astype(x_dtype)
    w, b = rng.standard_normal((4, 3, 3, 3)).astype(w_dtype), rng.standard_normal(4).astype(b_dtype)
    param = {"stride": 1, "pad": 2}
    out, cache = conv_forward(x, w, b, param)
    pooled, pool_cache = conv_relu_pool_forward(x, w, b, param, POOL2)  # fused on the fast path
    grads = (*conv_backward(np.ones_like(out), cache),
             *conv_relu_pool_backward(np.ones_like(pooled), pool_cache))
    assert out.dtype == pooled.dtype == out_dtype
    assert all(g.dtype == out_dtype for g in grads), [g.dtype for g in grads]


def test_affine_and_relu_gradient_check(kernel_path):
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((5, 2, 3)), rng.standard_normal((6, 4)), rng.standard_normal(4)
    out, cache = affine_forward(x, w, b)
    np.testing.assert_allclose(out, x.reshape(5, 6) @ w + b)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = affine_backward(dout, cache)
    assert rel_error(dx, eval_numerical_gradient_array(lambda v: affine_forward(v, w, b)[0], x, dout)) < 1e-8
    assert rel_error(dw, eval_numerical_gradient_array(lambda v: affine_forward(x, v, b)[0], w, dout)) < 1e-8
    assert rel_error(db, eval_numerical_gradient_array(lambda v: affine_forward(x, w, v)[0], b, dout)) < 1e-8
    # ReLU inputs kept at least 0.1 away from the kink at 0.
    z = rng.uniform(0.1, 1.0, size=(4, 5)) * rng.choice([-1.0, 1.0], size=(4, 5))
    dz = rng.standard_normal(z.shape)
    dr = relu_backward(dz, relu_forward(z)[1])
    assert rel_error(dr, eval_numerical_gradient_array(lambda v: relu_forward(v)[0], z, dz)) < 1e-9
    np.testing.assert_array_equal(relu_forward(np.array([-1.0, 0.0, 2.0]))[0], [0.0, 0.0, 2.0])


@pytest.mark.parametrize("loss_fn", [softmax_loss, svm_loss])
def test_loss_gradient_check(loss_fn):
    rng = np.random.default_rng(5)
    x = 0.5 * rng.standard_normal((8, 5))
    y = rng.integers(5, size=8)
    loss, dx = loss_fn(x, y)
    dx_num = eval_numerical_gradient_array(lambda v: np.array(loss_fn(v, y)[0]), x, np.array(1.0))
    assert rel_error(dx, dx_num) < 1e-7
    assert isinstance(loss, float)


def test_softmax_loss_values():
    # Uniform scores: loss is exactly log C.  Huge scores must not overflow.
    loss, _ = softmax_loss(np.zeros((3, 10)), np.array([0, 4, 9]))
    assert loss == pytest.approx(np.log(10))
    loss, _ = softmax_loss(np.array([[1000.0, 0.0]]), np.array([0]))
    assert loss == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("p", [0.3, 0.5, 0.8])
def test_dropout_train_statistics(p):
    x = np.full((200, 500), 10.0) + np.random.default_rng(6).uniform(0.1, 1.0, size=(200, 500))
    out, cache = dropout_forward(x, {"mode": "train", "p": p, "seed": 123})
    dropped = out == 0
    n = x.size
    assert abs(dropped.sum() - n * p) <= 5 * np.sqrt(n * p * (1 - p))
    np.testing.assert_allclose(out[~dropped], x[~dropped] / (1 - p), rtol=1e-15)
    dout = np.random.default_rng(7).standard_normal(x.shape)
    dx = dropout_backward(dout, cache)
    np.testing.assert_array_equal(dx == 0, dropped)
    np.testing.assert_allclose(dx[~dropped], dout[~dropped] / (1 - p), rtol=1e-15)


def test_dropout_test_mode_is_identity_and_seed_reproducible():
    x = np.random.default_rng(8).standard_normal((20, 20))
    out, cache = dropout_forward(x, {"mode": "test", "p": 0.7})
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(dropout_backward(x * 2, cache), x * 2)
    a, _ = dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 1})
    b, _ = dropout_forward(x, {"mode": "train", "p": 0.5, "rng": np.random.default_rng(1)})
    c, _ = dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 2})
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_dropout_gradient_check():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((6, 7)) + 10
    dout = rng.standard_normal(x.shape)
    param = {"mode": "train", "p": 0.4, "seed": 42}  # the same seed gives the same mask each call
    _, cache = dropout_forward(x, param)
    dx_num = eval_numerical_gradient_array(lambda v: dropout_forward(v, param)[0], x, dout)
    assert rel_error(dropout_backward(dout, cache), dx_num) < 1e-9


def test_layers_keep_float32(kernel_path):
    rng = np.random.default_rng(10)
    f32 = np.float32
    x = rng.standard_normal((2, 3, 8, 8)).astype(f32)
    w, b = rng.standard_normal((4, 3, 3, 3)).astype(f32), np.zeros(4, f32)
    out, cache = conv_forward(x, w, b, {"stride": 1, "pad": 2})
    grads = conv_backward(np.ones_like(out), cache)
    pooled, pcache = max_pool_forward(out, POOL2)
    fc, fcache = affine_forward(pooled, rng.standard_normal((4 * 16, 5)).astype(f32), np.zeros(5, f32))
    dropped, dcache = dropout_forward(fc, {"mode": "train", "p": 0.5, "seed": 0})
    loss, dscores = softmax_loss(dropped, np.array([0, 3]))
    arrays = [out, *grads, pooled, max_pool_backward(pooled, pcache), fc, *affine_backward(fc, fcache),
              relu_forward(fc)[0], dropped, dropout_backward(dropped, dcache), dscores,
              svm_loss(fc, np.array([1, 2]))[1]]
    assert [a.dtype for a in arrays] == [np.dtype(f32)] * len(arrays)


@pytest.mark.parametrize("call, message", [
    (lambda: conv_forward(np.zeros((1, 3, 6, 6)), np.zeros((2, 3, 3, 3)), np.zeros(2),
                          {"stride": 2, "pad": 2}),
     r"\(H \+ pad - HH\) = 5 is not divisible by stride 2"),
    (lambda: conv_forward(np.zeros((1, 3, 6, 6)), np.zeros((2, 4, 3, 3)), np.zeros(2),
                          {"stride": 1, "pad": 2}),
     "x has 3 channels but w expects 4"),
    (lambda: conv_forward(np.zeros((1, 3, 6, 6)), np.zeros((2, 3, 3, 3)), np.zeros(2),
                          {"stride": 1, "pad": 1}),
     "pad is the total padding and must be even"),
    (lambda: conv_forward(np.zeros((1, 3, 6, 6)), np.zeros((2, 3, 3, 3)), np.zeros(3),
                          {"stride": 1, "pad": 2}),
     r"b has shape \(3,\), expected \(2,\)"),
    (lambda: conv_forward(np.zeros((1, 3, 6, 6)), np.zeros((2, 3, 3, 3)), np.zeros(2), {"stride": 1}),
     r"conv_param is missing \['pad'\]"),
    (lambda: conv_forward(np.zeros((1, 3, 6, 6)), np.zeros((2, 3, 3, 3)), np.zeros(2),
                          {"stride": 0, "pad": 2}),
     "stride must be an integer >= 1"),
    (lambda: conv_forward(np.zeros((3, 6, 6)), np.zeros((2, 3, 3, 3)), np.zeros(2),
                          {"stride": 1, "pad": 2}),
     "x must have 4 dimensions"),
    (lambda: max_pool_forward(np.zeros((1, 1, 5, 5)), POOL2),
     r"does not tile the input 5x5"),
    (lambda: max_pool_forward(np.zeros((1, 1, 2, 2)), {"pool_height": 3, "pool_width": 3, "stride": 1}),
     "pool window 3x3 does not fit the input 2x2"),
    (lambda: max_pool_forward(np.zeros((1, 1, 4, 4)), {"pool_size": 2, "stride": 2}),
     r"pool_param is missing \['pool_height', 'pool_width'\]"),
    (lambda: dropout_forward(np.zeros(3), {"mode": "train", "p": 1.0}),
     r"p \(the probability of dropping a unit\) must be a probability in \[0, 1\)"),
    (lambda: dropout_forward(np.zeros(3), {"mode": "eval", "p": 0.5}),
     "mode must be 'train' or 'test'"),
    (lambda: dropout_forward(np.zeros(3), {"mode": "train", "p": 0.5, "keep": 0.5}),
     r"unknown keys \['keep'\]"),
    (lambda: affine_forward(np.zeros((2, 5)), np.zeros((6, 3)), np.zeros(3)),
     r"w has shape \(6, 3\) \(D = 6\)"),
    (lambda: affine_forward(np.zeros((0, 5)), np.zeros((6, 3)), np.zeros(3)),  # an empty batch
     r"x of shape \(0, 5\) flattens to 5 values per example, but w has shape \(6, 3\)"),
    (lambda: affine_relu_forward(np.zeros((0, 2, 2)), np.zeros((6, 3)), np.zeros(3)),
     r"x of shape \(0, 2, 2\) flattens to 4 values per example, but w has shape \(6, 3\)"),
    (lambda: softmax_loss(np.zeros((2, 3)), np.array([0, 3])),
     r"labels must be integers in \[0, 3\)"),
])
def test_bad_input_raises_clear_error(call, message, kernel_path):

    with pytest.raises(ValueError, match=message):
        call()
