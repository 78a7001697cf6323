"""ThreeLayerConvNet: conv - relu - 2x2 max pool - affine - relu - [dropout] - affine - softmax."""

import numpy as np

from .. import buffers
from ..layer_utils import conv_relu_pool_backward, conv_relu_pool_forward
from ..layers import (affine_backward, affine_forward, dropout_backward, dropout_forward,
                      relu_backward, relu_forward, softmax_loss)
from ..parallel import parallel_map, resolve_threads, single_threaded_blas, split


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

    ``num_threads`` (default: the number of cores) splits each batch's work over that many
    threads (:mod:`code_base.parallel`): the convolution by images, the hidden affine layer
    by blocks of W2.  While ``loss`` runs, BLAS is limited to one thread, process-wide.
    Results equal the one-thread computation up to float rounding.
    """

    def __init__(self, input_dim=(3, 32, 32), num_filters=32, filter_size=7, hidden_dim=100,
                 num_classes=10, weight_scale=1e-3, reg=0.0, dropout=0.0, seed=None,
                 dtype=np.float32, num_threads=None):
        if len(input_dim) != 3:
            raise ValueError(f"ThreeLayerConvNet: input_dim must be (C, H, W), got {input_dim}")
        C, H, W = input_dim
        if filter_size < 1 or filter_size % 2 == 0:
            raise ValueError(f"ThreeLayerConvNet: filter_size must be odd for size-preserving "
                             f"padding, got {filter_size}")
        if H % 2 or W % 2:
            raise ValueError(f"ThreeLayerConvNet: the 2x2 pool needs even H and W, got {H}x{W}")
        if not 0 <= dropout < 1:
            raise ValueError(f"ThreeLayerConvNet: dropout (probability of dropping) must be in "
                             f"[0, 1), got {dropout}")
        self.num_threads = resolve_threads("ThreeLayerConvNet", num_threads)
        self.reg = reg
        self.dtype = np.dtype(dtype)
        self.input_dim = tuple(input_dim)
        self.conv_param = {"stride": 1, "pad": filter_size - 1}
        self.pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
        self.rng = np.random.default_rng(seed)
        self.dropout_param = None
        if dropout > 0:
            self.dropout_param = {"mode": "train", "p": dropout, "rng": self.rng}

        F, fs = num_filters, filter_size
        shapes = {
            "W1": (F, C, fs, fs), "b1": (F,),
            "W2": (F * (H // 2) * (W // 2), hidden_dim), "b2": (hidden_dim,),
            "W3": (hidden_dim, num_classes), "b3": (num_classes,),
        }
        self.params = {}
        for name, shape in shapes.items():
            if name.startswith("W"):
                value = weight_scale * self.rng.standard_normal(shape)
            else:
                value = np.zeros(shape)
            self.params[name] = value.astype(self.dtype)

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
        with single_threaded_blas():
            return self._loss(X, y)

    def _loss(self, X, y):
        X = np.asarray(X)
        if X.ndim != 4 or X.shape[1:] != self.input_dim:
            raise ValueError(f"ThreeLayerConvNet.loss: X has shape {X.shape}, expected "
                             f"(N, {', '.join(map(str, self.input_dim))})")
        X = X.astype(self.dtype, copy=False)
        N = X.shape[0]
        train = y is not None
        if train:
            y = np.asarray(y)
            if y.shape != (N,):
                raise ValueError(f"ThreeLayerConvNet.loss: y has shape {y.shape}, expected ({N},)")
        p = self.params
        W2 = p["W2"]
        D, hidden_dim = W2.shape
        threads = self.num_threads
        # Threads split the convolution by images, the hidden affine layer by blocks of W2
        # (so each thread reads only its part of W2).
        features = split(D, threads)  # row blocks of W2
        units = split(hidden_dim, threads)  # column blocks of W2
        out, conv_cache = conv_relu_pool_forward(X, p["W1"], p["b1"], self.conv_param,
                                                 self.pool_param, threads)  # (N, F, H/2, W/2)
        pooled = buffers.empty((N, D), self.dtype)  # D = F*H/2*W/2
        pooled.reshape(out.shape)[...] = out
        a = np.empty((N, hidden_dim), dtype=self.dtype)  # (N, hidden), before the ReLU
        parallel_map(lambda u: np.matmul(pooled, W2[:, u], out=a[:, u]), units, threads)
        a += p["b2"]
        hidden, relu_cache = relu_forward(a)
        drop_cache = None
        if self.dropout_param is not None:
            self.dropout_param["mode"] = "train" if train else "test"
            hidden, drop_cache = dropout_forward(hidden, self.dropout_param)
        scores, scores_cache = affine_forward(hidden, p["W3"], p["b3"])  # (N, num_classes)
        if not train:
            return scores

        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dhidden, grads["W3"], grads["b3"] = affine_backward(dscores, scores_cache)
        if drop_cache is not None:
            dhidden = dropout_backward(dhidden, drop_cache)
        da = relu_backward(dhidden, relu_cache)  # (N, hidden)
        grads["b2"] = da.sum(axis=0)
        grads["W2"] = dW2 = buffers.empty(W2.shape, W2.dtype)
        dpooled = buffers.empty((N, D), self.dtype)

        def affine_block(f):
            np.matmul(pooled[:, f].T, da, out=dW2[f])  # (d, N) @ (N, hidden)
            np.matmul(da, W2[f].T, out=dpooled[:, f])  # (N, hidden) @ (hidden, d)
            if self.reg:  # W2 is the largest weight: its L2 term is worth splitting too
                dW2[f] += self.reg * W2[f]
                return float(np.vdot(W2[f], W2[f]))
            return 0.0

        w2_sq = sum(parallel_map(affine_block, features, threads))
        # The input images need no gradient, which saves the most expensive product.
        _, grads["W1"], grads["b1"] = conv_relu_pool_backward(
            dpooled.reshape(out.shape), conv_cache, compute_dx=False, num_threads=threads)
        if self.reg:
            loss += 0.5 * self.reg * w2_sq
            for k in ("W1", "W3"):
                loss += 0.5 * self.reg * float(np.vdot(p[k], p[k]))
                grads[k] += self.reg * p[k]
        return loss, grads
