"""Sandwich layers: common chains of layers as one forward/backward pair."""

from .conv import check_bias
from .conv_pool import conv_max_pool_backward_cn, conv_max_pool_forward_cn
from .parallel import resolve_threads
from .layers import (affine_backward, affine_forward, conv_backward, conv_forward, relu_backward,
                     relu_forward)


def affine_relu_forward(x, w, b):
    """affine -> ReLU.  x (N, d_1..d_k), w (D, M), b (M,) -> out (N, M)."""
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout, cache):
    """Backward pass of :func:`affine_relu_forward`; returns (dx, dw, db)."""
    fc_cache, relu_cache = cache
    return affine_backward(relu_backward(dout, relu_cache), fc_cache)


def conv_relu_forward(x, w, b, conv_param, num_threads=None):
    """conv -> ReLU.  x (N, C, H, W), w (F, C, HH, WW), b (F,) -> out (N, F, H_out, W_out)."""
    a, conv_cache = conv_forward(x, w, b, conv_param, num_threads)
    out, relu_cache = relu_forward(a)
    return out, (conv_cache, relu_cache)


def conv_relu_backward(dout, cache, compute_dx=True, num_threads=None):
    """Backward pass of :func:`conv_relu_forward`; returns (dx, dw, db)."""
    conv_cache, relu_cache = cache
    return conv_backward(relu_backward(dout, relu_cache), conv_cache, compute_dx, num_threads)


def conv_relu_pool_forward(x, w, b, conv_param, pool_param, num_threads=None):
    """conv -> ReLU -> max pool.  x (N, C, H, W) -> out (N, F, H_pool, W_pool).

    Computed in the cheaper, exactly equal order pool -> bias -> ReLU: a max over a window
    commutes with adding the channel's bias and with the ReLU (both are non-decreasing), so
    bias and ReLU touch a quarter of the values for a 2x2 pool.  The first maximum of each
    window is also unchanged, so the backward pass routes gradients to the same inputs.
    Pools whose windows tile the image (2x2, stride 2) run fused with the convolution
    (:mod:`code_base.conv_pool`), any other pool through the plain layers.  ``num_threads``
    threads (default: the number of cores) share the batch.
    """
    threads = resolve_threads("conv_relu_pool_forward", num_threads)
    check_bias("conv_relu_pool_forward", b, w)
    # (F, N, H_pool, W_pool), bias-free
    pooled, conv_pool_cache = conv_max_pool_forward_cn(x, w, conv_param, pool_param, threads)
    # Not in place: on the plain-layer path the pool cache holds ``pooled`` to find each
    # window's maximum.
    out, relu_cache = relu_forward(pooled + b.astype(pooled.dtype, copy=False)[:, None, None, None])
    return out.transpose(1, 0, 2, 3), (conv_pool_cache, relu_cache)


def conv_relu_pool_backward(dout, cache, compute_dx=True, num_threads=None):
    """Backward pass of :func:`conv_relu_pool_forward`; returns (dx, dw, db).

    dout: (N, F, H_pool, W_pool).  ``compute_dx=False`` returns dx=None (first layer).
    """
    conv_pool_cache, relu_cache = cache
    dpooled = relu_backward(dout.transpose(1, 0, 2, 3), relu_cache)  # (F, N, H_pool, W_pool)
    db = dpooled.sum(axis=(1, 2, 3))
    threads = resolve_threads("conv_relu_pool_backward", num_threads)
    dx, dw = conv_max_pool_backward_cn(dpooled, conv_pool_cache, compute_dx, threads)
    return dx, dw, db
