"""The layers of the network, each a pure pair of functions, written as the textbook computation.

``x_forward(inputs..., params) -> (out, cache)`` and ``x_backward(dout, cache) -> gradients``.
Shape letters: N batch, C channels, H/W height/width, F filters, HH/WW filter size, D inputs
and M outputs of an affine layer.  Every function keeps the floating-point dtype of its inputs
and checks its arguments, naming the function, the argument and what it found.
"""

from typing import NamedTuple

import numpy as np

# The convolution and the max pool have faster kernels in code_base.fast, chosen by the first
# line of conv_forward and max_pool_forward; `with code_base.fast.disabled():` runs the code
# below that line instead (the tests compare the two).
from . import fast
from .geometry import check_affine, check_conv_bias, conv_geometry, pool_geometry
from .im2col import col2im, im2col
from .utils.checks import (check_array, check_labels, check_params, check_probability, check_rng,
                           check_shape)

__all__ = [
    "affine_forward", "affine_backward", "relu_forward", "relu_backward",
    "conv_forward", "conv_backward", "max_pool_forward", "max_pool_backward",
    "dropout_forward", "dropout_backward", "softmax_loss", "svm_loss", "ConvCache",
]


def affine_forward(x, w, b):
    """Fully connected layer forward pass.

    Inputs: x (N, d_1, ..., d_k), each example flattened to D = d_1 * ... * d_k values;
    w (D, M); b (M,).
    Returns (out, cache): out (N, M) = x.reshape(N, D) @ w + b; cache (x, w).
    """
    N, D, M = check_affine("affine_forward", x, w, b)
    out = x.reshape(N, D) @ w + b  # (N, M)
    return out, (x, w)


def affine_backward(dout, cache):
    """Fully connected layer backward pass.

    Inputs: dout (N, M); cache (x, w) from :func:`affine_forward`.
    Returns (dx, dw, db): (N, d_1, ..., d_k), (D, M), (M,).
    """
    x, w = cache
    N = x.shape[0]
    D, M = w.shape
    check_array("affine_backward", "dout", dout, ndim=2)
    check_shape("affine_backward", "dout", dout, (N, M))
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
    check_array("relu_backward", "dout", dout)
    check_shape("relu_backward", "dout", dout, x.shape)
    return dout * (x > 0)


class ConvCache(NamedTuple):
    """What :func:`conv_backward` needs from the forward pass."""
    x_shape: tuple      # (N, C, H, W)
    w: np.ndarray       # (F, C, HH, WW)
    cols: np.ndarray    # (C*HH*WW, N*H_out*W_out), every receptive field as a column
    stride: int
    pad: int


def conv_forward(x, w, b, conv_param):
    """Convolution layer forward pass, as one matrix product (im2col).

    Inputs:
    - x: input, (N, C, H, W)
    - w: filters, (F, C, HH, WW)
    - b: biases, (F,)
    - conv_param: {'stride': S >= 1, 'pad': the TOTAL zero padding P, even: P/2 per side}

    Returns (out, cache):
    - out: (N, F, H_out, W_out), H_out = 1 + (H + P - HH) / S, W_out = 1 + (W + P - WW) / S
    - cache: for :func:`conv_backward`
    """
    if fast.enabled():  # the same product, sharded over threads, with reused buffers
        return fast.conv_forward(x, w, b, conv_param)
    stride, pad, H_out, W_out = conv_geometry("conv_forward", x, w, conv_param)
    check_conv_bias("conv_forward", b, w)
    N = x.shape[0]
    F, C, HH, WW = w.shape
    cols = im2col(x, HH, WW, stride, pad)  # (C*HH*WW, N*H_out*W_out)
    out = w.reshape(F, -1) @ cols + b[:, None]  # (F, N*H_out*W_out)
    out = out.reshape(F, N, H_out, W_out).transpose(1, 0, 2, 3)  # (N, F, H_out, W_out)
    return out, ConvCache(x.shape, w, cols, stride, pad)


def conv_backward(dout, cache, compute_dx=True):
    """Convolution layer backward pass.

    Inputs:
    - dout: upstream gradient, (N, F, H_out, W_out)
    - cache: from :func:`conv_forward`
    - compute_dx: False skips the input gradient and returns ``dx=None`` (a network's first
      layer, whose input is the data, needs none).

    With out = W_mat @ cols + b (W_mat = w.reshape(F, -1)) and d = dout laid out like out:
    dW_mat = d @ cols.T, db = d summed over its columns, dcols = W_mat.T @ d, and dx sums
    dcols back onto the image (col2im, the adjoint of im2col).

    Returns (dx, dw, db): (N, C, H, W), (F, C, HH, WW), (F,).
    """
    if isinstance(cache, fast.FastConvCache):  # made by the fast forward pass
        return fast.conv_backward(dout, cache, compute_dx)
    x_shape, w, cols, stride, pad = cache
    N = x_shape[0]
    F, C, HH, WW = w.shape
    H_out, W_out = 1 + (x_shape[2] + pad - HH) // stride, 1 + (x_shape[3] + pad - WW) // stride
    check_array("conv_backward", "dout", dout, ndim=4)
    check_shape("conv_backward", "dout", dout, (N, F, H_out, W_out))
    d = dout.transpose(1, 0, 2, 3).reshape(F, -1)  # (F, N*H_out*W_out), the layout of out
    db = d.sum(axis=1)
    dw = (d @ cols.T).reshape(w.shape)
    dx = col2im(w.reshape(F, -1).T @ d, x_shape, HH, WW, stride, pad) if compute_dx else None
    return dx, dw, db


