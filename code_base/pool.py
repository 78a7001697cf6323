"""Max pooling, forward and backward, as element-wise maxima of strided sub-grids.

A window of ``pool_height x pool_width`` visits ``H_out x W_out`` positions.  Rather than
looping over positions, loop over the (few) offsets inside the window: the values at
offset (i, j) of every window form one strided sub-grid of the input, and the pooled
output is the element-wise maximum of those sub-grids.
"""

import numpy as np

from ._checks import check_array, check_int, check_params


def pool_output_shape(x_shape, pool_param, where="max_pool_forward"):
    """Validate ``pool_param`` for an input of ``x_shape``; return (ph, pw, stride, H_out, W_out)."""
    check_params(where, "pool_param", pool_param, ("pool_height", "pool_width", "stride"))
    ph = check_int(where, "pool_height", pool_param["pool_height"], 1)
    pw = check_int(where, "pool_width", pool_param["pool_width"], 1)
    stride = check_int(where, "stride", pool_param["stride"], 1)
    N, C, H, W = x_shape
    for axis, size, k in (("H", H, ph), ("W", W, pw)):
        if k > size:
            raise ValueError(f"{where}: pool window {ph}x{pw} does not fit the input {H}x{W}")
        if (size - k) % stride:
            raise ValueError(
                f"{where}: pool window {ph}x{pw} with stride {stride} does not tile the input "
                f"{H}x{W}: ({axis} - {k}) = {size - k} is not divisible by {stride}"
            )
    return ph, pw, stride, 1 + (H - ph) // stride, 1 + (W - pw) // stride


def _offset_grid(x, i, j, stride, H_out, W_out):
    """Values at offset (i, j) of every pooling window: a (N, C, H_out, W_out) view of x."""
    return x[:, :, i : i + stride * H_out : stride, j : j + stride * W_out : stride]


def max_pool_forward(x, pool_param):
    """Max pooling forward pass.

    Inputs:
    - x: (N, C, H, W)
    - pool_param: {'pool_height', 'pool_width', 'stride'}

    Returns (out, cache):
    - out: (N, C, H_out, W_out), H_out = 1 + (H - pool_height) / stride, likewise W_out
    - cache: (x, out, pool_param) for :func:`max_pool_backward`
    """
    check_array("max_pool_forward", "x", x, ndim=4)
    ph, pw, stride, H_out, W_out = pool_output_shape(x.shape, pool_param)
    out = _offset_grid(x, 0, 0, stride, H_out, W_out).copy()
    for i in range(ph):
        for j in range(pw):
            if i or j:
                np.maximum(out, _offset_grid(x, i, j, stride, H_out, W_out), out=out)
    return out, (x, out, (ph, pw, stride))


def max_pool_backward(dout, cache):
    """Max pooling backward pass: each window's gradient goes to its FIRST maximum.

    "First" is in row-major order within the window, so ties (e.g. a window of zeros
    after a ReLU) send the gradient to one input only, not to all of them.

    Inputs:
    - dout: (N, C, H_out, W_out)
    - cache: from :func:`max_pool_forward`

    Returns dx: (N, C, H, W)
    """
    x, out, (ph, pw, stride) = cache
    check_array("max_pool_backward", "dout", dout, ndim=4)
    if dout.shape != out.shape:
        raise ValueError(f"max_pool_backward: dout has shape {dout.shape}, expected {out.shape}")
    H_out, W_out = out.shape[2:]
    overlapping = stride < ph or stride < pw
    N, C, H, W = x.shape
    tiled = stride == ph == pw and H == ph * H_out and W == pw * W_out
    # When the windows tile the input exactly, the loop below writes every element of dx.
    dx = (np.empty if tiled else np.zeros)(x.shape, dtype=np.result_type(x, dout))
    unclaimed = np.ones(out.shape, dtype=bool)  # windows whose first maximum is not yet found
    hit = np.empty(out.shape, dtype=bool)
    for i in range(ph):
        for j in range(pw):
            np.equal(_offset_grid(x, i, j, stride, H_out, W_out), out, out=hit)
            hit &= unclaimed
            unclaimed ^= hit  # hit is a subset of unclaimed: this clears the found windows
            target = _offset_grid(dx, i, j, stride, H_out, W_out)
            if overlapping:  # windows share inputs, so their gradients add up
                target += dout * hit
            else:  # each input belongs to one window: write in place, no temporary
                np.multiply(dout, hit, out=target)
    return dx
