"""The cases of the model: ThreeLayerConvNet.init_params and ThreeLayerConvNet.loss.

The loss cases set the parameters themselves (float64, fixed seed), so they do not depend on
how the student's init_params draws its weights.
"""

import numpy as np

from ..classifiers.cnn import ThreeLayerConvNet
from ..gradient_check import eval_numerical_gradient, rel_error
from .layer_checks import NUMERIC, Case

__all__ = ["MODEL_CHECKS"]

SHAPE = dict(input_dim=(2, 6, 6), num_filters=3, filter_size=3, hidden_dim=7, num_classes=4)
WEIGHTS = ("W1", "W2", "W3")
LABEL = "input (2, 6, 6), 3 filters 3x3, hidden 7, 4 classes"


def _net(reg=0.0):
    """A tiny float64 net with fixed parameters away from ReLU kinks and pool ties."""
    net = ThreeLayerConvNet(**SHAPE, weight_scale=1e-2, reg=reg, seed=0, dtype=np.float64)
    rng = np.random.default_rng(237)
    net.params = {k: (0.3 if k.startswith("W") else 0.1) * rng.standard_normal(np.shape(v))
                  for k, v in net.params.items()}
    X = rng.standard_normal((3, 2, 6, 6))
    y = np.array([0, 3, 1])
    return net, X, y


def init_shapes(expected):
    net = ThreeLayerConvNet(**SHAPE, weight_scale=1e-2, seed=0, dtype=np.float64)
    got = net.init_params(5, 3, 20, 4, 0.5)
    want = {"W1": (5, 2, 3, 3), "b1": (5,), "W2": (5 * 3 * 3, 20), "b2": (20,), "W3": (20, 4),
            "b3": (4,)}
    label = "init_params(5, 3, 20, 4, 0.5) for input (2, 6, 6)"
    if not isinstance(got, dict) or set(got) != set(want):
        keys = sorted(got) if isinstance(got, dict) else type(got).__name__
        return Case(label, False, f"returned {keys}, expected the keys {sorted(want)}")
    for k, shape in want.items():
        if np.shape(got[k]) != shape:
            return Case(label, False, f"{k} has shape {np.shape(got[k])}, expected {shape}",
                        "W2 takes the pooled conv output: F * (H // 2) * (W // 2) inputs"
                        if k == "W2" else None)
    if any(np.any(np.asarray(got[k]) != 0) for k in ("b1", "b2", "b3")):
        return Case(label, False, "a bias is not zero", "biases start at zero")
    weights = np.concatenate([np.ravel(got[k]) for k in WEIGHTS])
    std, mean = float(np.std(weights)), float(np.mean(weights))
    ok = abs(std / 0.5 - 1) < 0.15 and abs(mean) < 0.1
    return Case(label, ok, f"weights: std {std:.3f} (weight_scale 0.5, limit +-15%), mean {mean:.3f}",
                None if ok else "weights are weight_scale times standard normal draws")


def initial_loss(expected):
    net = ThreeLayerConvNet(**SHAPE, weight_scale=1e-3, seed=0, dtype=np.float64)
    X = np.random.default_rng(238).standard_normal((8, 2, 6, 6))
    loss, _ = net.loss(X, np.arange(8) % 4)
    want = np.log(4)
    error = abs(float(loss) - want) / want
    return Case(f"initial loss, weight_scale 1e-3, {LABEL}", error < 1e-2,
                f"loss {float(loss):.4f}, log(4) = {want:.4f}: rel error {error:.1e} (limit 1e-02)",
                None if error < 1e-2 else "with tiny weights every class is equally likely")


def loss_gradients(expected):
    net, X, y = _net()
    _, grads = net.loss(X, y)
    worst, where = 0.0, None
    for k in sorted(net.params):
        num = eval_numerical_gradient(lambda _: net.loss(X, y)[0], net.params[k], h=1e-6)
        if k not in grads or np.shape(grads[k]) != np.shape(num):
            return Case(f"numerical gradient, {LABEL}", False,
                        f"grads[{k!r}] is missing or shaped {np.shape(grads.get(k))}")
        error = rel_error(grads[k], num)
        if not error <= worst:
            worst, where = error, k
    ok = worst <= NUMERIC
    return Case(f"numerical gradient, {LABEL}", ok,
                f"rel error {worst:.1e}{f' in {where}' if not ok else ''} (limit {NUMERIC:.0e})")


def regularisation(expected):
    net, X, y = _net()
    reg = 0.7
    loss0, grads0 = net.loss(X, y)
    net.reg = reg
    loss1, grads1 = net.loss(X, y)
    p = net.params
    want = 0.5 * reg * sum(float(np.sum(p[k] ** 2)) for k in WEIGHTS)
    error = rel_error(loss1 - loss0, want)
    for k in WEIGHTS:
        error = max(error, rel_error(grads1[k] - grads0[k], reg * p[k]))
    ok = error <= NUMERIC
    return Case(f"reg = {reg}: loss and gradients against reg = 0, {LABEL}", ok,
                f"rel error {error:.1e} (limit {NUMERIC:.0e})",
                None if ok else "add 0.5 * reg * sum(W**2) to the loss and reg * W to each weight's "
                                "gradient, for W1, W2 and W3")


MODEL_CHECKS = {
    "ThreeLayerConvNet.init_params": (init_shapes,),
    "ThreeLayerConvNet.loss": (initial_loss, loss_gradients, regularisation),
}
