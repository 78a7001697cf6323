"""Sandwich layers: common chains of layers as one forward/backward pair."""

from .layers import (affine_backward, affine_forward, conv_backward, conv_forward,
                     max_pool_backward, max_pool_forward, relu_backward, relu_forward)


def affine_relu_forward(x, w, b):
    """affine -> ReLU.  x (N, d_1..d_k), w (D, M), b (M,) -> out (N, M)."""
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout, cache):
    """Backward pass of :func:`affine_relu_forward`; returns (dx, dw, db)."""
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
    return conv_backward(relu_backward(dout, relu_cache), conv_cache, compute_dx=compute_dx)


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    """conv -> ReLU -> max pool.  x (N, C, H, W) -> out (N, F, H_pool, W_pool)."""
    a, conv_cache = conv_forward(x, w, b, conv_param)
    s, relu_cache = relu_forward(a)
    out, pool_cache = max_pool_forward(s, pool_param)
    return out, (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward(dout, cache, compute_dx=True):
    """Backward pass of :func:`conv_relu_pool_forward`; returns (dx, dw, db)."""
    conv_cache, relu_cache, pool_cache = cache
    ds = max_pool_backward(dout, pool_cache)
    da = relu_backward(ds, relu_cache)
    return conv_backward(da, conv_cache, compute_dx=compute_dx)
