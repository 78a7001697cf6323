"""ThreeLayerConvNet and sandwich-layer tests."""

import numpy as np
import pytest

from code_base import fast

from code_base.classifiers.cnn import ThreeLayerConvNet
from code_base.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from code_base.layer_utils import (affine_relu_backward, affine_relu_forward, conv_relu_backward,
                                   conv_relu_forward, conv_relu_pool_backward, conv_relu_pool_forward)

CONV = {"stride": 1, "pad": 2}
POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}


def away_from_kinks(forward, shapes, rng, margin=1e-3, tries=200):
    """Random inputs whose ReLU pre-activations stay clear of 0 and whose pool windows have no ties.

    ``forward`` returns the pre-activation array to inspect; resample until it is clear.
    """
    for _ in range(tries):
        arrays = [rng.standard_normal(s) for s in shapes]
        if np.min(np.abs(forward(*arrays))) > margin:
            return arrays
    raise RuntimeError("could not draw inputs away from the ReLU kink")


@pytest.mark.parametrize("name", ["conv_relu_pool", "conv_relu"])
def test_conv_sandwich_gradient_check(name, kernel_path):
    rng = np.random.default_rng(231)
    from code_base.layers import conv_forward

    size = 16 if name == "conv_relu_pool" else 8
    x, w, b = away_from_kinks(lambda x, w, b: conv_forward(x, w, b, CONV)[0],
                              [(2, 3, size, size), (3, 3, 3, 3), (3,)], rng)
    if name == "conv_relu_pool":
        fwd = lambda x, w, b: conv_relu_pool_forward(x, w, b, CONV, POOL)[0]  # noqa: E731
        out, cache = conv_relu_pool_forward(x, w, b, CONV, POOL)
        bwd = conv_relu_pool_backward
    else:
        fwd = lambda x, w, b: conv_relu_forward(x, w, b, CONV)[0]  # noqa: E731
        out, cache = conv_relu_forward(x, w, b, CONV)
        bwd = conv_relu_backward
    dout = rng.standard_normal(out.shape)
    dx, dw, db = bwd(dout, cache)
    errors = {
        "dx": rel_error(dx, eval_numerical_gradient_array(lambda v: fwd(v, w, b), x, dout)),
        "dw": rel_error(dw, eval_numerical_gradient_array(lambda v: fwd(x, v, b), w, dout)),
        "db": rel_error(db, eval_numerical_gradient_array(lambda v: fwd(x, w, v), b, dout)),
    }
    assert max(errors.values()) < 1e-7, errors


def test_affine_relu_gradient_check(kernel_path):
    rng = np.random.default_rng(0)
    x, w, b = away_from_kinks(lambda x, w, b: x.reshape(2, -1) @ w + b,
                              [(2, 3, 4), (12, 10), (10,)], rng)
    out, cache = affine_relu_forward(x, w, b)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = affine_relu_backward(dout, cache)
    f = lambda x, w, b: affine_relu_forward(x, w, b)[0]  # noqa: E731
    assert rel_error(dx, eval_numerical_gradient_array(lambda v: f(v, w, b), x, dout)) < 1e-8
    assert rel_error(dw, eval_numerical_gradient_array(lambda v: f(x, v, b), w, dout)) < 1e-8
    assert rel_error(db, eval_numerical_gradient_array(lambda v: f(x, w, v), b, dout)) < 1e-8


def test_initial_loss_is_log_num_classes_and_grows_with_reg(kernel_path):
    rng = np.random.default_rng(1)
    model = ThreeLayerConvNet(seed=0)
    X = rng.standard_normal((50, 3, 32, 32))
    y = rng.integers(10, size=50)
    loss, grads = model.loss(X, y)
    assert loss == pytest.approx(np.log(10), abs=1e-3)
    model.reg = 0.5
    loss_reg, _ = model.loss(X, y)
    expected_penalty = 0.5 * 0.5 * sum(np.sum(model.params[k].astype(np.float64) ** 2)
                                       for k in ("W1", "W2", "W3"))
    assert loss_reg - loss == pytest.approx(expected_penalty, rel=1e-3)
    assert sorted(grads) == ["W1", "W2", "W3", "b1", "b2", "b3"]
    assert all(grads[k].shape == model.params[k].shape for k in grads)


