"""A small, reproducible hyperparameter search: short runs of named variants of one base config.

    python -m code_base.training search --spec configs/search.json
                                        [--out runs/best/search_results.csv]
                                        [--epochs N] [--only NAME ...] [--reuse]

The spec (JSON) holds:

- ``base``: a train config (see code_base.training.train), normally with a larger validation split
  carved out of the training images, so that the choice never looks at the test split;
- ``epochs``: the length of every run (a cosine schedule without ``num_epochs`` spans it);
- ``variants``: a list of {"name": ..., <config sections to override>}, each merged into base.

Every variant is trained with the base's seed, so the runs differ only in the hyperparameters
the variant names.  The table (CSV, plus the same rows as JSON beside it) lists, per variant:
its overrides, the best validation accuracy and the epoch it was reached, the final training
accuracy (on a 1000-image sample), the final training loss (mean of the last epoch), the
training time and a fingerprint of the full config.  It is rewritten after every run;
``--reuse`` keeps the rows already in it whose config is unchanged (same fingerprint), so an
interrupted search continues where it stopped.
"""

import csv
import io
import json
import tempfile
from pathlib import Path

import numpy as np

from ..utils.checks import check_int
from ..utils.fileio import atomic_write
from . import train
from .config import config_id, load_config, resolve_config
from .run_files import save_json

__all__ = ["load_spec", "variant_config", "run_search", "write_table", "read_table", "COLUMNS"]

COLUMNS = ("name", "overrides", "epochs", "best_val_acc", "best_epoch", "final_train_acc",
           "final_loss", "train_seconds", "seconds_per_epoch", "config_id")


def load_spec(path):
    """Read and check a search spec, every variant's config included; returns the dict."""
    spec = load_config(path)
    if not isinstance(spec, dict):
        raise ValueError(f"{path}: a search spec must be a JSON object, got {type(spec).__name__}")
    for key in ("base", "epochs", "variants"):
        if key not in spec:
            raise ValueError(f"{path}: a search spec needs '{key}' (found {sorted(spec)})")
    check_int(str(path), "epochs", spec["epochs"], 1)
    variants = spec["variants"]
    if not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants):
        raise ValueError(f"{path}: 'variants' must be a list of objects, each with a 'name', "
                         f"got {type(variants).__name__}")
    names = [v.get("name") for v in variants]
    if any(not isinstance(n, str) or not n for n in names):
        raise ValueError(f"{path}: every variant needs a non-empty 'name', found {names}")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{path}: duplicate variant names {duplicates}")
    for variant in variants:
        variant_config(spec, variant, where=f"{path}, variant {variant['name']!r}")
    return spec


def variant_config(spec, variant, epochs=None, where="search spec"):
    """The resolved train config of one variant (base + its overrides, epochs of the search)."""
    overrides = {k: v for k, v in variant.items() if k != "name"}
    if not isinstance(spec["base"], dict):
        raise ValueError(f"{where}: 'base' must be a JSON object (a train config)")
    epochs = spec["epochs"] if epochs is None else check_int(where, "epochs", epochs, 1)
    return resolve_config(spec["base"], overrides, epochs=epochs, where=where)


def _row(variant, config, summary, history, fingerprint):
    overrides = {k: v for k, v in variant.items() if k != "name"}
    per_epoch = history["iterations_per_epoch"]
    return {
        "name": variant["name"],
        "overrides": json.dumps(overrides, sort_keys=True),
        "epochs": config["solver"]["num_epochs"],
        "best_val_acc": summary["best_val_accuracy"],
        "best_epoch": summary["best_epoch"],
        "final_train_acc": summary["final_train_accuracy"],
        "final_loss": round(float(np.mean(history["loss_history"][-per_epoch:])), 4),
        "train_seconds": summary["timing"]["train_seconds"],
        "seconds_per_epoch": summary["timing"]["seconds_per_epoch"],
        "config_id": fingerprint,
    }


def write_table(path, rows):
    """Write rows as CSV at ``path`` and as JSON at the same path with .json, atomically."""
    path = Path(path)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, lambda f: f.write(text.getvalue().encode()))
    save_json(path.with_suffix(".json"), rows)


def read_table(path):
    """Rows of a table written by write_table ([] if there is none)."""
    json_path = Path(path).with_suffix(".json")
    return json.loads(json_path.read_text()) if json_path.is_file() else []


def run_search(spec, out, *, epochs=None, only=None, reuse=False, progress=False, log=print):
    """Run the variants (all, or those named in ``only``) and write the table; returns the rows."""
    variants = spec["variants"]
    if only:
        unknown = sorted(set(only) - {v["name"] for v in variants})
        if unknown:
            raise ValueError(f"--only: no variant named {unknown}; "
                             f"variants are {[v['name'] for v in variants]}")
        variants = [v for v in variants if v["name"] in only]
    configs = [variant_config(spec, v, epochs) for v in variants]  # check them all first
    old = {r["name"]: r for r in read_table(out)} if reuse else {}
    rows = []
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    for i, (variant, config) in enumerate(zip(variants, configs), 1):
        overrides = json.dumps({k: v for k, v in variant.items() if k != "name"}, sort_keys=True)
        previous = old.get(variant["name"])
        fingerprint = config_id(config)
        if previous and previous.get("config_id") == fingerprint:
            log(f"[{i}/{len(variants)}] {variant['name']}: reusing the row in {out}")
            rows.append(previous)
            continue
        log(f"[{i}/{len(variants)}] {variant['name']}: {overrides}")
        with tempfile.TemporaryDirectory(prefix="search-") as tmp:
            # The table reports the best validation accuracy: no checkpoints are needed.
            config = dict(config, solver=dict(config["solver"], checkpoint_every=None))
            summary = train.run(config, tmp, progress=progress, log=lambda m: None)
            history = json.loads((Path(tmp) / "history.json").read_text())
        row = _row(variant, config, summary, history, fingerprint)
        log(f"    best val acc {row['best_val_acc']:.3f} (epoch {row['best_epoch']}), "
            f"{row['train_seconds']:.0f} s")
        rows.append(row)
        write_table(out, rows)
    write_table(out, rows)
    return rows
