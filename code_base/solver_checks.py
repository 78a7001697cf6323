"""The Solver's checks: its arguments, and a saved training state, entry by entry.

:meth:`code_base.solver.Solver.load_state_dict` calls :func:`check_state` before it loads
anything; every problem is a ValueError naming the source (the checkpoint file), the entry and
what was expected.
"""
import contextlib
import warnings

import numpy as np

from . import optim
from .utils.checkpoint import rng_state_from_array
from .utils.checks import check_real

__all__ = ["HISTORIES", "DATA_KEYS", "check_model", "check_data", "check_schedule",
           "check_options", "check_state", "check_loss", "quiet_overflow", "TrainingDiverged"]

HISTORIES = ("loss_history", "train_acc_history", "val_acc_history", "lr_history")
DATA_KEYS = ("X_train", "y_train", "X_val", "y_val")


class TrainingDiverged(FloatingPointError):
    """The training loss became NaN or infinite, or grew far beyond its start (see Solver).

    Attributes: iteration, epoch, loss, learning_rate (the configured one).
    """

    def __init__(self, iteration, num_iterations, epoch, num_epochs, loss, learning_rate, limit):
        self.iteration, self.epoch = iteration, epoch
        self.loss, self.learning_rate = loss, learning_rate
        why = "" if not np.isfinite(loss) else f" (above the limit {limit:.3g})"
        super().__init__(
            f"training diverged: loss is {loss:.6g}{why} at iteration {iteration} / "
            f"{num_iterations} (epoch {epoch} / {num_epochs}) with learning_rate {learning_rate}; "
            "try a lower learning rate (parameters are left as they were before this iteration)")


@contextlib.contextmanager
def quiet_overflow():
    """No NumPy overflow / invalid-value warnings inside: a diverging run reaches them on its
    way to a loss that check_loss reports in one message.  Both the error state (this thread)
    and a warnings filter (worker threads, which have an error state of their own) are set."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def check_loss(loss, solver):
    """``loss`` if it is finite and within the Solver's divergence limit, else TrainingDiverged."""
    first = solver.loss_history[0] if solver.loss_history else loss
    factor = solver.divergence_factor
    limit = np.inf if factor is None else factor * max(1.0, first)
    if not np.isfinite(loss) or loss > limit:
        raise TrainingDiverged(solver.iteration + 1,
                               solver.num_epochs * solver.iterations_per_epoch, solver.epoch + 1,
                               solver.num_epochs, loss, solver.base_learning_rate, limit)
    return loss


def check_model(model):
    if not (isinstance(getattr(model, "params", None), dict)
            and callable(getattr(model, "loss", None))):
        raise TypeError("Solver: model must have a .params dict and a .loss(X, y=None) method")
    return model


def check_data(data):
    """(X_train, y_train, X_val, y_val) of the data dict, each split non-empty and matched."""
    missing = [key for key in DATA_KEYS if key not in data]
    if missing:
        raise ValueError(f"data is missing key(s) {missing}; it needs {list(DATA_KEYS)}")
    for split in ("train", "val"):
        X, y = data[f"X_{split}"], data[f"y_{split}"]
        if len(X) != len(y):
            raise ValueError(f"X_{split} has {len(X)} examples but y_{split} has {len(y)}")
        if len(X) == 0:
            raise ValueError(f"X_{split} is empty")
    return tuple(data[key] for key in DATA_KEYS)


def check_schedule(lr_decay, lr_schedule, learning_rate, rule_name):
    """lr_decay as a float; lr_schedule a callable or None, not both, and a rate to scale."""
    lr_decay = check_real("Solver", "lr_decay", lr_decay, 0, low_open=True)
    if lr_schedule is not None and not callable(lr_schedule):
        raise ValueError(
            f"Solver: lr_schedule must be a callable epoch -> multiplier, got {lr_schedule!r}")
    if lr_schedule is not None and lr_decay != 1:
        raise ValueError(f"Solver: give either lr_decay (got {lr_decay}) or lr_schedule, "
                         "not both")
    if learning_rate is None and (lr_decay != 1 or lr_schedule is not None):
        raise ValueError("Solver: lr_decay / lr_schedule need optim_config['learning_rate'] "
                         f"for update rule '{rule_name}'")
    return lr_decay


def check_options(augment, checkpoint_tag, keep):
    if augment is not None and not callable(augment):
        raise ValueError(f"Solver: augment must be a callable (X_batch, rng) -> X_batch, "
                         f"got {augment!r}")
    if checkpoint_tag is not None and not isinstance(checkpoint_tag, str):
        raise ValueError(f"Solver: checkpoint_tag must be a string, got {checkpoint_tag!r}")
    if keep not in ("best", "final"):
        raise ValueError(f"Solver: keep must be 'best' or 'final', got {keep!r}")


