"""The Solver's training state as a plain .npz file (no pickle), checked entry by entry on load.

A checkpoint is a flat npz archive whose entries are all numeric (or string) arrays, so
``np.load(path, allow_pickle=False)`` reads it:

- 'param/<name>': current model parameters; 'best/<name>': the best-validation ones.
- 'optim/<name>/<key>': each parameter's optimiser config, hyperparameters and state alike
  (0-d arrays for scalars such as 'learning_rate' or 't').
- 'loss_history' (one loss per iteration), 'train_acc_history', 'val_acc_history' (one
  accuracy before the first update and one after each epoch): 1-d float arrays.
- scalars: 'epoch', 'iteration', 'best_val_acc', 'format_version', optionally
  'base_learning_rate'; strings: 'update_rule', optionally 'tag' (the Solver's
  checkpoint_tag, e.g. the training config).
- 'rng_state': the PCG64 state of the solver's generator as uint64 words, and optionally
  'model_rng_state', the model's (its dropout masks), so that a resumed run draws exactly
  what the uninterrupted run would have drawn.

:func:`save_solver` and :func:`restore_solver` move a Solver's state in and out; a file that
is not such a checkpoint, or whose entries do not fit the solver, raises ValueError naming the
file and the entry.
"""
import os
import zipfile

import numpy as np

from .fileio import atomic_write

__all__ = ["save_checkpoint", "load_checkpoint", "save_solver", "restore_solver",
           "rng_state_to_array", "rng_state_from_array", "set_rng_state"]

FORMAT_VERSION = 2
_READABLE_VERSIONS = (1, 2)  # version 1 lacks 'tag' and 'model_rng_state'
_HISTORIES = ("loss_history", "train_acc_history", "val_acc_history")
_SCALARS = ("epoch", "iteration", "best_val_acc", "base_learning_rate", "update_rule", "tag")
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


def set_rng_state(rng, words):
    """Give the PCG64 Generator ``rng`` the state encoded by :func:`rng_state_to_array`."""
    words = [int(x) for x in np.asarray(words, dtype=np.uint64)]
    if len(words) != 6:
        raise ValueError(f"rng_state must hold 6 uint64 words, got {len(words)}")
    rng.bit_generator.state = {
        "bit_generator": "PCG64",
        "state": {"state": (words[0] << 64) | words[1], "inc": (words[2] << 64) | words[3]},
        "has_uint32": words[4],
        "uinteger": words[5],
    }
    return rng


def rng_state_from_array(words):
    """Inverse of `rng_state_to_array`: a new np.random.Generator."""
    return set_rng_state(np.random.Generator(np.random.PCG64()), words)


def _as_plain_array(key, value):
    arr = np.asarray(value)
    if arr.dtype.hasobject:
        raise ValueError(f"checkpoint entry '{key}' is not numeric (value {value!r})")
    return arr


def save_checkpoint(path, state):
    """Write `state` (see `load_checkpoint`) to `path` atomically.

    The archive is written to a temporary file in the same directory and then moved over
    `path`, so a crash never leaves a half-written checkpoint behind. `path` is used as given
    (no '.npz' is appended).
    """
    path = os.fspath(path)
    entries = {"format_version": np.array(FORMAT_VERSION)}
    for group, key in (("param", "params"), ("best", "best_params")):
        for name, value in state[key].items():
            entries[f"{group}/{name}"] = _as_plain_array(f"{group}/{name}", value)
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
    for key in ("rng_state", "model_rng_state"):
        if state.get(key) is not None:
            entries[key] = np.asarray(state[key], dtype=np.uint64)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"checkpoint directory does not exist: {directory}")
    atomic_write(path, lambda f: np.savez(f, **entries))


def _scalar(arr):
    value = arr.item()
    return str(value) if isinstance(value, str) else value


