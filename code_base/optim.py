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
import math
import numbers

import numpy as np

from .parallel import default_threads, parallel_map, split

__all__ = ["sgd", "sgd_momentum", "rmsprop", "adam", "UPDATE_RULES", "validate_config"]


def _positive(value):
    return value > 0


def _unit_interval(value):
    return 0 <= value < 1


# Hyperparameter name -> (check, description used in error messages).
_CHECKS = {
    "learning_rate": (_positive, "a finite number > 0"),
    "epsilon": (_positive, "a finite number > 0"),
    "momentum": (_unit_interval, "a number in [0, 1)"),
    "decay_rate": (_unit_interval, "a number in [0, 1)"),
    "beta1": (_unit_interval, "a number in [0, 1)"),
    "beta2": (_unit_interval, "a number in [0, 1)"),
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
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ValueError(f"config must be a dict or None, got {type(config).__name__}")
    known = set(rule.defaults) | set(rule.state_arrays) | set(rule.state_scalars) | set(rule.options)
    unknown = sorted(set(config) - known)
    if unknown:
        raise ValueError(
            f"unknown config key(s) {unknown} for update rule '{rule.__name__}'; "
            f"valid keys are {sorted(known)}"
        )
    cfg = {**rule.defaults, "inplace": False, **config}
    for key in rule.defaults:
        value = cfg[key]
        check, wanted = _CHECKS[key]
        if (not isinstance(value, numbers.Real) or isinstance(value, bool)
                or not math.isfinite(value) or not check(value)):
            raise ValueError(f"config['{key}'] must be {wanted}, got {value!r}")
    if not isinstance(cfg["inplace"], (bool, np.bool_)):
        raise ValueError(f"config['inplace'] must be True or False, got {cfg['inplace']!r}")
    if cfg.get("num_threads", 0) is None:
        del cfg["num_threads"]  # None is the default; configs hold numbers only (checkpoints)
    threads = cfg.get("num_threads", 1)
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1:
        raise ValueError(f"config['num_threads'] must be an integer >= 1 or None, got {threads!r}")
    for key in rule.state_scalars:
        value = cfg.setdefault(key, 0)
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
            raise ValueError(f"config['{key}'] must be an integer >= 0, got {value!r}")
    return cfg


def _prepare(rule, w, dw, config):
    """Check w and dw, build the working config, and bring state to w's dtype."""
    if not isinstance(w, np.ndarray) or not np.issubdtype(w.dtype, np.floating):
        found = w.dtype if isinstance(w, np.ndarray) else type(w).__name__
        raise TypeError(f"w must be a floating-point numpy array, got {found}")
    dw = np.asarray(dw)
    if dw.shape != w.shape:
        raise ValueError(f"dw has shape {dw.shape} but w has shape {w.shape}")
    dw = dw.astype(w.dtype, copy=False)
    cfg = validate_config(rule, config)
    for key in rule.state_arrays:
        if key not in cfg:
            cfg[key] = np.zeros_like(w)
            continue
        state = np.asarray(cfg[key])
        if state.shape != w.shape:
            raise ValueError(f"config['{key}'] has shape {state.shape} but w has shape {w.shape}")
        cfg[key] = state.astype(w.dtype, copy=False)
    return dw, cfg, bool(cfg["inplace"])


@_rule({"learning_rate": 1e-2})
def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent: w <- w - learning_rate * dw.

    config:
    - learning_rate: step size (default 1e-2).
    - inplace: overwrite w instead of returning a new array (default False).
    """
    dw, cfg, inplace = _prepare(sgd, w, dw, config)
    lr = float(cfg["learning_rate"])
    if inplace:
        w -= lr * dw
        return w, cfg
    return w - lr * dw, cfg


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
    dw, cfg, inplace = _prepare(sgd_momentum, w, dw, config)
    lr, mu = float(cfg["learning_rate"]), float(cfg["momentum"])
    v = cfg["velocity"]
    if inplace:
        v *= mu
        v -= lr * dw
        w += v
        return w, cfg
    v = mu * v - lr * dw
    cfg["velocity"] = v
    return w + v, cfg


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
    dw, cfg, inplace = _prepare(rmsprop, w, dw, config)
    lr, decay, eps = (float(cfg[k]) for k in ("learning_rate", "decay_rate", "epsilon"))
    cache = cfg["cache"]
    if inplace:
        cache *= decay
        cache += (1 - decay) * (dw * dw)
    else:
        cache = decay * cache + (1 - decay) * (dw * dw)
        cfg["cache"] = cache
    step = lr * dw / (np.sqrt(cache) + eps)
    if inplace:
        w -= step
        return w, cfg
    return w - step, cfg


@_rule({"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
       state_arrays=("m", "v"), state_scalars=("t",), options=("inplace", "num_threads"))
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
    - num_threads: threads sharing an in-place update of a large array (default: the
      number of cores; see :mod:`code_base.parallel`).  Results do not depend on it.
    """
    dw, cfg, inplace = _prepare(adam, w, dw, config)
    lr, beta1, beta2, eps = (float(cfg[k]) for k in ("learning_rate", "beta1", "beta2", "epsilon"))
    t = int(cfg["t"]) + 1
    cfg["t"] = t
    if inplace:
        threads = cfg.get("num_threads") or default_threads()
        _adam_inplace(w, dw, cfg["m"], cfg["v"], lr, beta1, beta2, eps, t, threads)
        return w, cfg
    m = beta1 * cfg["m"] + (1 - beta1) * dw
    v = beta2 * cfg["v"] + (1 - beta2) * (dw * dw)
    cfg["m"], cfg["v"] = m, v
    # Bias corrections are scalars, so fold them into the step size and the sqrt.
    step = (lr / (1 - beta1 ** t)) * m / (np.sqrt(v / (1 - beta2 ** t)) + eps)
    return w - step, cfg


# Elements per block.  Smaller blocks would stay in L2, but every block costs a dozen
# ufunc calls, each taking the GIL: with two threads, 2**15-element blocks ran slower than
# one thread, 2**17-element blocks 1.3-1.5x faster (4M float32 parameters: 8 ms against
# 12 ms on one thread, measured side by side on this project's 2-core machine).
_ADAM_BLOCK = 1 << 17


def _adam_inplace(w, dw, m, v, lr, beta1, beta2, eps, t, num_threads=1):
    """Adam's update of w, m, v in place, block by block, blocks shared among threads.

    A whole-array formula streams every temporary through memory; on blocks, all twelve
    element-wise passes run on data already in cache.  Uses the algebraically equal form
    step = lr * sqrt(1 - beta2**t) / (1 - beta1**t) * m / (sqrt(v) + eps * sqrt(1 - beta2**t)).
    """
    correction = math.sqrt(1 - beta2 ** t)
    step_size = lr * correction / (1 - beta1 ** t)
    eps_hat = eps * correction
    arrays = (w, dw, m, v)
    if not all(a.flags.c_contiguous for a in arrays):
        # Blocks need flat views, which strided arrays lack: update them whole, in place.
        _adam_block(*arrays, np.empty_like(w), beta1, beta2, step_size, eps_hat)
        return
    flat = [a.reshape(-1) for a in arrays]
    starts = range(0, w.size, _ADAM_BLOCK)

    def run(part):  # a contiguous run of blocks
        scratch = np.empty(min(_ADAM_BLOCK, w.size), dtype=w.dtype)
        for i in starts[part]:
            block = [a[i : i + _ADAM_BLOCK] for a in flat]
            _adam_block(*block, scratch[: block[0].size], beta1, beta2, step_size, eps_hat)

    parallel_map(run, split(len(starts), num_threads), num_threads)


def _adam_block(w, g, m, v, buf, beta1, beta2, step_size, eps_hat):
    m *= beta1
    np.multiply(g, 1 - beta1, out=buf)
    m += buf
    v *= beta2
    np.multiply(g, g, out=buf)
    buf *= 1 - beta2
    v += buf
    np.sqrt(v, out=buf)
    buf += eps_hat
    np.divide(m, buf, out=buf)
    buf *= step_size
    w -= buf


UPDATE_RULES = {rule.__name__: rule for rule in (sgd, sgd_momentum, rmsprop, adam)}
