"""Sandwich layers: common chains of layers as one forward/backward pair.

Each forward pass runs its layers in order and keeps their caches; each backward pass is the
chain rule, the layers' backward passes in reverse order.
"""

import numpy as np

# Two sandwiches have a fused kernel in code_base.fast, chosen by their first line;
# `with code_base.fast.disabled():` runs the chain below it instead.  A backward pass follows
# the cache its forward pass made.
from . import fast
from .layers import (affine_backward, affine_forward, conv_backward, conv_forward, max_pool_backward,
                     max_pool_forward, relu_backward, relu_forward)

__all__ = ["affine_relu_forward", "affine_relu_backward", "conv_relu_forward",
           "conv_relu_backward", "conv_relu_pool_forward", "conv_relu_pool_backward"]


def affine_relu_forward(x, w, b):
    """affine -> ReLU.  x (N, d_1, ..., d_k), w (D, M), b (M,) -> out (N, M)."""
    if fast.enabled():  # the products split over threads by blocks of w
        return fast.affine_relu_forward(x, w, b)
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout, cache):
    """Backward pass of :func:`affine_relu_forward`; returns (dx, dw, db)."""
    if isinstance(cache, fast.FastAffineReluCache):
        return fast.affine_relu_backward(dout, cache)
    fc_cache, relu_cache = cache
    return affine_backward(relu_backward(dout, relu_cache), fc_cache)


def conv_relu_forward(x, w, b, conv_param):
    """conv -> ReLU.  x (N, C, H, W), w (F, C, HH, WW), b (F,) -> out (N, F, H_out, W_out)."""
    a, conv_cache = conv_forward(x, w, b, conv_param)
    out, relu_cache = relu_forward(a)
    return out, (conv_cache, relu_cache)


def conv_relu_backward(dout, cache, compute_dx=True):
    """Backward pass of :func:`conv_relu_forward`; returns (dx, dw, db)."""
    conv_cache, relu_cache = cache
    return conv_backward(relu_backward(dout, relu_cache), conv_cache, compute_dx)


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    """conv -> ReLU -> max pool.  x (N, C, H, W) -> out (N, F, H_pool, W_pool).

    H_pool = 1 + (H_out - pool_height) / pool_stride with H_out the convolution's output size.
    """
    if fast.enabled() and fast.pool_tiles(x, w, conv_param, pool_param) and np.isfinite(x).all():
        # When the pool tiles the image, use the fused kernel: one product for conv and pool.
        # (The zeros of its super-kernel would turn an infinite input into NaN.)
        return fast.conv_relu_pool_forward(x, w, b, conv_param, pool_param)
    a, conv_cache = conv_forward(x, w, b, conv_param)
    s, relu_cache = relu_forward(a)
    out, pool_cache = max_pool_forward(s, pool_param)
    return out, (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward(dout, cache, compute_dx=True):
    """Backward pass of :func:`conv_relu_pool_forward`; returns (dx, dw, db).

    dout: (N, F, H_pool, W_pool).  ``compute_dx=False`` returns dx=None (a first layer).
    """
    if isinstance(cache, fast.FusedConvReluPoolCache):
        return fast.conv_relu_pool_backward(dout, cache, compute_dx)
    conv_cache, relu_cache, pool_cache = cache
    ds = max_pool_backward(dout, pool_cache)
    da = relu_backward(ds, relu_cache)
    return conv_backward(da, conv_cache, compute_dx)
