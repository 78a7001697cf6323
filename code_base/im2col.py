"""im2col and its adjoint col2im: a convolution's receptive fields as the columns of a matrix.

With the receptive fields of every image side by side as columns, a convolution is one matrix
product of the flattened filters with those columns:

    out = w.reshape(F, C*HH*WW) @ im2col(x) + b        # (F, N*H_out*W_out)

Padding follows the assignment: ``pad`` is the TOTAL number of zero rows (and columns), half on
each side, so ``H_out = 1 + (H + pad - HH) / stride``.
"""

import numpy as np

__all__ = ["im2col", "col2im"]


def im2col(x, HH, WW, stride, pad):
    """Copy every HH x WW receptive field of ``x`` into a column.

    x: (N, C, H, W) -> cols: (C*HH*WW, N*H_out*W_out), H_out = 1 + (H + pad - HH) / stride,
    W_out likewise.  Rows are ordered (c, i, j) like ``w.reshape(F, -1)``, columns (n, h, w).

    Rather than visit the N*H_out*W_out windows, visit the HH*WW offsets (i, j) inside a
    window: the values at offset (i, j) of all windows are one strided slice of the padded x.
    """
    N, C, H, W = x.shape
    H_out = 1 + (H + pad - HH) // stride
    W_out = 1 + (W + pad - WW) // stride
    p = pad // 2
    xp = np.zeros((N, C, H + pad, W + pad), dtype=x.dtype)
    xp[:, :, p : p + H, p : p + W] = x  # pad // 2 zeros on each side
    cols = np.empty((C, HH, WW, N, H_out, W_out), dtype=x.dtype)
    for i in range(HH):
        for j in range(WW):
            at_ij = xp[:, :, i : i + stride * H_out : stride, j : j + stride * W_out : stride]
            cols[:, i, j] = at_ij.transpose(1, 0, 2, 3)  # (N, C, H_out, W_out) -> (C, N, ...)
    return cols.reshape(C * HH * WW, N * H_out * W_out)


def col2im(dcols, x_shape, HH, WW, stride, pad):
    """Adjoint of :func:`im2col`: sum the column gradients back onto the image.

    dcols: (C*HH*WW, N*H_out*W_out) -> dx: x_shape = (N, C, H, W).  The receptive fields
    overlap, so every input pixel sums the entries of all the columns that copied it.
    """
    N, C, H, W = x_shape
    H_out = 1 + (H + pad - HH) // stride
    W_out = 1 + (W + pad - WW) // stride
    d = dcols.reshape(C, HH, WW, N, H_out, W_out)
    dxp = np.zeros((N, C, H + pad, W + pad), dtype=dcols.dtype)
    for i in range(HH):
        for j in range(WW):
            at_ij = d[:, i, j].transpose(1, 0, 2, 3)  # (C, N, H_out, W_out) -> (N, C, ...)
            dxp[:, :, i : i + stride * H_out : stride, j : j + stride * W_out : stride] += at_ij
    p = pad // 2
    return dxp[:, :, p : p + H, p : p + W]  # the padding gets no gradient
