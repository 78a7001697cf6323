"""Gradient-check helpers and the filter grid."""

import numpy as np
import pytest

from code_base.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from code_base.vis_utils import visualize_grid


def test_numerical_gradient_of_known_functions():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    grad = eval_numerical_gradient(lambda v: np.sum(v ** 3), x)
    np.testing.assert_allclose(grad, 3 * x ** 2, rtol=1e-8)
    np.testing.assert_array_equal(x, [[1.0, -2.0], [0.5, 3.0]])  # restored after perturbing
    df = np.array([[1.0, 2.0], [3.0, 4.0]])
    grad = eval_numerical_gradient_array(lambda v: np.sin(v), x, df)
    np.testing.assert_allclose(grad, np.cos(x) * df, rtol=1e-8)


@pytest.mark.parametrize("a, b, expected", [
    (np.array([1.0, 2.0]), np.array([1.0, 2.0]), 0.0),
    (np.array([1.0]), np.array([3.0]), 0.5),
    (np.array([0.0, 1e-12]), np.array([0.0, 0.0]), 1e-4),   # tiny values: the 1e-8 floor
])
def test_rel_error(a, b, expected):
    assert rel_error(a, b) == pytest.approx(expected)


def test_rel_error_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"shapes differ, \(2,\) vs \(3,\)"):
        rel_error(np.zeros(2), np.zeros(3))


def test_visualize_grid_tiles_and_rescales():
    filters = np.stack([np.full((2, 2, 3), float(k)) for k in range(5)])
    filters[1, 0, 0] = 10.0  # one non-constant tile, rescaled to [0, 255]
    grid = visualize_grid(filters, padding=1)
    assert grid.shape == (3 * 3 - 1, 3 * 3 - 1, 3)   # 5 tiles -> a 3x3 grid
    np.testing.assert_allclose(grid[0, 3], [255.0] * 3)   # tile 1's maximum
    np.testing.assert_allclose(grid[1, 4], [0.0] * 3)     # tile 1's minimum
    assert grid[2].sum() == 0  # padding row
    with pytest.raises(ValueError, match=r"expected \(N, H, W, C\)"):
        visualize_grid(np.zeros((2, 3, 3)))
