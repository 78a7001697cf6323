"""Argument checks for the whole package: one helper per kind of check, one message style.

Every failure names the function (``where``), the argument and the value it got, e.g.
``conv_forward: stride must be an integer >= 1, got 0``.  Numbers and flags raise ValueError;
an argument of the wrong kind of object (not an array, not a dict) raises TypeError.
"""

import math
import numbers

import numpy as np


def check_int(where, name, value, minimum=None, *, allow_none=False):
    """``value`` as an int (>= ``minimum`` when given); bools and floats such as 2.0 are refused."""
    if allow_none and value is None:
        return None
    wanted = "an integer" if minimum is None else f"an integer >= {minimum}"
    if (isinstance(value, bool) or not isinstance(value, numbers.Integral)
            or (minimum is not None and value < minimum)):
        raise ValueError(f"{where}: {name} must be {wanted}, got {value!r}")
    return int(value)


def _interval(low, high, low_open, high_open):
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high}"
    return ""


def check_real(where, name, value, low=None, high=None, *, low_open=False, high_open=False,
               allow_none=False):
    """``value`` as a finite float within the bounds given (open or closed ends)."""
    if allow_none and value is None:
        return None
    ok = (isinstance(value, numbers.Real) and not isinstance(value, bool)
          and math.isfinite(value)
          and (low is None or (value > low if low_open else value >= low))
          and (high is None or (value < high if high_open else value <= high)))
    if not ok:
        bounds = _interval(low, high, low_open, high_open)
        raise ValueError(f"{where}: {name} must be a finite number{' ' + bounds if bounds else ''}, "
                         f"got {value!r}")
    return float(value)


def check_probability(where, name, value, *, allow_one=True):
    """``value`` as a float in [0, 1] (or [0, 1) when ``allow_one`` is False)."""
    interval = "[0, 1]" if allow_one else "[0, 1)"
    try:
        return check_real(where, name, value, 0, 1, high_open=not allow_one)
    except ValueError:
        raise ValueError(f"{where}: {name} must be a probability in {interval}, "
                         f"got {value!r}") from None


def check_bool(where, name, value):
    """``value`` if it is True or False (numpy bools included); strings such as "no" are refused."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{where}: {name} must be true or false, got {value!r}")
    return bool(value)


def check_array(where, name, a, ndim=None):
    """``a`` if it is a floating-point ndarray (of ``ndim`` dimensions when given)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{where}: {name} must be a numpy array, got {type(a).__name__}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{where}: {name} must have {ndim} dimensions, got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"{where}: {name} must be a floating-point array, got dtype {a.dtype}")
    return a


def check_shape(where, name, a, shape):
    """``a`` if its shape is ``shape``."""
    if a.shape != tuple(shape):
        raise ValueError(f"{where}: {name} has shape {a.shape}, expected {tuple(shape)}")
    return a


def check_params(where, name, params, required, optional=()):
    """Check a parameter dict has every ``required`` key and nothing beyond ``optional``."""
    if not isinstance(params, dict):
        raise TypeError(f"{where}: {name} must be a dict, got {type(params).__name__}")
    missing = [k for k in required if k not in params]
    if missing:
        raise ValueError(f"{where}: {name} is missing {missing}; it needs {list(required)}")
    unknown = sorted(set(params) - set(required) - set(optional), key=str)
    if unknown:
        allowed = list(required) + list(optional)
        raise ValueError(f"{where}: {name} has unknown keys {unknown}; allowed: {allowed}")
    return params


def check_rng(where, name, rng):
    """``rng`` if it is an ``np.random.Generator``."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"{where}: {name} must be an np.random.Generator, "
                         f"got {type(rng).__name__}")
    return rng


def check_labels(where, y, N, C):
    """y as an (N,) integer array of class labels in [0, C), or a ValueError naming the problem."""
    y = np.asarray(y)
    if y.shape != (N,):
        raise ValueError(f"{where}: y has shape {y.shape}, expected ({N},)")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{where}: labels must be integers in [0, {C}), got dtype {y.dtype}")
    if N and (y.min() < 0 or y.max() >= C):
        raise ValueError(f"{where}: labels must be integers in [0, {C}), got values in "
                         f"[{y.min()}, {y.max()}]")
    return y
