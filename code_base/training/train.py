"""Train a ThreeLayerConvNet on CIFAR2 from a JSON config, evaluate it and save the run.

    python -m code_base.training train --config configs/best.json [--out runs/best] [--epochs N]
                                       [--max-steps N] [--seed S] [--reuse] [--resume] [--quiet]

The run folder (``--out``) holds one complete run, replaced as a whole when a new run
completes (see :mod:`code_base.training.run_folder`):

- config.json    the resolved config (defaults filled in, command-line overrides applied);
- history.json   loss per iteration, train/val accuracy and learning rate per epoch;
- params.npz     the kept parameters (``np.load(path, allow_pickle=False)``), for images
                 preprocessed exactly as ``get_CIFAR2_data`` does (see input scaling);
- W1.npy         the first-layer filters alone (small, for pictures);
- summary.json   test accuracy, confusion matrix, misclassified test images (indices into
                 X_test), timing, machine, config;
- checkpoint.npz the Solver's state after the last epoch.

``--reuse`` skips training when the folder already has a summary.json made with the same
config, so a pipeline can reuse a committed run; ``--resume`` continues an interrupted run from
its last checkpoint (every ``solver.checkpoint_every`` epochs), exactly as if it had not stopped.

Input scaling: with ``data.normalize`` the mean-subtracted images are divided by the standard
deviation s of the training pixels during training, so that unit-variance inputs meet He
initialisation and a learning rate shared by all layers.  The convolution is linear in its
input, so the saved W1 is divided by s: the saved network takes the unscaled images.

Config keys: see :mod:`code_base.training.config` (defaults in ``DEFAULT_CONFIG``).
"""

import datetime
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from .. import fast
from ..classifiers.cnn import ThreeLayerConvNet
from ..data_utils import get_CIFAR2_data
from ..solver import Solver
from ..utils.checks import check_int, check_real
from ..utils.fileio import atomic_write
from . import schedules
from .augment import make_augment
from .config import config_id
from .run_files import save_json, save_params, sha256
from .run_folder import RunFolder

__all__ = ["derive_seeds", "build_model", "prepare_data", "predict", "confusion_matrix", "run",
           "CLASS_NAMES"]

CLASS_NAMES = ("airplane", "bird")


def derive_seeds(seed):
    """(model seed, solver seed): independent streams for the initial weights and dropout, and
    for the minibatch order and augmentation, both determined by the config's one seed."""
    model_seed, solver_seed = np.random.SeedSequence(seed).generate_state(2)
    return int(model_seed), int(solver_seed)


def build_model(model_cfg, seed, input_dim=(3, 32, 32), num_classes=len(CLASS_NAMES)):
    """A ThreeLayerConvNet from the config's model section.

    weight_scale "he" draws every W from N(0, 2 / fan_in), fan_in being the number of inputs
    of one unit (C*HH*WW for W1, the rows of W2 and W3).
    """
    cfg = dict(model_cfg)
    cfg.pop("num_threads", None)  # the kernels' setting, applied by run (fast.configure)
    he = cfg["weight_scale"] == "he"
    if he:
        cfg["weight_scale"] = 1.0
    else:
        check_real("model", "weight_scale ('he' or a number)", cfg["weight_scale"], 0, low_open=True)
    model = ThreeLayerConvNet(input_dim=input_dim, num_classes=num_classes, seed=seed, **cfg)
    if he:
        for name in ("W1", "W2", "W3"):
            w = model.params[name]
            fan_in = int(np.prod(w.shape[1:])) if w.ndim == 4 else w.shape[0]
            w *= np.sqrt(2.0 / fan_in).astype(w.dtype)
    return model


def prepare_data(data_cfg):
    """(data dict from get_CIFAR2_data, input scale s).

    With normalize, X_train and X_val are divided by s (the training inputs); X_test is left as
    get_CIFAR2_data gives it, the input of the saved network (whose W1 absorbs 1 / s).
    """
    cfg = dict(data_cfg)
    normalize = cfg.pop("normalize")
    data = get_CIFAR2_data(**cfg)
    scale = 1.0
    if normalize:
        scale = float(np.std(data["X_train"], dtype=np.float64))
        for key in ("X_train", "X_val"):
            data[key] = data[key] / np.asarray(scale, dtype=data[key].dtype)
    return data, scale


