"""The training pipeline: configs, the train and search commands, augmentation, schedules.

    python -m code_base.training train  --config configs/best.json --out runs/best [--reuse]
    python -m code_base.training search --spec configs/search.json [--reuse]

It builds on the assignment's modules (ThreeLayerConvNet, Solver, data_utils) and adds what a
real training run needs: JSON configs checked key by key (:mod:`.config`), random crops, flips
and cutout (:mod:`.augment`), learning-rate schedules (:mod:`.schedules`), the run folder's
files (:mod:`.run_files`), training and evaluation (:mod:`.train`) and a small search (:mod:`.search`).
"""

from .augment import Augment, cutout, make_augment, random_crop, random_flip
from .config import DEFAULT_CONFIG, load_config, resolve_config
from .run_files import load_params, load_run, save_json, save_params
from .search import load_spec, run_search, variant_config
from .train import (CLASS_NAMES, build_model, confusion_matrix, derive_seeds, predict,
                    prepare_data, run)

__all__ = [
    "DEFAULT_CONFIG", "load_config", "resolve_config",
    "derive_seeds", "build_model", "prepare_data", "predict", "confusion_matrix", "run",
    "CLASS_NAMES", "load_params", "load_run", "save_json", "save_params",
    "load_spec", "variant_config", "run_search",
    "Augment", "make_augment", "random_crop", "random_flip", "cutout",
]
