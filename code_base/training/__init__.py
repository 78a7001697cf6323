"""The training pipeline: configs, the train and search commands, augmentation, schedules.

    python -m code_base.training train  --config configs/best.json --out runs/best [--reuse]
    python -m code_base.training search --spec configs/search.json [--reuse]

It builds on the assignment's modules (ThreeLayerConvNet, Solver, data_utils) and adds what a
real training run needs: JSON configs checked key by key (:mod:`.config`), random crops, flips
and cutout (:mod:`.augment`), learning-rate schedules (:mod:`.schedules`), the run folder's
files (:mod:`.run_files`, :mod:`.run_folder`), training and evaluation (:mod:`.train`) and a
small search (:mod:`.search`).

The names below are imported from their modules on first use, so that ``python -m
code_base.training`` starts in its own ``__main__``, which answers a Ctrl-C during the (slow)
imports with one line instead of a traceback.
"""

import importlib

_EXPORTS = {
    "augment": ("Augment", "make_augment", "random_crop", "random_flip", "cutout"),
    "config": ("DEFAULT_CONFIG", "load_config", "resolve_config"),
    "run_files": ("load_params", "load_run", "save_json", "save_params"),
    "search": ("load_spec", "run_search", "variant_config"),
    "train": ("CLASS_NAMES", "build_model", "confusion_matrix", "derive_seeds", "predict",
              "prepare_data", "run"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
_SUBMODULES = ("augment", "config", "run_files", "run_folder", "schedules", "search", "train")

__all__ = sorted(_MODULE_OF)


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _MODULE_OF:
        return getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))