def predict(model, X, batch_size=200, flip_tta=False):
    """Class scores (N, num_classes) in test mode; flip_tta averages them with the mirror's."""
    scores = []
    for i in range(0, len(X), batch_size):
        batch = X[i:i + batch_size]
        s = model.loss(batch)
        if flip_tta:
            s = 0.5 * (s + model.loss(batch[:, :, :, ::-1]))
        scores.append(s)
    return np.concatenate(scores)


def confusion_matrix(y_true, y_pred, num_classes):
    """(num_classes, num_classes) counts: row = true class, column = predicted class."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return cm


def _max_steps_plan(max_steps, num_train, batch_size, num_epochs):
    """(training images to use, epochs) so that at most max_steps updates are made.

    Whole epochs are kept; below one epoch the training split is cut to max_steps batches.
    """
    max_steps = check_int("train", "max_steps", max_steps, 1)
    steps_per_epoch = max(num_train // batch_size, 1)
    if max_steps < steps_per_epoch:
        return max_steps * batch_size, 1
    return num_train, max(1, min(num_epochs, max_steps // steps_per_epoch))


def run(config, out_dir, *, max_steps=None, reuse=False, resume=False, progress=True, log=print):
    """Train (unless reusable), evaluate and save; returns the summary dict.

    ``config`` must be resolved (see resolve_config).  ``max_steps`` caps the number of updates
    (see _max_steps_plan) and is recorded in the summary.  The fast kernels run on
    config["model"]["num_threads"] threads (None: one per core) for the whole run.
    """
    with fast.configure(num_threads=config["model"]["num_threads"]), fast.session():
        return _run(config, out_dir, max_steps, reuse, resume, progress, log)


def _run(config, out_dir, max_steps, reuse, resume, progress, log):
    folder = RunFolder(out_dir)
    with folder.lock():  # one run per folder: recover() must not touch another run's files
        return _run_locked(folder, config, max_steps, reuse, resume, progress, log)


def _run_locked(folder, config, max_steps, reuse, resume, progress, log):
    out = folder.out
    folder.recover()
    if reuse:
        old = _reusable_summary(out / "summary.json", config, max_steps, log)
        if old is not None:
            return old
    folder.start(config, resume, log)
    checkpoint = folder.checkpoint

    t_start = time.perf_counter()
    data, scale = prepare_data(config["data"])
    t_data = time.perf_counter() - t_start
    model, solver = _make_solver(config, data, checkpoint, max_steps, progress)
    if resume:
        solver.restore(checkpoint)
        log(f"resuming from {checkpoint} after epoch {solver.epoch}")
    log(f"{model!r}\n{solver!r}")
    t0 = time.perf_counter()
    solver.train()
    train_seconds = time.perf_counter() - t0
    kept_epoch = solver.kept_epoch
    params = {k: v.copy() for k, v in model.params.items()}
    params["W1"] = params["W1"] / np.asarray(scale, dtype=params["W1"].dtype)
    model.params.update(params)
    t0 = time.perf_counter()
    results = _evaluate(model, data, config["eval"]["flip_tta"])
    timing = {"train_seconds": round(train_seconds, 2),
              "seconds_per_epoch": round(train_seconds / max(solver.num_epochs, 1), 2),
              "data_seconds": round(t_data, 2),
              "eval_seconds": round(time.perf_counter() - t0, 2),
              "iterations": solver.iteration, "epochs": solver.epoch}
    summary = _write_run(folder.work, config, params, solver, model, results, kept_epoch, timing,
                         scale, max_steps)
    folder.finish()
    wrong = len(summary["misclassified"]["index"])
    log(f"test accuracy {summary['test_accuracy']:.4f} ({wrong} of {summary['num_test']} wrong) "
        f"with the parameters of epoch {kept_epoch} (val {summary['kept_val_accuracy']:.4f}); "
        f"training {train_seconds:.1f} s; saved in {out}")
    return summary


def _reusable_summary(summary_path, config, max_steps, log):
    """The summary of a finished run with this config and max_steps, or None."""
    if not summary_path.is_file():
        return None
    old = json.loads(summary_path.read_text())
    if old.get("config") == config and old.get("max_steps") == max_steps:
        log(f"reusing {summary_path}: test accuracy {old['test_accuracy']:.4f} "
            f"(delete it or drop --reuse to train again)")
        return old
    log(f"not reusing {summary_path}: it was made with a different config or max_steps")
    return None


def _make_solver(config, data, checkpoint, max_steps, progress):
    """(model, solver) for the config; max_steps trims the data and epochs."""
    sv = dict(config["solver"])
    num_epochs, checkpoint_every = sv.pop("num_epochs"), sv.pop("checkpoint_every")
    if max_steps is not None:
        n_used, num_epochs = _max_steps_plan(max_steps, len(data["X_train"]), sv["batch_size"],
                                             num_epochs)
        data["X_train"], data["y_train"] = data["X_train"][:n_used], data["y_train"][:n_used]
    model_seed, solver_seed = derive_seeds(config["seed"])
    model = build_model(config["model"], model_seed)
    aug = config["augment"]
    solver = Solver(model, data, **sv, num_epochs=num_epochs, seed=solver_seed,
                    lr_schedule=schedules.from_config(config["schedule"]),
                    augment=make_augment(aug["padding"], aug["flip"], aug["cutout"]),
                    print_every=10 ** 9, verbose=progress, progress=progress,
                    checkpoint_path=checkpoint if checkpoint_every else None,
                    checkpoint_tag=config_id(config) if checkpoint_every else None,
                    checkpoint_every=(min(checkpoint_every, num_epochs) if checkpoint_every
                                      else None))
    return model, solver


def _evaluate(model, data, flip_tta):
    """Test-set predictions: scores, labels and accuracies (with and without flip_tta).

    Each test image and (with flip_tta) its mirror image is scored once: the plain accuracy
    comes from the plain scores, the reported one from their average with the mirror's.
    """
    X_test, y_test = data["X_test"], data["y_test"]
    plain = predict(model, X_test)
    scores = 0.5 * (plain + predict(model, X_test[:, :, :, ::-1])) if flip_tta else plain
    y_pred = np.argmax(scores, axis=1)
    return {"scores": scores, "y_test": y_test, "y_pred": y_pred,
            "accuracy": float(np.mean(y_pred == y_test)),
            "accuracy_without_flip_tta": float(np.mean(np.argmax(plain, axis=1) == y_test))}


def _write_run(out, config, params, solver, model, results, kept_epoch, timing, scale, max_steps):
    """Write params.npz, W1.npy, history.json and, last, summary.json; returns the summary."""
    save_params(out / "params.npz", params)
    atomic_write(out / "W1.npy", lambda f: np.save(f, params["W1"]))
    save_json(out / "history.json", {
        "loss_history": [round(float(x), 5) for x in solver.loss_history],
        "train_acc_history": solver.train_acc_history,
        "val_acc_history": solver.val_acc_history,
        "learning_rate_per_epoch": solver.lr_history,
        "iterations_per_epoch": solver.iterations_per_epoch,
    })
    scores, y_test, y_pred = results["scores"], results["y_test"], results["y_pred"]
    wrong = np.flatnonzero(y_pred != y_test)
    probs = np.exp(scores - scores.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    summary = {
        "test_accuracy": results["accuracy"],
        "test_accuracy_without_flip_tta": results["accuracy_without_flip_tta"],
        "best_val_accuracy": solver.best_val_acc,
        "best_epoch": solver.best_epoch,
        "kept_epoch": kept_epoch,
        "kept_val_accuracy": solver.val_acc_history[kept_epoch],
        "final_train_accuracy": solver.train_acc_history[-1],
        "num_test": int(len(y_test)),
        "class_names": list(CLASS_NAMES),
        "confusion_matrix": confusion_matrix(y_test, y_pred, len(CLASS_NAMES)).tolist(),
        "misclassified": {"index": wrong.tolist(), "true": y_test[wrong].tolist(),
                          "pred": y_pred[wrong].tolist(),
                          "confidence": [round(float(p), 4) for p in probs[wrong].max(axis=1)]},
        "timing": timing,
        "machine": {"cpu_count": os.cpu_count(), "num_threads": fast.num_threads(),
                    "python": platform.python_version(), "numpy": np.__version__,
                    "platform": platform.platform()},
        "input_scale": scale,
        "params_sha256": sha256(out / "params.npz"),
        "num_parameters": int(sum(v.size for v in params.values())),
        "max_steps": max_steps,
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config": config,
    }
    save_json(out / "summary.json", summary)
    return summary
