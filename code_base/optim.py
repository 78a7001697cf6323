"""First-order update rules for training neural networks.

Every rule has the signature

    next_w, config = rule(w, dw, config=None)

- w: array of parameters (any shape, floating-point dtype).
- dw: gradient of the loss with respect to w, same shape as w.
- config: dict of hyperparameters (learning rate, momentum, ...) and of the
  rule's state between calls (velocity, running averages, step count).
  Missing hyperparameters take the defaults listed in each rule's docstring
  (also available as ``rule.defaults``); missing state starts at zero.
  A key that the rule does not know raises ValueError, so a typo such as
  'learning_Rate' cannot silently fall back to the default.

The returned config is a NEW dict holding every hyperparameter and the updated
state: pass it back in on the next call. The caller's dict is never modified.

In-place updates: by default neither w nor the caller's state arrays are
modified; next_w and the new state are fresh arrays. With
``config['inplace'] = True`` the rule instead overwrites w and the state
arrays stored in config, and returns ``next_w is w``; this saves memory for
large models when nobody else holds a reference to the old values.

Dtypes: next_w and the state arrays have w's dtype (dw and given state are
cast to it), and hyperparameters are applied as Python floats, so float32
parameters stay float32.
"""
import numpy as np

# Adam's in-place update has a kernel in code_base.fast (block by block, on threads), chosen by
# one line of adam; `with code_base.fast.disabled():` runs the code below that line instead.
from . import fast
from .utils.checks import check_bool, check_int, check_real

__all__ = ["sgd", "sgd_momentum", "rmsprop", "adam", "UPDATE_RULES", "validate_config",
           "get_rule"]

# Hyperparameter name -> the bounds of its check: (low, high, low_open, high_open).
_BOUNDS = {
    "learning_rate": (0, None, True, False),
    "epsilon": (0, None, True, False),
    "momentum": (0, 1, False, True),
    "decay_rate": (0, 1, False, True),
    "beta1": (0, 1, False, True),
    "beta2": (0, 1, False, True),
}


def _rule(defaults, state_arrays=(), state_scalars=(), options=("inplace",)):
    """Attach a rule's default hyperparameters, state key names and options to it."""

    def attach(func):
        func.defaults = dict(defaults)
        func.state_arrays = tuple(state_arrays)
        func.state_scalars = tuple(state_scalars)
        func.options = tuple(options)
        return func

    return attach


def validate_config(rule, config=None):
    """Return a new config dict for `rule`: defaults filled in, values checked.

    Raises ValueError naming any unknown key or any out-of-range value. State
    arrays are copied by reference (not checked against w here).
    """
    where = rule.__name__
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ValueError(f"{where}: config must be a dict or None, got {type(config).__name__}")
    known = set(rule.defaults) | set(rule.state_arrays) | set(rule.state_scalars) | set(rule.options)
    unknown = sorted(set(config) - known, key=str)
    if unknown:
        raise ValueError(f"{where}: unknown config key(s) {unknown}; valid keys are {sorted(known)}")
    cfg = {**rule.defaults, "inplace": False, **config}
    for key in rule.defaults:
        low, high, low_open, high_open = _BOUNDS[key]
        cfg[key] = check_real(where, f"config['{key}']", cfg[key], low, high, low_open=low_open,
                              high_open=high_open)
    cfg["inplace"] = check_bool(where, "config['inplace']", cfg["inplace"])
    for key in rule.state_scalars:
        cfg[key] = check_int(where, f"config['{key}']", cfg.get(key, 0), 0)
    return cfg


def _prepare(rule, w, dw, config):
    """Check w and dw, build the working config, and bring state to w's dtype."""
    where = rule.__name__
    if not isinstance(w, np.ndarray) or not np.issubdtype(w.dtype, np.floating):
        found = w.dtype if isinstance(w, np.ndarray) else type(w).__name__
        raise TypeError(f"{where}: w must be a floating-point numpy array, got {found}")
    dw = np.asarray(dw)
    if dw.shape != w.shape:
        raise ValueError(f"{where}: dw has shape {dw.shape} but w has shape {w.shape}")
    dw = dw.astype(w.dtype, copy=False)
    cfg = validate_config(rule, config)
    for key in rule.state_arrays:
        if key not in cfg:
            cfg[key] = np.zeros_like(w)
            continue
        state = np.asarray(cfg[key])
        if state.shape != w.shape:
            raise ValueError(f"{where}: config['{key}'] has shape {state.shape} but w has "
                             f"shape {w.shape}")
        cfg[key] = state.astype(w.dtype, copy=False)
    return dw, cfg


