"""Training configs: defaults, deep merge with checks, and reading a JSON file.

A config is a dict of sections; every key is optional and takes its default from
``DEFAULT_CONFIG``.  An unknown key raises ValueError naming it and the known ones, so a
typo cannot silently fall back to a default.

Config keys (all optional; defaults in DEFAULT_CONFIG):
  seed                     int: model init, dropout, minibatch order and augmentation
  data     num_training, num_validation, num_test, seed (the split), normalize
  model    num_filters, filter_size, hidden_dim, weight_scale (number or "he"), reg, dropout,
           num_threads (null = all cores)
  solver   update_rule, optim_config, batch_size, num_epochs, num_train_samples,
           num_val_samples, checkpoint_every (null = no checkpoints),
           keep: "best" (the Solver's choice: the epoch with the best validation accuracy) or
           "final" (the parameters after the last epoch, read back from the final checkpoint;
           sensible when a schedule decays to ~0 and the validation split is too small to rank
           epochs: 200 images give accuracies +-2.5 %)
  schedule null or {"name": "constant"|"step"|"cosine", ..., "warmup_epochs": k}
           (a cosine without num_epochs spans the run); see code_base.training.schedules
  augment  padding (zero pixels per side for random crops; 0 = none), flip (bool),
           cutout (side of a zeroed square; 0 = none)
  eval     flip_tta (bool): average the scores of each test image and its mirror image
"""

import copy
import json
from pathlib import Path

from . import schedules

__all__ = ["DEFAULT_CONFIG", "resolve_config", "load_config"]

DEFAULT_CONFIG = {
    "seed": 0,
    "data": {"num_training": 9800, "num_validation": 200, "num_test": 2000, "seed": 0,
             "normalize": True},
    "model": {"num_filters": 32, "filter_size": 7, "hidden_dim": 100, "weight_scale": 1e-3,
              "reg": 0.0, "dropout": 0.0, "num_threads": None},
    "solver": {"update_rule": "adam", "optim_config": {"learning_rate": 1e-3}, "batch_size": 50,
               "num_epochs": 1, "num_train_samples": 1000, "num_val_samples": None,
               "checkpoint_every": 5, "keep": "best"},
    "schedule": None,
    "augment": {"padding": 0, "flip": False, "cutout": 0},
    "eval": {"flip_tta": False},
}
# Sub-dicts whose keys are free-form (passed on as they are and checked by their consumer).
_FREE_FORM = {("solver", "optim_config"), ("schedule",)}


def _merge(base, update, path=()):
    """Deep-merge ``update`` into a copy of ``base``; unknown keys raise ValueError."""
    if path in _FREE_FORM:
        return copy.deepcopy(update)
    if not isinstance(update, dict):
        where = ".".join(path) or "config"
        raise ValueError(f"{where} must be a JSON object, got {update!r}")
    out = copy.deepcopy(base)
    for key, value in update.items():
        if key not in base:
            where = ".".join(path) or "the top level"
            raise ValueError(f"unknown config key {key!r} in {where}; known keys: {sorted(base)}")
        if isinstance(base[key], dict) or (*path, key) in _FREE_FORM:
            out[key] = _merge(base[key] or {}, value, (*path, key)) if value is not None else None
        else:
            out[key] = value
    return out


def resolve_config(config, epochs=None, seed=None):
    """Defaults + ``config`` + command-line overrides -> a complete config dict."""
    cfg = _merge(DEFAULT_CONFIG, config)
    if epochs is not None:
        cfg["solver"]["num_epochs"] = epochs
    if seed is not None:
        cfg["seed"] = seed
    sched = cfg["schedule"]
    if sched and sched.get("name") == "cosine" and "num_epochs" not in sched:
        sched["num_epochs"] = cfg["solver"]["num_epochs"]
    schedules.from_config(sched)  # fail now on a bad schedule, not after loading the data
    keep = cfg["solver"]["keep"]
    if keep not in ("best", "final"):
        raise ValueError(f"solver.keep must be 'best' or 'final', got {keep!r}")
    if keep == "final" and not cfg["solver"]["checkpoint_every"]:
        raise ValueError("solver.keep 'final' reads the last checkpoint: "
                         "set solver.checkpoint_every")
    return cfg


def load_config(path):
    """Read a JSON config file (FileNotFoundError / ValueError naming the file)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON: {e}") from e