def load_checkpoint(path):
    """Read a checkpoint written by `save_checkpoint`.

    Returns a dict with 'params', 'best_params' (name -> ndarray), 'optim_configs' (name ->
    config dict: arrays stay arrays, scalars become Python numbers), the three histories as
    lists, 'epoch', 'iteration' (int), 'best_val_acc' (float), 'format_version', and when
    present 'base_learning_rate', 'update_rule', 'tag', 'rng_state', 'model_rng_state'.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in _REQUIRED if key not in archive.files]
            if missing:
                raise ValueError(f"{path} is not a solver checkpoint: missing entries {missing}")
            state = _read_entries(archive)
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise ValueError(f"{path} is not a readable checkpoint ({type(e).__name__}: {e})") from None
    except ValueError as e:
        if str(e).startswith(path):
            raise
        raise ValueError(f"{path} is not a readable checkpoint ({e})") from None
    _check_entries(state, path)
    return state


def _read_entries(archive):
    state = {"params": {}, "best_params": {}, "optim_configs": {}}
    for key in archive.files:
        arr = archive[key]
        group, _, rest = key.partition("/")
        if group in ("param", "best") and rest:
            state["params" if group == "param" else "best_params"][rest] = arr
        elif group == "optim" and rest:
            name, _, config_key = rest.rpartition("/")
            value = arr if arr.ndim else _scalar(arr)
            state["optim_configs"].setdefault(name, {})[config_key] = value
        elif key in _HISTORIES:
            state[key] = arr
        elif key in ("rng_state", "model_rng_state"):
            state[key] = arr
        else:
            state[key] = _scalar(arr)
    return state


def _check_entries(state, path):
    """Types and consistency of the entries, whatever the solver."""
    def bad(key, wanted):
        return ValueError(f"{path}: entry '{key}' must be {wanted}, got {state[key]!r}")

    if state["format_version"] not in _READABLE_VERSIONS:
        raise ValueError(f"{path} has checkpoint format {state['format_version']}, "
                         f"expected one of {list(_READABLE_VERSIONS)}")
    for key in ("epoch", "iteration"):
        if isinstance(state[key], bool) or not isinstance(state[key], int) or state[key] < 0:
            raise bad(key, "an integer >= 0")
    acc = state["best_val_acc"]
    if isinstance(acc, bool) or not isinstance(acc, (int, float)) or not 0 <= acc <= 1:
        raise bad("best_val_acc", "a number in [0, 1]")
    for key in _HISTORIES:
        h = state[key]
        if h.ndim != 1 or not np.issubdtype(h.dtype, np.floating):
            raise ValueError(f"{path}: entry '{key}' must be a 1-d float array, got {h.dtype} {h.shape}")
        state[key] = h.tolist()
    epochs_recorded = state["epoch"] + 1  # before the first update, then after each epoch
    for key, expected in (("loss_history", state["iteration"]),
                          ("train_acc_history", epochs_recorded), ("val_acc_history", epochs_recorded)):
        if len(state[key]) != expected:
            raise ValueError(f"{path}: entry '{key}' holds {len(state[key])} values, but epoch "
                             f"{state['epoch']} and iteration {state['iteration']} need {expected}")
    for key in ("rng_state", "model_rng_state"):
        if key in state and (state[key].shape != (6,) or state[key].dtype != np.uint64):
            raise ValueError(f"{path}: entry '{key}' must be 6 uint64 words")
    for key in ("update_rule", "tag"):
        if key in state and not isinstance(state[key], str):
            raise bad(key, "a string")


def save_solver(solver, path):
    """Write a Solver's training state (and its model's generator, if it has one) to ``path``."""
    model_rng = getattr(solver.model, "rng", None)
    save_checkpoint(path, {
        "params": solver.model.params, "best_params": solver.best_params,
        "optim_configs": solver.optim_configs, "epoch": solver.epoch,
        "iteration": solver.iteration, "best_val_acc": solver.best_val_acc,
        "base_learning_rate": solver.base_learning_rate, "update_rule": solver.update_rule_name,
        "tag": solver.checkpoint_tag, "rng_state": rng_state_to_array(solver.rng),
        "model_rng_state": (rng_state_to_array(model_rng)
                            if isinstance(model_rng, np.random.Generator) else None),
        "loss_history": solver.loss_history, "train_acc_history": solver.train_acc_history,
        "val_acc_history": solver.val_acc_history,
    })


def restore_solver(solver, path):
    """Load ``path`` into the Solver and its model, after checking that it fits them."""
    state = load_checkpoint(path)
    _check_fits(state, path, solver)
    solver.model.params.update({k: v.copy() for k, v in state["params"].items()})
    solver.best_params = state["best_params"]
    solver.optim_configs = state["optim_configs"]
    solver.epoch, solver.iteration = state["epoch"], state["iteration"]
    solver.best_val_acc = state["best_val_acc"]
    solver.base_learning_rate = state.get("base_learning_rate")
    for key in _HISTORIES:
        setattr(solver, key, state[key])
    set_rng_state(solver.rng, state["rng_state"])
    if "model_rng_state" in state and isinstance(getattr(solver.model, "rng", None),
                                                 np.random.Generator):
        set_rng_state(solver.model.rng, state["model_rng_state"])  # shared with its dropout


def _check_fits(state, path, solver):
    if state.get("tag") != solver.checkpoint_tag:
        raise ValueError(f"{path} was written with checkpoint tag {state.get('tag')!r}, "
                         f"this solver's is {solver.checkpoint_tag!r}")
    if state.get("update_rule") != solver.update_rule_name:
        raise ValueError(f"{path} was written with update_rule '{state.get('update_rule')}', "
                         f"this solver uses '{solver.update_rule_name}'")
    if "rng_state" not in state:
        raise ValueError(f"{path} lacks the solver's generator state 'rng_state'")
    if state["epoch"] > solver.num_epochs:
        raise ValueError(f"{path} is at epoch {state['epoch']}, past this solver's "
                         f"num_epochs {solver.num_epochs}")
    if state["iteration"] != state["epoch"] * solver.iterations_per_epoch:
        raise ValueError(f"{path}: iteration {state['iteration']} is not epoch {state['epoch']} "
                         f"times this solver's {solver.iterations_per_epoch} iterations per epoch")
    params = solver.model.params
    for group in ("params", "best_params", "optim_configs"):
        if set(state[group]) != set(params):
            raise ValueError(f"{path} has {group} {sorted(state[group])} but the model has "
                             f"parameters {sorted(params)}")
    for name, w in params.items():
        arrays = [("param", state["params"][name]), ("best", state["best_params"][name])]
        arrays += [(f"optim/{name}/{k}", v) for k, v in state["optim_configs"][name].items()
                   if isinstance(v, np.ndarray) and v.ndim]
        for key, a in arrays:
            if a.shape != w.shape or a.dtype != w.dtype:
                raise ValueError(f"{path}: parameter '{name}' has {key} of {a.dtype} {a.shape}, "
                                 f"the model's is {w.dtype} {w.shape}")
            if not np.isfinite(a).all():
                raise ValueError(f"{path}: parameter '{name}' has {key} holding "
                                 f"{np.count_nonzero(~np.isfinite(a))} NaN or infinite values")
