"""ThreeLayerConvNet: conv - relu - 2x2 max pool - affine - relu - [dropout] - affine - softmax."""

import numpy as np

from ..layer_utils import (affine_relu_backward, affine_relu_forward, conv_relu_pool_backward,
                           conv_relu_pool_forward)
from ..layers import (affine_backward, affine_forward, dropout_backward, dropout_forward,
                      softmax_loss)
from ..utils.checks import check_int, check_labels, check_probability, check_real

__all__ = ["ThreeLayerConvNet"]


class ThreeLayerConvNet:
    """A three-layer convolutional network for inputs of shape (N, C, H, W).

    conv (F filters of size filter_size, stride 1, size-preserving padding) - relu -
    2x2 max pool (stride 2) - affine (hidden_dim) - relu - [dropout] - affine (num_classes)
    - softmax.  Parameters live in ``self.params``:

    - W1 (F, C, HH, WW), b1 (F,)            with HH = WW = filter_size
    - W2 (F * H/2 * W/2, hidden_dim), b2 (hidden_dim,)
    - W3 (hidden_dim, num_classes), b3 (num_classes,)

    Padding is the assignment's TOTAL padding, so size-preserving means
    ``pad = filter_size - 1`` (filter_size must be odd).  ``dropout`` is the probability
    of dropping a hidden unit (0 disables the layer).  ``seed`` seeds the generator used
    for the initial weights and the dropout masks.

    The model only composes layers: how they run (thread counts, kernels) is its caller's choice.
    """

    def __init__(self, input_dim=(3, 32, 32), num_filters=32, filter_size=7, hidden_dim=100,
                 num_classes=10, weight_scale=1e-3, reg=0.0, dropout=0.0, seed=None,
                 dtype=np.float32):
        where = "ThreeLayerConvNet"
        if len(input_dim) != 3:
            raise ValueError(f"{where}: input_dim must be (C, H, W), got {input_dim}")
        C, H, W = (check_int(where, "input_dim", v, 1) for v in input_dim)
        F = check_int(where, "num_filters", num_filters, 1)
        fs = check_int(where, "filter_size", filter_size, 1)
        if fs % 2 == 0:
            raise ValueError(f"{where}: filter_size must be odd for size-preserving padding, "
                             f"got {filter_size}")
        if H % 2 or W % 2:
            raise ValueError(f"{where}: the 2x2 pool needs even H and W, got {H}x{W}")
        hidden_dim = check_int(where, "hidden_dim", hidden_dim, 1)
        num_classes = check_int(where, "num_classes", num_classes, 1)
        weight_scale = check_real(where, "weight_scale", weight_scale, 0, low_open=True)
        self.reg = check_real(where, "reg", reg, 0)
        dropout = check_probability(where, "dropout (the probability of dropping a unit)",
                                    dropout, allow_one=False)
        self.dtype = np.dtype(dtype)
        self.input_dim = (C, H, W)
        self.conv_param = {"stride": 1, "pad": fs - 1}
        self.pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
        self.rng = np.random.default_rng(seed)
        self.dropout_param = None
        if dropout > 0:
            self.dropout_param = {"mode": "train", "p": dropout, "rng": self.rng}
        params = self.init_params(F, fs, hidden_dim, num_classes, weight_scale)
        self.params = {k: v.astype(self.dtype) for k, v in params.items()}

    def init_params(self, num_filters, filter_size, hidden_dim, num_classes, weight_scale):
        """The initial parameters: weights ~ weight_scale * N(0, 1) (from self.rng), biases 0.

        Returns {name: array} with, for input_dim (C, H, W) and F = num_filters:
        W1 (F, C, filter_size, filter_size), b1 (F,); W2 (F * H/2 * W/2, hidden_dim),
        b2 (hidden_dim,); W3 (hidden_dim, num_classes), b3 (num_classes,).
        """
        C, H, W = self.input_dim
        F, fs = num_filters, filter_size
        return {
            "W1": weight_scale * self.rng.standard_normal((F, C, fs, fs)),
            "b1": np.zeros(F),
            # The 2x2 pool halves H and W: the hidden layer sees F * H/2 * W/2 values.
            "W2": weight_scale * self.rng.standard_normal((F * (H // 2) * (W // 2), hidden_dim)),
            "b2": np.zeros(hidden_dim),
            "W3": weight_scale * self.rng.standard_normal((hidden_dim, num_classes)),
            "b3": np.zeros(num_classes),
        }

    def __repr__(self):
        F, C, fs, _ = self.params["W1"].shape
        hidden, classes = self.params["W3"].shape
        p = self.dropout_param["p"] if self.dropout_param else 0.0
        return (f"ThreeLayerConvNet(input_dim={self.input_dim}, num_filters={F}, filter_size={fs}, "
                f"hidden_dim={hidden}, num_classes={classes}, reg={self.reg}, dropout={p}, "
                f"dtype={self.dtype.name})")

    def loss(self, X, y=None):
        """Scores, or loss and gradients.

        Inputs: X (N, C, H, W); y (N,) integer labels or None.
        Returns scores (N, num_classes) when y is None (test mode: no dropout); else
        (loss, grads) with grads[k] shaped like params[k].  The loss includes the L2 term
        0.5 * reg * sum(W**2) over W1, W2, W3.
        """
        X, y = self._check_inputs(X, y)
        p, drop = self.params, self.dropout_param
        h1, cache1 = conv_relu_pool_forward(X, p["W1"], p["b1"], self.conv_param,
                                            self.pool_param)  # (N, F, H/2, W/2)
        h2, cache2 = affine_relu_forward(h1, p["W2"], p["b2"])  # (N, hidden_dim)
        if drop is not None:
            drop["mode"] = "test" if y is None else "train"
            h2, cache_drop = dropout_forward(h2, drop)
        scores, cache3 = affine_forward(h2, p["W3"], p["b3"])  # (N, num_classes)
        if y is None:
            return scores

        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dh2, grads["W3"], grads["b3"] = affine_backward(dscores, cache3)
        if drop is not None:
            dh2 = dropout_backward(dh2, cache_drop)
        dh1, grads["W2"], grads["b2"] = affine_relu_backward(dh2, cache2)
        # The images need no gradient: skipping it saves the most expensive product.
        _, grads["W1"], grads["b1"] = conv_relu_pool_backward(dh1, cache1, compute_dx=False)
        if self.reg:  # L2 regularisation: 0.5 * reg * ||W||^2 for W1, W2 and W3
            for k in ("W1", "W2", "W3"):
                loss += 0.5 * self.reg * float(np.vdot(p[k], p[k]))
                grads[k] += self.reg * p[k]
        return loss, grads

    def _check_inputs(self, X, y):
        where = "ThreeLayerConvNet.loss"
        X = np.asarray(X)
        if X.ndim != 4 or X.shape[1:] != self.input_dim:
            raise ValueError(f"{where}: X has shape {X.shape}, expected "
                             f"(N, {', '.join(map(str, self.input_dim))})")
        if X.dtype.kind not in "biuf":
            raise ValueError(f"{where}: X must hold real numbers, got dtype {X.dtype}")
        if y is not None:
            y = check_labels(where, y, X.shape[0], self.params["W3"].shape[1])
            if X.shape[0] == 0:
                raise ValueError(f"{where}: the batch is empty (N = 0): it has no mean loss")
        return X.astype(self.dtype, copy=False), y
