"""Pictures of filters and activations."""

from math import ceil, sqrt

import numpy as np


def visualize_grid(Xs, ubound=255.0, padding=1):
    """Tile N small images into one grid image, each rescaled to [0, ubound].

    Inputs: Xs (N, H, W, C); padding pixels between tiles.
    Returns grid (G*(H+padding)-padding, G*(W+padding)-padding, C), G = ceil(sqrt(N)).
    """
    Xs = np.asarray(Xs)
    if Xs.ndim != 4:
        raise ValueError(f"visualize_grid: expected (N, H, W, C), got shape {Xs.shape}")
    N, H, W, C = Xs.shape
    G = int(ceil(sqrt(N)))
    grid = np.zeros((G * (H + padding) - padding, G * (W + padding) - padding, C))
    for k in range(N):
        r, c = divmod(k, G)
        img = Xs[k].astype(np.float64)
        lo, hi = img.min(), img.max()
        scale = ubound / (hi - lo) if hi > lo else 0.0  # a constant tile stays at 0
        y0, x0 = r * (H + padding), c * (W + padding)
        grid[y0 : y0 + H, x0 : x0 + W] = (img - lo) * scale
    return grid
