"""Training checkpoints as plain .npz files (no pickle).

A checkpoint is a flat npz archive whose entries are all numeric (or string)
arrays, so ``np.load(path, allow_pickle=False)`` reads it:

- 'param/<name>': current model parameters.
- 'best/<name>': parameters with the best validation accuracy so far.
- 'optim/<name>/<key>': each parameter's optimiser config, hyperparameters and
  state alike (0-d arrays for scalars such as 'learning_rate' or 't').
- 'loss_history', 'train_acc_history', 'val_acc_history': 1-d float arrays.
- scalars: 'epoch', 'iteration', 'best_val_acc', 'format_version',
  optionally 'base_learning_rate'; strings: 'update_rule'.
- optionally 'rng_state': the PCG64 state of the solver's generator as
  uint64 words, so that a resumed run draws the same minibatches.

`save_checkpoint(path, state)` and `load_checkpoint(path)` round-trip the
nested dict described in `load_checkpoint`.
"""
import os

import numpy as np

from .fileio import atomic_write

__all__ = ["save_checkpoint", "load_checkpoint", "check_solver_state", "rng_state_to_array",
           "rng_state_from_array"]

FORMAT_VERSION = 1
_HISTORIES = ("loss_history", "train_acc_history", "val_acc_history")
_SCALARS = ("epoch", "iteration", "best_val_acc", "base_learning_rate", "update_rule")
_REQUIRED = ("format_version", "epoch", "iteration", "best_val_acc") + _HISTORIES
_MASK64 = (1 << 64) - 1


def rng_state_to_array(rng):
    """Encode a PCG64-backed Generator's state as 6 uint64 words."""
    state = rng.bit_generator.state
    if state["bit_generator"] != "PCG64":
        raise ValueError(
            f"only PCG64 generators can be checkpointed, got {state['bit_generator']}")
    s, inc = state["state"]["state"], state["state"]["inc"]
    words = [s >> 64, s & _MASK64, inc >> 64, inc & _MASK64,
             state["has_uint32"], state["uinteger"]]
    return np.array(words, dtype=np.uint64)


def rng_state_from_array(words):
    """Inverse of `rng_state_to_array`: a new np.random.Generator."""
    words = [int(x) for x in np.asarray(words, dtype=np.uint64)]
    if len(words) != 6:
        raise ValueError(f"rng_state must hold 6 uint64 words, got {len(words)}")
    bit_generator = np.random.PCG64()
    bit_generator.state = {
        "bit_generator": "PCG64",
        "state": {"state": (words[0] << 64) | words[1], "inc": (words[2] << 64) | words[3]},
        "has_uint32": words[4],
        "uinteger": words[5],
    }
    return np.random.Generator(bit_generator)


def _as_plain_array(key, value):
    arr = np.asarray(value)
    if arr.dtype.hasobject:
        raise ValueError(f"checkpoint entry '{key}' is not numeric (value {value!r})")
    return arr


def save_checkpoint(path, state):
    """Write `state` (see `load_checkpoint`) to `path` atomically.

    The archive is written to a temporary file in the same directory and then
    moved over `path` with os.replace, so a crash never leaves a half-written
    checkpoint behind. `path` is used as given (no '.npz' is appended).
    """
    path = os.fspath(path)
    entries = {"format_version": np.array(FORMAT_VERSION)}
    for name, value in state["params"].items():
        entries[f"param/{name}"] = _as_plain_array(f"param/{name}", value)
    for name, value in state["best_params"].items():
        entries[f"best/{name}"] = _as_plain_array(f"best/{name}", value)
    for name, config in state["optim_configs"].items():
        for key, value in config.items():
            if "/" in str(key):
                raise ValueError(f"optimiser config key {key!r} of '{name}' may not contain '/'")
            entries[f"optim/{name}/{key}"] = _as_plain_array(f"optim/{name}/{key}", value)
    for key in _HISTORIES:
        entries[key] = np.asarray(state[key], dtype=np.float64)
    for key in _SCALARS:
        if state.get(key) is not None:
            entries[key] = _as_plain_array(key, state[key])
    if state.get("rng_state") is not None:
        entries["rng_state"] = np.asarray(state["rng_state"], dtype=np.uint64)

    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"checkpoint directory does not exist: {directory}")
    atomic_write(path, lambda f: np.savez(f, **entries))


def _scalar(arr):
    value = arr.item()
    return str(value) if isinstance(value, str) else value


def load_checkpoint(path):
    """Read a checkpoint written by `save_checkpoint`.

    Returns a dict with
    - 'params', 'best_params': dict name -> ndarray.
    - 'optim_configs': dict name -> config dict (arrays stay arrays, scalars
      become Python int / float / bool).
    - 'loss_history', 'train_acc_history', 'val_acc_history': lists of floats.
    - 'epoch', 'iteration' (int), 'best_val_acc' (float), 'format_version',
      and when present 'base_learning_rate', 'update_rule', 'rng_state'.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    state = {"params": {}, "best_params": {}, "optim_configs": {}}
    with np.load(path, allow_pickle=False) as archive:
        missing = [key for key in _REQUIRED if key not in archive.files]
        if missing:
            raise ValueError(f"{path} is not a solver checkpoint: missing entries {missing}")
        for key in archive.files:
            arr = archive[key]
            group, _, rest = key.partition("/")
            if group == "param" and rest:
                state["params"][rest] = arr
            elif group == "best" and rest:
                state["best_params"][rest] = arr
            elif group == "optim" and rest:
                name, _, config_key = rest.rpartition("/")
                value = arr if arr.ndim else _scalar(arr)
                state["optim_configs"].setdefault(name, {})[config_key] = value
            elif key in _HISTORIES:
                state[key] = arr.tolist()
            elif key == "rng_state":
                state[key] = arr
            else:
                state[key] = _scalar(arr)
    if state["format_version"] != FORMAT_VERSION:
        raise ValueError(
            f"{path} has checkpoint format {state['format_version']}, expected {FORMAT_VERSION}")
    return state


def check_solver_state(state, path, update_rule, params):
    """Check a loaded checkpoint fits a solver using ``update_rule`` on ``params`` (name -> array)."""
    if state.get("update_rule") != update_rule:
        raise ValueError(f"{path} was written with update_rule '{state.get('update_rule')}', "
                         f"this solver uses '{update_rule}'")
    for group in ("params", "best_params", "optim_configs"):
        if set(state[group]) != set(params):
            raise ValueError(f"{path} has {group} {sorted(state[group])} but the model has "
                             f"parameters {sorted(params)}")
    for name, w in params.items():
        if state["params"][name].shape != w.shape:
            raise ValueError(f"{path}: parameter '{name}' has shape "
                             f"{state['params'][name].shape}, the model's has {w.shape}")
