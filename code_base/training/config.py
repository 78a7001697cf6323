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
           "final" (the parameters after the last epoch; sensible when a schedule decays to ~0 and the validation split is too small to rank
           epochs: 200 images give accuracies +-2.5 %)
  schedule null or {"name": "constant"|"step"|"cosine", ..., "warmup_epochs": k}
           (a cosine without num_epochs spans the run); see code_base.training.schedules
  augment  padding (zero pixels per side for random crops; 0 = none), flip (bool),
           cutout (side of a zeroed square; 0 = none)
  eval     flip_tta (bool): average the scores of each test image and its mirror image
"""

import copy
import hashlib
import json
from pathlib import Path

from ..optim import UPDATE_RULES, validate_config
from ..utils.checks import check_bool, check_int, check_probability, check_real
from . import schedules

__all__ = ["DEFAULT_CONFIG", "SCHEMA", "LIMITS", "merge", "resolve_config", "check_config", "load_config",
           "config_id", "config_differences"]

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


IMAGE_SIDE = 32  # CIFAR's images are 32 x 32
# Upper bounds a CIFAR2 network of this kind never needs; beyond them a typo (an extra zero)
# would ask for gigabytes.  W2 alone holds num_filters * 16 * 16 * hidden_dim weights.
LIMITS = {"model.num_filters": 256, "model.filter_size": IMAGE_SIDE - 1,
          "model.hidden_dim": 4096, "augment.padding": IMAGE_SIDE // 2,
          "augment.cutout": IMAGE_SIDE}


def _int(minimum, allow_none=False, maximum=None, why=""):
    def check(where, name, value):
        value = check_int(where, name, value, minimum, allow_none=allow_none)
        if maximum is not None and value is not None and value > maximum:
            raise ValueError(f"{where}: {name} must be at most {maximum}{why}, got {value}")
        return value
    return check


def _choice(*options):
    def check(where, name, value):
        if value not in options:
            raise ValueError(f"{where}: {name} must be one of {list(options)}, got {value!r}")
    return check


def _odd(where, name, value):
    value = _int(1, maximum=LIMITS[name], why=" (the image is 32 pixels wide)")(where, name, value)
    if value % 2 == 0:
        raise ValueError(f"{where}: {name} must be odd (for size-preserving padding), got {value}")


def _weight_scale(where, name, value):
    if value != "he":
        check_real(where, f"{name} ('he' or a number)", value, 0, low_open=True)


def _drop_probability(where, name, value):
    check_probability(where, f"{name} (the probability of dropping a unit)", value, allow_one=False)


# Every key of DEFAULT_CONFIG but the free-form ones, and what its value must be.
SCHEMA = {
    "seed": _int(0),
    "data.num_training": _int(1), "data.num_validation": _int(0), "data.num_test": _int(0),
    "data.seed": _int(0), "data.normalize": check_bool,
    "model.num_filters": _int(1, maximum=LIMITS["model.num_filters"]),
    "model.filter_size": _odd, "model.hidden_dim": _int(1, maximum=LIMITS["model.hidden_dim"]),
    "model.weight_scale": _weight_scale, "model.reg": lambda w, n, v: check_real(w, n, v, 0),
    "model.dropout": _drop_probability, "model.num_threads": _int(1, allow_none=True),
    "solver.update_rule": _choice(*UPDATE_RULES), "solver.batch_size": _int(1),
    "solver.num_epochs": _int(1), "solver.num_train_samples": _int(1, allow_none=True),
    "solver.num_val_samples": _int(1, allow_none=True),
    "solver.checkpoint_every": _int(1, allow_none=True), "solver.keep": _choice("best", "final"),
    "augment.padding": _int(0, maximum=LIMITS["augment.padding"], why=" (half the image side)"),
    "augment.flip": check_bool,
    "augment.cutout": _int(0, maximum=LIMITS["augment.cutout"], why=" (the image side)"),
    "eval.flip_tta": check_bool,
}


def merge(base, update, where, path=()):
    """Deep-merge ``update`` into a copy of ``base``: the one merge of configs.

    Sections merge key by key; an unknown key or a section that is not a JSON object (null
    included) raises ValueError naming it.  Free-form values (solver.optim_config, schedule)
    are replaced as a whole; schedule alone may be null.
    """
    name = ".".join(path) or "the config"
    if not isinstance(update, dict):
        raise ValueError(f"{where}: {name} must be a JSON object, got {json.dumps(update)}")
    if path in _FREE_FORM:
        return copy.deepcopy(update)
    out = copy.deepcopy(base)
    for key, value in update.items():
        if key not in base:
            section = ".".join(path) or "the top level"
            raise ValueError(f"{where}: unknown config key {key!r} in {section}; "
                             f"known keys: {sorted(base)}")
        if (*path, key) == ("schedule",) and value is None:
            out[key] = None
        elif isinstance(base[key], dict) or (*path, key) in _FREE_FORM:
            out[key] = merge(base[key] or {}, value, where, (*path, key))
        else:
            out[key] = value
    return out


def check_config(cfg, where="config"):
    """Check every value of a merged config against SCHEMA, the optimiser and the schedule."""
    for key, check in SCHEMA.items():
        section, _, name = key.rpartition(".")
        check(where, key, cfg[section][name] if section else cfg[name])
    solver = cfg["solver"]
    try:
        validate_config(UPDATE_RULES[solver["update_rule"]], solver["optim_config"])
        schedules.from_config(cfg["schedule"])
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None
    warmup = (cfg["schedule"] or {}).get("warmup_epochs", 0)
    if isinstance(warmup, int) and warmup > solver["num_epochs"]:
        raise ValueError(f"{where}: schedule.warmup_epochs is {warmup}, longer than the run "
                         f"(solver.num_epochs {solver['num_epochs']})")


def resolve_config(*configs, epochs=None, seed=None, where="config"):
    """Defaults + ``configs`` (merged in turn) + command-line overrides -> a complete, checked
    config dict.  ``where`` names the configs' source (e.g. a file) in error messages.
    """
    cfg = DEFAULT_CONFIG
    for config in configs:
        cfg = merge(cfg, config, where)
    cfg = copy.deepcopy(cfg)
    if epochs is not None:
        cfg["solver"]["num_epochs"] = epochs
    if seed is not None:
        cfg["seed"] = seed
    sched = cfg["schedule"]
    if isinstance(sched, dict) and sched.get("name") == "cosine" and "num_epochs" not in sched:
        sched["num_epochs"] = cfg["solver"]["num_epochs"]
    check_config(cfg, where)
    return cfg


def load_config(path):
    """Read a JSON config file (FileNotFoundError / ValueError naming the file)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    def refuse_duplicates(pairs):
        keys = [key for key, _ in pairs]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            raise ValueError(f"{path}: duplicate key {repeated[0]!r} (a repeated key would "
                             "silently replace the first one's value)")
        return dict(pairs)

    try:
        return json.loads(path.read_text(encoding="utf-8-sig"), object_pairs_hook=refuse_duplicates)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON: {e}") from e


def config_id(config):
    """A short fingerprint of a resolved config (12 hex digits of the SHA-256 of its JSON)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]


def config_differences(a, b, path=""):
    """The keys where two configs differ, as 'key: A there, B here' strings (sorted)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for key in sorted(set(a) | set(b), key=str)
                for d in config_differences(a.get(key), b.get(key), f"{path}.{key}" if path else key)]
    return [] if a == b else [f"{path or 'config'}: {json.dumps(a)} there, {json.dumps(b)} here"]