@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_three_layer_convnet_gradient_check(reg, kernel_path):
    rng = np.random.default_rng(231)
    X = rng.standard_normal((2, 3, 16, 16))
    y = rng.integers(10, size=2)
    model = ThreeLayerConvNet(num_filters=3, filter_size=3, input_dim=(3, 16, 16), hidden_dim=7,
                              weight_scale=1e-1, reg=reg, seed=3, dtype=np.float64)
    loss, grads = model.loss(X, y)
    errors = {k: rel_error(eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[k],
                                                   h=1e-6), grads[k])
              for k in sorted(grads)}
    # The assignment allows 1e-2.  Here the worst entries are W2 gradients of ~1e-7 whose
    # centred differences carry ~1e-12 of rounding noise; a wrong gradient scores ~1.
    assert max(errors.values()) < 1e-4, errors


def test_model_scores_dtype_and_dropout_only_in_training(kernel_path):
    model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=20,
                              dropout=0.5, seed=0, weight_scale=1e-1)
    X = np.random.default_rng(2).standard_normal((4, 3, 8, 8))  # float64 data into a float32 model
    s1, s2 = model.loss(X), model.loss(X)
    assert s1.dtype == np.float32 and s1.shape == (4, 10)
    np.testing.assert_array_equal(s1, s2)  # test mode: no dropout, deterministic
    loss, grads = model.loss(X, np.array([0, 1, 2, 3]))
    assert all(g.dtype == np.float32 for g in grads.values())
    assert np.isfinite(loss)


def test_same_seed_same_weights():
    a, b, c = (ThreeLayerConvNet(seed=s) for s in (5, 5, 6))
    np.testing.assert_array_equal(a.params["W1"], b.params["W1"])
    assert not np.array_equal(a.params["W1"], c.params["W1"])
    assert a.params["W2"].shape == (32 * 16 * 16, 100)
    assert "num_filters=32" in repr(a)


@pytest.mark.parametrize("kwargs, message", [
    ({"filter_size": 4}, "filter_size must be odd"),
    ({"input_dim": (3, 31, 32)}, "needs even H and W"),
    ({"dropout": 1.0}, r"dropout \(the probability of dropping a unit\) must be a probability in \[0, 1\)"),
])
def test_bad_model_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ThreeLayerConvNet(**kwargs)


def test_bad_input_shape_names_expected_shape():
    model = ThreeLayerConvNet(seed=0)
    with pytest.raises(ValueError, match=r"X has shape \(2, 3, 28, 28\), expected \(N, 3, 32, 32\)"):
        model.loss(np.zeros((2, 3, 28, 28)))


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("num_threads", [2, 3, 7])
def test_threaded_step_equals_single_thread(dtype, tol, num_threads):
    rng = np.random.default_rng(11)
    X = rng.standard_normal((7, 3, 8, 8))
    y = rng.integers(10, size=7)
    kwargs = dict(input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=12, reg=0.1,
                  dropout=0.3, weight_scale=1e-1, dtype=dtype)
    single = ThreeLayerConvNet(seed=4, **kwargs)
    threaded = ThreeLayerConvNet(seed=4, **kwargs)
    # The model only composes layers: its caller sets the kernels' thread count.
    with fast.configure(num_threads=1):
        loss1, grads1 = single.loss(X, y)
        scores1 = single.loss(X)
    with fast.configure(num_threads=num_threads):
        loss2, grads2 = threaded.loss(X, y)
        scores2 = threaded.loss(X)
    assert loss2 == pytest.approx(loss1, rel=tol)
    for k in grads1:
        np.testing.assert_allclose(grads2[k], grads1[k], rtol=tol, atol=tol * np.abs(grads1[k]).max())
    np.testing.assert_allclose(scores2, scores1, rtol=tol, atol=tol)
