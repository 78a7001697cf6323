"""ThreeLayerConvNet: conv - relu - 2x2 max pool - affine - relu - [dropout] - affine - softmax."""

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import ThreadpoolController

from ..layer_utils import conv_relu_pool_backward, conv_relu_pool_forward
from ..layers import (affine_backward, affine_forward, dropout_backward, dropout_forward,
                      relu_backward, relu_forward, softmax_loss)


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

    ``num_threads`` (default: the number of cores) runs the convolution, the bulk of the
    work, on that many shards of each batch in parallel threads.  While ``loss`` runs, BLAS
    is limited to one thread (process-wide, through threadpoolctl): OpenBLAS's own threads
    stalled badly here whenever the cores were shared (a 50x8192 @ 8192x100 product took
    208 ms on two BLAS threads against 1.9 ms on one).  Results equal the one-thread
    computation up to float rounding.
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
        if num_threads is None:
            num_threads = os.cpu_count() or 1
        if num_threads < 1:
            raise ValueError(f"ThreeLayerConvNet: num_threads must be >= 1, got {num_threads}")
        self.num_threads = int(num_threads)
        self._executor = None
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
        with _blas_controller().limit(limits=1, user_api="blas"):
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

        # Each thread takes a shard of the batch through conv - relu - pool and the hidden
        # affine layer; only the small (N, hidden) activations meet in this thread.
        shards = [slice(i[0], i[-1] + 1) for i in np.array_split(np.arange(N), self.num_threads)
                  if len(i)]

        def forward_shard(s):
            pooled, conv_cache = conv_relu_pool_forward(X[s], p["W1"], p["b1"], self.conv_param,
                                                        self.pool_param)  # (n, F, H/2, W/2)
            pooled = pooled.reshape(len(pooled), -1)  # (n, D), D = F*H/2*W/2
            return affine_forward(pooled, p["W2"], p["b2"])[0], pooled, conv_cache

        forward = self._map(forward_shard, shards)
        hidden, relu_cache = relu_forward(np.concatenate([a for a, _, _ in forward]))  # (N, hidden)
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
        da = relu_backward(dhidden, relu_cache)  # (N, hidden), before the ReLU
        grads["b2"] = da.sum(axis=0)
        W2 = p["W2"]
        grads["W2"] = np.empty_like(W2)
        # Thread j also computes block j of dW2 = pooled.T @ da, split by rows of dW2 (the
        # features), so each block comes from the whole batch and nothing needs summing.
        features = np.array_split(np.arange(W2.shape[0]), len(shards))
        C, H, W = self.input_dim
        pooled_shape = (p["W1"].shape[0], H // 2, W // 2)

        def backward_shard(j):
            s, (_, pooled, conv_cache) = shards[j], forward[j]
            f = slice(features[j][0], features[j][-1] + 1)
            pooled_all = [pooled_k[:, f] for _, pooled_k, _ in forward]  # every shard's rows
            np.matmul(np.concatenate(pooled_all).T, da, out=grads["W2"][f])
            dpooled = (da[s] @ W2.T).reshape(pooled.shape[0], *pooled_shape)  # (n, F, H/2, W/2)
            # The input images need no gradient, which saves the most expensive product.
            return conv_relu_pool_backward(dpooled, conv_cache, compute_dx=False)

        conv_grads = self._map(backward_shard, range(len(shards)))
        grads["W1"] = sum(dw for _, dw, _ in conv_grads)
        grads["b1"] = sum(db for _, _, db in conv_grads)
        if self.reg:
            for k in ("W1", "W2", "W3"):
                loss += 0.5 * self.reg * float(np.vdot(p[k], p[k]))
                grads[k] += self.reg * p[k]
        return loss, grads

    def _map(self, func, jobs):
        """[func(job) for job in jobs], on parallel threads."""
        if len(jobs) == 1:
            return [func(jobs[0])]
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.num_threads, thread_name_prefix="convnet")
        return list(self._executor.map(func, jobs))

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_executor"] = None  # threads are not picklable; a copy makes its own
        return state


@functools.cache
def _blas_controller():
    """One ThreadpoolController per process: building it scans the loaded libraries."""
    return ThreadpoolController()