def max_pool_forward(x, pool_param):
    """Max pooling forward pass.

    Rather than visit the H_out x W_out windows, visit the few offsets (i, j) inside a window:
    the values at offset (i, j) of all windows form one strided sub-grid of x, and the output
    is the element-wise maximum of these pool_height * pool_width sub-grids.

    Inputs: x (N, C, H, W); pool_param {'pool_height', 'pool_width', 'stride'}.
    Returns (out, cache): out (N, C, H_out, W_out), H_out = 1 + (H - pool_height) / stride,
    likewise W_out; cache (x, out, (pool_height, pool_width, stride)).
    """
    if fast.enabled() and fast.pool_tiles_input(x, pool_param):
        # Windows that tile the input: record each window's first maximum, on threads.
        return fast.max_pool_forward(x, pool_param)
    check_array("max_pool_forward", "x", x, ndim=4)
    ph, pw, stride, H_out, W_out = pool_geometry("max_pool_forward", x.shape, pool_param)
    out = np.full((*x.shape[:2], H_out, W_out), -np.inf, dtype=x.dtype)
    for i in range(ph):
        for j in range(pw):
            at_ij = x[:, :, i : i + stride * H_out : stride, j : j + stride * W_out : stride]
            np.maximum(out, at_ij, out=out)  # (N, C, H_out, W_out), offset (i, j) of each window
    return out, (x, out, (ph, pw, stride))


def max_pool_backward(dout, cache):
    """Max pooling backward pass: each window's gradient goes to its FIRST maximum.

    "First" is in row-major order within the window, so a tie (e.g. a window of zeros after a
    ReLU) sends the gradient to one input, not to all of them.  Windows that overlap (stride
    smaller than the window) add up their gradients on the inputs they share.

    Inputs: dout (N, C, H_out, W_out); cache from :func:`max_pool_forward`.
    Returns dx: (N, C, H, W).
    """
    if isinstance(cache, fast.FastPoolCache):  # made by the fast forward pass
        return fast.max_pool_backward(dout, cache)
    x, out, (ph, pw, stride) = cache
    H_out, W_out = out.shape[2:]
    check_array("max_pool_backward", "dout", dout, ndim=4)
    check_shape("max_pool_backward", "dout", dout, out.shape)
    dx = np.zeros(x.shape, dtype=np.result_type(x, dout))
    unclaimed = np.ones(out.shape, dtype=bool)  # windows whose first maximum is not found yet
    for i in range(ph):
        for j in range(pw):
            rows, cols = slice(i, i + stride * H_out, stride), slice(j, j + stride * W_out, stride)
            at_ij = x[:, :, rows, cols]  # (N, C, H_out, W_out)
            # A NaN is a window's maximum (np.maximum propagates it): the first NaN is "it".
            is_max = (at_ij == out) | (np.isnan(at_ij) & np.isnan(out))
            first = is_max & unclaimed
            unclaimed &= ~first
            dx[:, :, rows, cols] += dout * first
    return dx


def dropout_forward(x, dropout_param):
    """Inverted dropout forward pass.

    Inputs:
    - x: any shape
    - dropout_param: {'mode': 'train' | 'test', 'p': probability of DROPPING a unit,
      optional 'seed': int or 'rng': np.random.Generator for the mask}

    In train mode each unit is zeroed with probability p and the kept ones are scaled by
    1 / (1 - p), so the expected output equals x and test mode is the identity.

    Returns (out, cache): out like x; cache (dropout_param, mask, x.shape) where mask holds
    0 or 1/(1-p) per unit (None in test mode).
    """
    where = "dropout_forward"
    check_array(where, "x", x)
    check_params(where, "dropout_param", dropout_param, ("mode", "p"), ("seed", "rng"))
    mode = dropout_param["mode"]
    if mode not in ("train", "test"):
        raise ValueError(f"{where}: mode must be 'train' or 'test', got {mode!r}")
    p = check_probability(where, "p (the probability of dropping a unit)", dropout_param["p"],
                          allow_one=False)
    if mode == "test":
        return x.copy(), (dropout_param, None, x.shape)
    if "rng" in dropout_param:
        rng = check_rng(where, "dropout_param['rng']", dropout_param["rng"])
    else:
        rng = np.random.default_rng(dropout_param.get("seed"))
    # The generator draws float32 or float64; other float types take float64 draws.
    draw = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
    keep = rng.random(x.shape, dtype=draw) >= p
    mask = keep * x.dtype.type(1.0 / (1.0 - p))
    return x * mask, (dropout_param, mask, x.shape)


def dropout_backward(dout, cache):
    """Inverted dropout backward pass: dx = dout * mask in train mode, dout in test mode."""
    dropout_param, mask, x_shape = cache
    check_array("dropout_backward", "dout", dout)
    check_shape("dropout_backward", "dout", dout, x_shape)
    if mask is None:  # test mode
        return dout.copy()
    return dout * mask


def _check_scores(where, x, y):
    check_array(where, "scores", x, ndim=2)
    y = check_labels(where, y, *x.shape)
    if x.shape[0] == 0:
        raise ValueError(f"{where}: the batch is empty (N = 0), so its mean loss is undefined")
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