def _result(w, next_w, cfg, **state):
    """(next_w, cfg) with the new state; in place, written into w and the old state arrays."""
    if not cfg["inplace"]:
        cfg.update(state)
        return next_w, cfg
    w[...] = next_w
    for key, value in state.items():
        cfg[key][...] = value
    return w, cfg


@_rule({"learning_rate": 1e-2})
def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent: w <- w - learning_rate * dw.

    config:
    - learning_rate: step size (default 1e-2).
    - inplace: overwrite w instead of returning a new array (default False).
    """
    dw, cfg = _prepare(sgd, w, dw, config)
    next_w = w - cfg["learning_rate"] * dw
    return _result(w, next_w, cfg)


@_rule({"learning_rate": 1e-2, "momentum": 0.9}, state_arrays=("velocity",))
def sgd_momentum(w, dw, config=None):
    """Stochastic gradient descent with momentum.

    v <- momentum * v - learning_rate * dw;  w <- w + v

    config:
    - learning_rate: step size (default 1e-2).
    - momentum: fraction of the previous velocity kept, in [0, 1) (default 0.9).
    - velocity: state, same shape as w (default zeros).
    - inplace: overwrite w and config['velocity'] (default False).
    """
    dw, cfg = _prepare(sgd_momentum, w, dw, config)
    v = cfg["momentum"] * cfg["velocity"] - cfg["learning_rate"] * dw
    next_w = w + v
    return _result(w, next_w, cfg, velocity=v)


@_rule({"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8}, state_arrays=("cache",))
def rmsprop(w, dw, config=None):
    """RMSProp: divide the step by a running root-mean-square of the gradient.

    cache <- decay_rate * cache + (1 - decay_rate) * dw**2
    w <- w - learning_rate * dw / (sqrt(cache) + epsilon)

    config:
    - learning_rate: step size (default 1e-2).
    - decay_rate: weight of the old cache, in [0, 1) (default 0.99).
    - epsilon: avoids division by zero (default 1e-8).
    - cache: state, moving average of squared gradients (default zeros).
    - inplace: overwrite w and config['cache'] (default False).
    """
    dw, cfg = _prepare(rmsprop, w, dw, config)
    decay = cfg["decay_rate"]
    cache = decay * cfg["cache"] + (1 - decay) * dw**2
    next_w = w - cfg["learning_rate"] * dw / (np.sqrt(cache) + cfg["epsilon"])
    return _result(w, next_w, cfg, cache=cache)


@_rule({"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
       state_arrays=("m", "v"), state_scalars=("t",), options=("inplace",))
def adam(w, dw, config=None):
    """Adam: momentum on the gradient and RMSProp scaling, both bias-corrected.

    t <- t + 1
    m <- beta1 * m + (1 - beta1) * dw;  v <- beta2 * v + (1 - beta2) * dw**2
    w <- w - learning_rate * m_hat / (sqrt(v_hat) + epsilon)
    with m_hat = m / (1 - beta1**t) and v_hat = v / (1 - beta2**t).

    config:
    - learning_rate: step size (default 1e-3).
    - beta1, beta2: decay rates of the two moving averages (defaults 0.9, 0.999).
    - epsilon: avoids division by zero (default 1e-8).
    - m, v: state, moving averages of dw and dw**2 (default zeros).
    - t: state, number of steps taken so far (default 0).
    - inplace: overwrite w and config['m'], config['v'] (default False).
    """
    dw, cfg = _prepare(adam, w, dw, config)
    lr, beta1, beta2, eps = (cfg[k] for k in ("learning_rate", "beta1", "beta2", "epsilon"))
    t = cfg["t"] = cfg["t"] + 1
    if cfg["inplace"] and fast.enabled():  # the same update, block by block on threads
        return fast.adam_inplace(w, dw, cfg)
    m = beta1 * cfg["m"] + (1 - beta1) * dw
    v = beta2 * cfg["v"] + (1 - beta2) * dw**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    next_w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
    return _result(w, next_w, cfg, m=m, v=v)


UPDATE_RULES = {rule.__name__: rule for rule in (sgd, sgd_momentum, rmsprop, adam)}


def get_rule(update_rule, where="get_rule"):
    """(name, rule) for a rule's name in UPDATE_RULES or for a callable with a rule's signature."""
    if isinstance(update_rule, str):
        if update_rule not in UPDATE_RULES:
            raise ValueError(f"{where}: unknown update_rule '{update_rule}'; "
                             f"valid names are {sorted(UPDATE_RULES)}")
        return update_rule, UPDATE_RULES[update_rule]
    if callable(update_rule):
        return getattr(update_rule, "__name__", type(update_rule).__name__), update_rule
    raise ValueError(f"{where}: update_rule must be a name or a callable, got {update_rule!r}")
