"""Layers of the network, each a pure pair of functions.

``x_forward(inputs..., params) -> (out, cache)`` and ``x_backward(dout, cache) -> grads``.
Convolution and pooling live in :mod:`code_base.conv` and :mod:`code_base.pool` and are
re-exported here, so ``from code_base.layers import *`` gives every layer.
Every function keeps the floating-point dtype of its inputs.
"""

import numbers

import numpy as np

from ._checks import check_array, check_params
from .conv import conv_backward, conv_forward
from .pool import max_pool_backward, max_pool_forward

__all__ = [
    "affine_forward", "affine_backward", "relu_forward", "relu_backward",
    "conv_forward", "conv_backward", "max_pool_forward", "max_pool_backward",
    "dropout_forward", "dropout_backward", "softmax_loss", "svm_loss",
]


def affine_forward(x, w, b):
    """Fully connected layer forward pass.

    Inputs:
    - x: (N, d_1, ..., d_k), each example flattened to D = d_1 * ... * d_k values
    - w: (D, M)
    - b: (M,)

    Returns (out, cache): out (N, M) = x.reshape(N, D) @ w + b; cache (x, w).
    """
    check_array("affine_forward", "x", x)
    check_array("affine_forward", "w", w, ndim=2)
    check_array("affine_forward", "b", b, ndim=1)
    N = x.shape[0]
    D, M = w.shape
    if x.size != N * D:
        raise ValueError(f"affine_forward: x of shape {x.shape} flattens to {x.size // max(N, 1)} "
                         f"values per example, but w has shape {w.shape} (D = {D})")
    if b.shape != (M,):
        raise ValueError(f"affine_forward: b has shape {b.shape}, expected ({M},)")
    out = x.reshape(N, D) @ w  # (N, M)
    out += b
    return out, (x, w)


def affine_backward(dout, cache):
    """Fully connected layer backward pass.

    Inputs: dout (N, M); cache (x, w) from :func:`affine_forward`.
    Returns (dx, dw, db): (N, d_1, ..., d_k), (D, M), (M,).
    """
    x, w = cache
    N = x.shape[0]
    D, M = w.shape
    if dout.shape != (N, M):
        raise ValueError(f"affine_backward: dout has shape {dout.shape}, expected {(N, M)}")
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(N, D).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    """ReLU forward pass: out = max(x, 0), any shape.  Returns (out, cache=x)."""
    check_array("relu_forward", "x", x)
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    """ReLU backward pass: dx = dout where x > 0, else 0 (the kink at 0 gets 0)."""
    x = cache
    if dout.shape != x.shape:
        raise ValueError(f"relu_backward: dout has shape {dout.shape}, expected {x.shape}")
    return dout * (x > 0)


def _dropout_rng(dropout_param):
    rng = dropout_param.get("rng")
    if rng is not None:
        if not isinstance(rng, np.random.Generator):
            raise TypeError("dropout_forward: dropout_param['rng'] must be a numpy Generator")
        return rng
    return np.random.default_rng(dropout_param.get("seed"))


def dropout_forward(x, dropout_param):
    """Inverted dropout forward pass.

    Inputs:
    - x: any shape
    - dropout_param: {'mode': 'train' | 'test', 'p': probability of DROPPING a unit,
      optional 'seed': int or 'rng': np.random.Generator for the mask}

    In train mode each unit is zeroed with probability p and the kept ones are scaled by
    1 / (1 - p), so the expected output equals x and test mode is the identity.

    Returns (out, cache): out like x; cache (dropout_param, mask) where mask holds
    0 or 1/(1-p) per unit (None in test mode).
    """
    check_array("dropout_forward", "x", x)
    check_params("dropout_forward", "dropout_param", dropout_param, ("mode", "p"), ("seed", "rng"))
    mode, p = dropout_param["mode"], dropout_param["p"]
    if mode not in ("train", "test"):
        raise ValueError(f"dropout_forward: mode must be 'train' or 'test', got {mode!r}")
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p < 1:
        raise ValueError(f"dropout_forward: p (probability of dropping) must be in [0, 1), got {p!r}")
    if mode == "test":
        return x.copy(), (dropout_param, None)
    keep = _dropout_rng(dropout_param).random(x.shape, dtype=x.dtype) >= p
    mask = keep * x.dtype.type(1.0 / (1.0 - p))
    return x * mask, (dropout_param, mask)


def dropout_backward(dout, cache):
    """Inverted dropout backward pass: dx = dout * mask in train mode, dout in test mode."""
    dropout_param, mask = cache
    if dropout_param["mode"] == "test":
        return dout.copy()
    if dout.shape != mask.shape:
        raise ValueError(f"dropout_backward: dout has shape {dout.shape}, expected {mask.shape}")
    return dout * mask


def _check_scores(where, x, y):
    check_array(where, "scores", x, ndim=2)
    y = np.asarray(y)
    N, C = x.shape
    if y.shape != (N,):
        raise ValueError(f"{where}: y has shape {y.shape}, expected ({N},) for scores {x.shape}")
    if not np.issubdtype(y.dtype, np.integer) or (N and (y.min() < 0 or y.max() >= C)):
        raise ValueError(f"{where}: labels must be integers in [0, {C}), got {y.dtype} "
                         f"in [{y.min() if N else ''}, {y.max() if N else ''}]")
    return y


def softmax_loss(x, y):
    """Softmax (cross-entropy) loss, averaged over the batch.

    Inputs: x scores (N, C); y labels (N,) with 0 <= y[i] < C.
    Returns (loss, dx): a Python float and the gradient (N, C).
    """
    y = _check_scores("softmax_loss", x, y)
    N = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)  # exp of the largest is 1: no overflow
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(N), y].mean()
    dx = np.exp(log_probs)
    dx[np.arange(N), y] -= 1
    dx /= N
    return float(loss), dx


def svm_loss(x, y):
    """Multiclass SVM (hinge) loss with margin 1, averaged over the batch.

    Inputs: x scores (N, C); y labels (N,).  Returns (loss, dx (N, C)).
    """
    y = _check_scores("svm_loss", x, y)
    N = x.shape[0]
    correct = x[np.arange(N), y][:, None]
    margins = np.maximum(0, x - correct + 1)
    margins[np.arange(N), y] = 0
    loss = margins.sum() / N
    dx = (margins > 0).astype(x.dtype)
    dx[np.arange(N), y] -= dx.sum(axis=1)
    dx /= N
    return float(loss), dx