def _bad(source, key, wanted, value):
    return ValueError(f"{source}: entry '{key}' must be {wanted}, got {value!r}")


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_scalars(state, source, solver):
    missing = [k for k in ("epoch", "iteration", "best_val_acc", "best_epoch", "rng_state",
                           *HISTORIES) if k not in state]
    if missing:
        raise ValueError(f"{source} is not a solver checkpoint: missing entries {missing}")
    for key in ("epoch", "iteration", "best_epoch"):
        if not _is_int(state[key]) or state[key] < 0:
            raise _bad(source, key, "an integer >= 0", state[key])
    acc = state["best_val_acc"]
    if isinstance(acc, bool) or not isinstance(acc, (int, float)) or not 0 <= acc <= 1:
        raise _bad(source, "best_val_acc", "a number in [0, 1]", acc)
    for key, mine in (("tag", solver.checkpoint_tag), ("update_rule", solver.update_rule_name),
                      ("keep", solver.keep)):
        if state.get(key) != mine:
            raise ValueError(f"{source} was written with {key} {state.get(key)!r}, this "
                             f"solver's is {mine!r}" + (" (its checkpoint tag)" if key == "tag"
                                                         else ""))


def _check_histories(state, source, solver):
    """The histories as float lists, their lengths consistent with epoch and iteration."""
    epoch, iteration = state["epoch"], state["iteration"]
    histories = {}
    for key in HISTORIES:
        h = np.asarray(state[key], dtype=None if isinstance(state[key], np.ndarray) else float)
        if h.ndim != 1 or (h.size and not np.issubdtype(h.dtype, np.floating)):
            raise ValueError(f"{source}: entry '{key}' must be a 1-d float array, "
                             f"got {h.dtype} {h.shape}")
        histories[key] = [float(x) for x in h]
    has_lr = solver.base_learning_rate is not None
    for key, expected in (("loss_history", iteration), ("train_acc_history", epoch + 1),
                          ("val_acc_history", epoch + 1), ("lr_history", epoch if has_lr else 0)):
        if len(histories[key]) != expected:
            raise ValueError(f"{source}: entry '{key}' holds {len(histories[key])} values, but "
                             f"epoch {epoch} and iteration {iteration} need {expected}")
    if state["best_epoch"] > epoch:
        raise ValueError(f"{source}: entry 'best_epoch' is {state['best_epoch']}, "
                         f"past epoch {epoch}")
    if epoch > solver.num_epochs:
        raise ValueError(f"{source} is at epoch {epoch}, past this solver's "
                         f"num_epochs {solver.num_epochs}")
    if iteration != epoch * solver.iterations_per_epoch:
        raise ValueError(f"{source}: iteration {iteration} is not epoch {epoch} times this "
                         f"solver's {solver.iterations_per_epoch} iterations per epoch")
    return histories


def _check_generators(state, source, model):
    rng_state_from_array(state["rng_state"], f"{source}: entry 'rng_state'")
    has_rng = isinstance(getattr(model, "rng", None), np.random.Generator)
    if has_rng and state.get("model_rng_state") is None:
        raise ValueError(f"{source} lacks the model's generator state 'model_rng_state' (its "
                         "dropout masks): it cannot continue the run exactly")
    if not has_rng and state.get("model_rng_state") is not None:
        raise ValueError(f"{source} has a model generator state 'model_rng_state', but the "
                         "model has no rng")
    if has_rng:
        rng_state_from_array(state["model_rng_state"], f"{source}: entry 'model_rng_state'")


def _check_arrays(state, source, solver):
    params = solver.model.params
    for group in ("param", "best", "optim"):
        found = state.get(group, {})
        if not isinstance(found, dict) or set(found) != set(params):
            names = sorted(found) if isinstance(found, dict) else found
            raise ValueError(f"{source} has {group} entries for {names} but the model has "
                             f"parameters {sorted(params)}")
    for name, w in params.items():
        config = state["optim"][name]
        if not isinstance(config, dict):
            raise _bad(source, f"optim/{name}", "a group of optimiser entries", config)
        arrays = [("param", state["param"][name]), ("best", state["best"][name])]
        arrays += [(f"optim/{name}/{k}", v) for k, v in config.items()
                   if isinstance(v, np.ndarray) and v.ndim]
        for key, a in arrays:
            if not isinstance(a, np.ndarray) or a.shape != w.shape or a.dtype != w.dtype:
                desc = f"{a.dtype} {a.shape}" if isinstance(a, np.ndarray) else repr(a)
                raise ValueError(f"{source}: parameter '{name}' has {key} of {desc}, "
                                 f"the model's is {w.dtype} {w.shape}")
            if not np.isfinite(a).all():
                raise ValueError(f"{source}: parameter '{name}' has {key} holding "
                                 f"{np.count_nonzero(~np.isfinite(a))} NaN or infinite values")
        if hasattr(solver.update_rule, "defaults"):  # a built-in rule: check its config too
            try:
                optim.validate_config(solver.update_rule, config)
            except ValueError as e:
                raise ValueError(f"{source}: entry 'optim/{name}': {e}") from None


def check_state(state, solver, source="state"):
    """Check ``state`` (see Solver.state_dict) against ``solver`` and its model.

    Returns the histories as lists of floats; raises ValueError naming ``source`` and the entry.
    """
    if not isinstance(state, dict):
        raise ValueError(f"{source}: a solver state must be a dict, got {type(state).__name__}")
    _check_scalars(state, source, solver)
    histories = _check_histories(state, source, solver)
    _check_generators(state, source, solver.model)
    _check_arrays(state, source, solver)
    return histories
