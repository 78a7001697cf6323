"""Validation helpers shared by the layers: every failure names the function and the values."""

import numbers

import numpy as np


def check_array(where, name, a, ndim=None):
    """Return ``a`` as an ndarray of floats, or raise naming ``where`` and ``name``."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{where}: {name} must be a numpy array, got {type(a).__name__}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{where}: {name} must have {ndim} dimensions, got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"{where}: {name} must be a floating-point array, got dtype {a.dtype}")
    return a


def check_shape(where, name, a, shape):
    if a.shape != tuple(shape):
        raise ValueError(f"{where}: {name} has shape {a.shape}, expected {tuple(shape)}")


def check_params(where, name, params, required, optional=()):
    """Check a parameter dict has exactly the ``required`` keys (plus any ``optional`` ones)."""
    if not isinstance(params, dict):
        raise TypeError(f"{where}: {name} must be a dict, got {type(params).__name__}")
    missing = [k for k in required if k not in params]
    if missing:
        raise ValueError(f"{where}: {name} is missing {missing}; it needs {list(required)}")
    unknown = sorted(set(params) - set(required) - set(optional))
    if unknown:
        allowed = list(required) + list(optional)
        raise ValueError(f"{where}: {name} has unknown keys {unknown}; allowed: {allowed}")


def check_int(where, key, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{where}: {key} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{where}: {key} must be >= {minimum}, got {value}")
    return int(value)
