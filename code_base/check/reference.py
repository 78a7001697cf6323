"""The assignment's published reference values: its worked examples, typed once.

Each ``*_example()`` returns the inputs and the expected output the assignment prints; the
tests, the notebooks and the student's check all compare against these.
"""

import numpy as np

__all__ = ["TOLERANCE", "conv_forward_example", "max_pool_forward_example"]

# The assignment asks for a relative error "around 1e-8"; its values carry 8 decimals.
TOLERANCE = 1e-7


def conv_forward_example():
    """x (2, 3, 4, 4), w (3, 3, 4, 4), b (3,), conv_param, expected out (2, 3, 2, 2)."""
    x = np.linspace(-0.1, 0.5, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    w = np.linspace(-0.2, 0.3, num=3 * 3 * 4 * 4).reshape(3, 3, 4, 4)
    b = np.linspace(-0.1, 0.2, num=3)
    expected = np.array([
        [[[-0.08759809, -0.10987781], [-0.18387192, -0.21092160]],
         [[0.21027089, 0.21661097], [0.22847626, 0.23004637]],
         [[0.50813986, 0.54309974], [0.64082444, 0.67101435]]],
        [[[-0.98053589, -1.03143541], [-1.19128892, -1.24695841]],
         [[0.69108355, 0.66880383], [0.59480972, 0.56776003]],
         [[2.36270298, 2.36904306], [2.38090835, 2.38247847]]]])
    return x, w, b, {"stride": 2, "pad": 2}, expected


def max_pool_forward_example():
    """x (2, 3, 4, 4), pool_param (2x2, stride 2), expected out (2, 3, 2, 2)."""
    x = np.linspace(-0.3, 0.4, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    expected = np.array([
        [[[-0.26315789, -0.24842105], [-0.20421053, -0.18947368]],
         [[-0.14526316, -0.13052632], [-0.08631579, -0.07157895]],
         [[-0.02736842, -0.01263158], [0.03157895, 0.04631579]]],
        [[[0.09052632, 0.10526316], [0.14947368, 0.16421053]],
         [[0.20842105, 0.22315789], [0.26736842, 0.28210526]],
         [[0.32631579, 0.34105263], [0.38526316, 0.40000000]]]])
    return x, {"pool_height": 2, "pool_width": 2, "stride": 2}, expected
