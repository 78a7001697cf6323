"""Solver: sampling, reproducibility, best model, divergence, checkpoints, errors, output."""
import os
import time

import numpy as np
import pytest

from code_base import optim
from code_base.utils import checkpoint
from code_base.solver import Solver, TrainingDiverged


class SoftmaxClassifier:
    """Linear softmax classifier (params W, b) that records the training rows it is given.

    Column 0 of X is an example id (see `blobs`): it is recorded, not used as a feature.
    """

    def __init__(self, D, C, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {"W": 1e-2 * rng.standard_normal((D, C)), "b": np.zeros(C)}
        self.seen = []

    def loss(self, X, y=None):
        features = X[:, 1:]  # (N, D)
        scores = features @ self.params["W"] + self.params["b"]  # (N, C)
        if y is None:
            return scores
        self.seen.append(X[:, 0].copy())
        N = len(X)
        shifted = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(shifted)
        probs /= probs.sum(axis=1, keepdims=True)
        loss = -np.mean(np.log(probs[np.arange(N), y]))
        dscores = probs
        dscores[np.arange(N), y] -= 1
        dscores /= N
        return loss, {"W": features.T @ dscores, "b": dscores.sum(axis=0)}


def blobs(num_train=60, num_val=30, D=4, C=3, seed=0):
    """Gaussian blobs in D dimensions; X (N, 1 + D) has the example's index in column 0."""
    rng = np.random.default_rng(seed)
    centres = 2.0 * rng.standard_normal((C, D))
    data = {}
    for split, n in (("train", num_train), ("val", num_val)):
        y = rng.integers(C, size=n)
        X = np.empty((n, 1 + D))
        X[:, 0] = np.arange(n)
        X[:, 1:] = centres[y] + rng.standard_normal((n, D))
        data[f"X_{split}"], data[f"y_{split}"] = X, y
    return data


def make_solver(model=None, data=None, **kwargs):
    options = dict(update_rule="sgd", optim_config={"learning_rate": 0.05}, batch_size=20,
                   num_epochs=3, verbose=False, progress=False, seed=0)
    options.update(kwargs)
    return Solver(model or SoftmaxClassifier(4, 3), data or blobs(), **options)


def test_same_seed_same_run_and_different_seed_differs():
    runs = {}
    for key, seed in (("a", 1), ("b", 1), ("c", 2)):
        solver = make_solver(seed=seed, update_rule="adam", optim_config={"learning_rate": 1e-2})
        solver.train()
        runs[key] = (solver.loss_history, solver.model.params["W"].copy())
    assert len(runs["a"][0]) == 3 * 3 and all(type(x) is float for x in runs["a"][0])
    assert runs["a"][0] == runs["b"][0]
    np.testing.assert_array_equal(runs["a"][1], runs["b"][1])
    assert runs["a"][0] != runs["c"][0]


def test_training_does_not_touch_global_rng():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    make_solver().train()
    np.testing.assert_array_equal(np.random.get_state()[1], before)


@pytest.mark.parametrize("num_train, batch_size, per_epoch", [(60, 20, 3), (50, 20, 2), (7, 20, 1)])
def test_each_epoch_is_a_permutation(num_train, batch_size, per_epoch):
    model = SoftmaxClassifier(4, 3)
    solver = make_solver(model, blobs(num_train=num_train), batch_size=batch_size, num_epochs=3)
    assert solver.iterations_per_epoch == per_epoch
    solver.train()
    batch = min(batch_size, num_train)
    assert len(model.seen) == 3 * per_epoch and all(len(ids) == batch for ids in model.seen)
    epochs = [np.concatenate(model.seen[e * per_epoch:(e + 1) * per_epoch]) for e in range(3)]
    for ids in epochs:
        assert len(np.unique(ids)) == len(ids) == per_epoch * batch  # no example twice per epoch
        assert set(ids) <= set(range(num_train))
    if num_train % batch_size == 0:
        for ids in epochs:
            np.testing.assert_array_equal(np.sort(ids), np.arange(num_train))
        assert not np.array_equal(epochs[0], epochs[1])  # reshuffled every epoch


class BumpModel:
    """One scalar parameter w that plain SGD (lr 1, gradient -1) moves by +1 per iteration.

    It predicts class 1 for an example x when |x - w| < 0.5, so the validation accuracy on
    X_val = [[2.0]], y_val = [1] is 1 only when w == 2, i.e. after exactly two epochs.
    """

    def __init__(self):
        self.params = {"w": np.array([0.0])}

    def loss(self, X, y=None):
        hit = np.abs(X[:, 0] - self.params["w"][0]) < 0.5
        scores = np.stack([~hit, hit], axis=1).astype(float)
        if y is None:
            return scores
        return 1.0, {"w": np.array([-1.0])}


def test_best_params_are_restored():
    data = {"X_train": np.zeros((1, 1)), "y_train": np.array([0]),
            "X_val": np.array([[2.0]]), "y_val": np.array([1])}
    model = BumpModel()
    solver = Solver(model, data, update_rule="sgd", optim_config={"learning_rate": 1.0},
                    batch_size=1, num_epochs=5, verbose=False, seed=0)
    initial = solver.best_params
    assert initial.keys() == {"w"} and initial["w"] is not model.params["w"]
    np.testing.assert_array_equal(initial["w"], [0.0])
    solver.train()
    assert solver.val_acc_history == [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    assert solver.best_val_acc == 1.0
    np.testing.assert_array_equal(solver.best_params["w"], [2.0])
    np.testing.assert_array_equal(model.params["w"], [2.0])  # not the final 5.0
    assert model.params["w"] is not solver.best_params["w"]


class ExplodingModel(SoftmaxClassifier):
    def __init__(self, bad_call):
        super().__init__(4, 3)
        self.calls, self.bad_call = 0, bad_call

    def loss(self, X, y=None):
        out = super().loss(X, y)
        if y is None:
            return out
        self.calls += 1
        return (np.nan if self.calls == self.bad_call else out[0]), out[1]


def test_nan_loss_raises_training_diverged():
    model = ExplodingModel(bad_call=5)
    last_update = {}

    def spy_sgd(w, dw, config):
        next_w, config = optim.sgd(w, dw, config)
        last_update[w.shape] = next_w.copy()
        return next_w, config

    solver = make_solver(model, update_rule=spy_sgd, optim_config={"learning_rate": 0.05})
    with pytest.raises(TrainingDiverged, match=r"nan at iteration 5 / 9 \(epoch 2 / 3\) "
                                               r"with learning_rate 0\.05.*lower") as info:
        solver.train()
    err = info.value
    assert isinstance(err, FloatingPointError)
    assert (err.iteration, err.epoch, err.learning_rate) == (5, 2, 0.05) and np.isnan(err.loss)
    assert len(solver.loss_history) == 4 and solver.iteration == 4
    # Parameters are those of the 4th (last finite) update: the bad loss was not applied,
    # and the best parameters were not swapped in either.
    for name, w in model.params.items():
        np.testing.assert_array_equal(w, last_update[w.shape], err_msg=name)


@pytest.mark.parametrize("bad_loss", [np.inf, -np.inf])
def test_infinite_loss_also_diverges(bad_loss):
    class InfModel(SoftmaxClassifier):
        def loss(self, X, y=None):
            out = super().loss(X, y)
            return out if y is None else (bad_loss, out[1])

    with pytest.raises(TrainingDiverged, match="inf at iteration 1 / 9"):
        make_solver(InfModel(4, 3)).train()


@pytest.mark.parametrize("kwargs, expected", [
    ({"lr_decay": 0.5}, [0.1, 0.05, 0.025]),
    ({"lr_schedule": lambda epoch: [1.0, 0.2, 0.1, 0.1][epoch]}, [0.1, 0.02, 0.01]),
    ({}, [0.1, 0.1, 0.1]),
])
def test_learning_rate_changes_once_per_epoch(kwargs, expected):
    used = []

    def spy_sgd(w, dw, config):
        used.append(config["learning_rate"])
        return optim.sgd(w, dw, config)

    solver = make_solver(update_rule=spy_sgd, optim_config={"learning_rate": 0.1}, **kwargs)
    solver.train()
    per_update = [lr for lr in expected for _ in range(3 * 2)]  # 3 iterations x 2 params
    np.testing.assert_allclose(used, per_update, rtol=1e-12)


def test_lr_decay_equals_geometric_schedule_and_decays_after_last_epoch():
    a = make_solver(update_rule="sgd_momentum", lr_decay=0.5)
    b = make_solver(update_rule="sgd_momentum", lr_schedule=lambda epoch: 0.5 ** epoch)
    a.train()
    b.train()
    assert a.loss_history == b.loss_history
    for config in a.optim_configs.values():
        assert config["learning_rate"] == pytest.approx(0.05 * 0.5 ** 3)
        assert config["momentum"] == 0.9 and config["velocity"].shape in {(4, 3), (3,)}


def test_each_parameter_has_its_own_optimiser_state():
    solver = make_solver(update_rule="adam", optim_config={"learning_rate": 1e-2})
    solver.train()
    W_config, b_config = solver.optim_configs["W"], solver.optim_configs["b"]
    assert W_config is not b_config and W_config["t"] == b_config["t"] == 9
    assert W_config["m"].shape == (4, 3) and b_config["m"].shape == (3,)
    assert "m" not in solver.optim_config


def test_accuracy_histories_start_before_training_and_follow_epochs():
    model = SoftmaxClassifier(4, 3)
    data = blobs()
    solver = make_solver(model, data, update_rule="adam", optim_config={"learning_rate": 0.05},
                         num_epochs=4)
    initial_val_acc = solver.check_accuracy(data["X_val"], data["y_val"])
    solver.train()
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 4 + 1
    assert solver.val_acc_history[0] == initial_val_acc
    assert solver.best_val_acc == max(solver.val_acc_history)
    assert solver.train_acc_history[-1] > 0.8  # the blobs are easy
    assert all(type(a) is float for a in solver.train_acc_history + solver.val_acc_history)


class FixedScores:
    """Predicts class (example index mod 3) for every example; no parameters."""

    params = {}

    def loss(self, X, y=None):
        return np.eye(3)[X[:, 0].astype(int) % 3]


@pytest.mark.parametrize("batch_size", [1, 7, 100])
def test_check_accuracy(batch_size):
    X = np.arange(30, dtype=float)[:, None]  # predictions 0, 1, 2, 0, ...
    y = np.where(np.arange(30) < 12, np.arange(30) % 3, 5)  # the first 12 are right
    solver = Solver(FixedScores(), {"X_train": X, "y_train": y, "X_val": X, "y_val": y},
                    verbose=False)
    assert solver.check_accuracy(X, y, batch_size=batch_size) == pytest.approx(12 / 30)
    subset = np.random.default_rng(5).choice(30, 10, replace=False)
    expected = np.mean(subset < 12)
    acc = solver.check_accuracy(X, y, num_samples=10, batch_size=batch_size,
                                rng=np.random.default_rng(5))
    assert acc == pytest.approx(expected)
    with pytest.raises(ValueError, match="30 examples but y has 29"):
        solver.check_accuracy(X, y[:-1])


def test_checkpoint_is_atomic_and_loads_without_pickle(tmp_path, monkeypatch):
    path = tmp_path / "run.npz"
    replaced = []
    real_replace = os.replace

    def spy_replace(src, dst):
        replaced.append((os.fspath(src), os.fspath(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", spy_replace)
    solver = make_solver(update_rule="adam", optim_config={"learning_rate": 1e-2},
                         checkpoint_path=path, num_epochs=3, checkpoint_every=2)
    solver.train()
    # Epoch 2 (every 2) and epoch 3 (the last), each through a temp file in the same directory.
    assert len(replaced) == 2
    for src, dst in replaced:
        assert os.path.dirname(src) == str(tmp_path) and src != dst and dst == str(path)
    assert os.listdir(tmp_path) == ["run.npz"]

    with np.load(path, allow_pickle=False) as archive:
        files = set(archive.files)
        assert {"param/W", "param/b", "best/W", "best/b", "optim/W/m", "optim/W/v", "optim/W/t",
                "optim/b/learning_rate", "epoch", "loss_history", "val_acc_history",
                "train_acc_history", "best_val_acc", "rng_state"} <= files
        assert int(archive["epoch"]) == 3 and int(archive["optim/W/t"]) == 9
        np.testing.assert_array_equal(archive["loss_history"], solver.loss_history)
        np.testing.assert_array_equal(archive["best/W"], solver.best_params["W"])

    state = checkpoint.load_checkpoint(path)
    assert state["epoch"] == 3 and state["update_rule"] == "adam" and state["keep"] == "best"
    assert state["val_acc_history"].tolist() == solver.val_acc_history
    assert state["lr_history"].tolist() == [1e-2] * 3
    assert state["optim"]["W"]["t"] == 9 and type(state["optim"]["W"]["t"]) is int
    np.testing.assert_array_equal(state["optim"]["b"]["v"], solver.optim_configs["b"]["v"])
    assert "model_rng_state" not in state  # the model has no generator


def test_failed_checkpoint_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "run.npz"
    path.write_bytes(b"previous checkpoint")

    def broken_savez(file, **entries):
        file.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.np, "savez", broken_savez)
    solver = make_solver(checkpoint_path=path)
    with pytest.raises(OSError, match="disk full"):
        solver.train()
    assert path.read_bytes() == b"previous checkpoint"
    assert os.listdir(tmp_path) == ["run.npz"]


@pytest.mark.parametrize("update_rule", ["adam", "sgd_momentum", "rmsprop"])
def test_resume_from_checkpoint_reproduces_uninterrupted_run(tmp_path, update_rule):
    options = dict(update_rule=update_rule, optim_config={"learning_rate": 1e-2}, lr_decay=0.9,
                   num_train_samples=20, num_val_samples=10, seed=4)
    full = make_solver(SoftmaxClassifier(4, 3), num_epochs=4, **options)
    full.train()
    path = tmp_path / "ckpt.npz"
    make_solver(SoftmaxClassifier(4, 3), num_epochs=2, checkpoint_path=path, **options).train()

    resumed_model = SoftmaxClassifier(4, 3, seed=99)
    resumed = make_solver(resumed_model, num_epochs=4, **options).restore(path)
    assert resumed.epoch == 2 and len(resumed.val_acc_history) == 3
    resumed.train()
    assert resumed.loss_history == full.loss_history
    assert resumed.val_acc_history == full.val_acc_history
    assert resumed.best_val_acc == full.best_val_acc
    for name in full.model.params:
        np.testing.assert_array_equal(resumed_model.params[name], full.model.params[name])
        np.testing.assert_array_equal(resumed.best_params[name], full.best_params[name])


def test_restore_rejects_mismatches(tmp_path):
    path = tmp_path / "ckpt.npz"
    make_solver(update_rule="adam", num_epochs=1, checkpoint_path=path).train()
    with pytest.raises(ValueError, match="update_rule 'adam'.*'sgd'"):
        make_solver(update_rule="sgd").restore(path)
    with pytest.raises(ValueError, match=r"parameter 'W' has param of float64 \(4, 3\), "
                                         r"the model's is float64 \(4, 2\)"):
        make_solver(SoftmaxClassifier(4, 2), blobs(C=2), update_rule="adam").restore(path)
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        make_solver(update_rule="adam").restore(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(2))
    with pytest.raises(ValueError, match="other.npz has no format_version; this version reads "
                                         "checkpoint format 3 only"):
        checkpoint.load_checkpoint(tmp_path / "other.npz")
    np.savez(tmp_path / "nothing.npz", format_version=np.array(3))
    with pytest.raises(ValueError, match=r"nothing.npz is not a solver checkpoint: missing "
                                         r"entries \['epoch'"):
        make_solver().restore(tmp_path / "nothing.npz")


def test_rng_state_round_trip():
    rng = np.random.default_rng(7)
    rng.random(3)
    copy = checkpoint.rng_state_from_array(checkpoint.rng_state_to_array(rng))
    np.testing.assert_array_equal(copy.random(5), rng.random(5))


@pytest.mark.parametrize("kwargs, message", [
    ({"update_rule": "adamw"},
     r"unknown update_rule 'adamw'.*\['adam', 'rmsprop', 'sgd', 'sgd_momentum'\]"),
    ({"update_rule": 3}, "update_rule must be a name or a callable"),
    ({"optim_config": {"learning_Rate": 1e-3}}, "learning_Rate"),
    ({"optim_config": {"learning_rate": -1.0}}, "learning_rate"),
    ({"lr_decay": 0.9, "lr_schedule": lambda e: 1.0}, "either lr_decay.*or lr_schedule"),
    ({"lr_decay": 0.0}, "lr_decay"),
    ({"lr_schedule": lambda e: 0.0}, r"lr_schedule\(0\)"),
    ({"batch_size": 0}, "batch_size"),
    ({"num_epochs": 2.5}, "num_epochs"),
    ({"print_every": 0}, "print_every"),
    ({"checkpoint_every": 2}, "checkpoint_every was given without a checkpoint_path"),
    ({"augment": "flip"}, "augment"),
    ({"update_rule": lambda w, dw, config: (w, config), "optim_config": {}, "lr_decay": 0.5},
     "learning_rate"),
])
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_solver(**kwargs)


@pytest.mark.parametrize("drop, message", [
    ("X_val", r"missing key\(s\) \['X_val'\]"),
    ("y_train", r"missing key\(s\) \['y_train'\]"),
])
def test_missing_data_key_is_named(drop, message):
    data = blobs()
    del data[drop]
    with pytest.raises(ValueError, match=message):
        make_solver(data=data)


def test_mismatched_data_lengths_are_named():
    data = blobs()
    data["y_val"] = data["y_val"][:-1]
    with pytest.raises(ValueError, match="X_val has 30 examples but y_val has 29"):
        make_solver(data=data)


def test_model_without_params_is_rejected():
    with pytest.raises(TypeError, match="params"):
        Solver(object(), blobs())


def test_repr_shows_settings_not_state():
    solver = make_solver(update_rule="adam", optim_config={"learning_rate": 5e-3}, seed=3,
                         batch_size=20, num_epochs=3, lr_decay=0.9)
    solver.train()
    text = repr(solver)
    for part in ("Solver(update_rule='adam'", "'learning_rate': 0.005", "'beta1': 0.9",
                 "'beta2': 0.999", "'epsilon': 1e-08", "batch_size=20", "num_epochs=3",
                 "lr_decay=0.9", "seed=3", "num_train=60", "num_val=30"):
        assert part in text, part
    assert "array" not in text and "'m'" not in text and "'t'" not in text


def test_verbose_lines_and_progress_bar(capsys):
    solver = make_solver(verbose=True, progress=True, print_every=2, num_epochs=2)
    solver.train()
    out, err = capsys.readouterr()
    iteration_lines = [line for line in out.splitlines() if line.startswith("(Iteration")]
    assert [line.split(")")[0] for line in iteration_lines] == [
        "(Iteration 1 / 6", "(Iteration 3 / 6", "(Iteration 5 / 6"]
    assert iteration_lines[0] == f"(Iteration 1 / 6) loss: {solver.loss_history[0]:f}"
    epoch_lines = [line for line in out.splitlines() if line.startswith("(Epoch")]
    assert len(epoch_lines) == 3
    assert epoch_lines[-1] == (f"(Epoch 2 / 2) train acc: {solver.train_acc_history[-1]:f}; "
                               f"val_acc: {solver.val_acc_history[-1]:f}")
    assert "6/6" in err and "val_acc=" in err and "epoch=2" in err


def test_quiet_solver_prints_nothing(capsys):
    make_solver(verbose=False).train()
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_augment_is_applied_to_every_training_batch():
    calls = []

    def augment(X_batch, rng):
        calls.append(len(X_batch))
        assert isinstance(rng, np.random.Generator)
        flipped = X_batch.copy()
        flipped[:, 0] = -1.0  # mark the rows the model sees
        return flipped

    model = SoftmaxClassifier(4, 3)
    make_solver(model, augment=augment).train()
    assert calls == [20] * 9
    assert all(np.all(ids == -1.0) for ids in model.seen)

    with pytest.raises(ValueError, match="augment returned 19 examples for a batch of 20"):
        make_solver(augment=lambda X, rng: X[1:]).train()


def test_three_layer_convnet_overfits_50_random_samples():
    from code_base.classifiers.cnn import ThreeLayerConvNet

    rng = np.random.default_rng(0)
    data = {
        "X_train": rng.standard_normal((50, 3, 16, 16)).astype(np.float32),
        "y_train": rng.integers(10, size=50),
        "X_val": rng.standard_normal((20, 3, 16, 16)).astype(np.float32),
        "y_val": rng.integers(10, size=20),
    }
    # weight_scale 5e-2 rather than 1e-2: with N(0, 1) inputs the smaller scale leaves the
    # activations so small that some seeds need more than 30 epochs to leave the
    # predict-one-class plateau; with this setting seeds 0-9 all reach 100% by epoch 13.
    model = ThreeLayerConvNet(input_dim=(3, 16, 16), num_filters=8, filter_size=3, hidden_dim=50,
                              num_classes=10, weight_scale=5e-2, seed=0)
    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 5e-3},
                    batch_size=10, num_epochs=25, verbose=False, seed=0)
    start = time.perf_counter()
    solver.train()
    elapsed = time.perf_counter() - start
    assert solver.train_acc_history[-1] == 1.0
    assert solver.loss_history[-1] < 0.1 * solver.loss_history[0]
    assert model.params["W1"].dtype == np.float32
    assert elapsed < 20, f"overfitting took {elapsed:.1f} s"


# ----------------------------------------------------------------- the Solver's own state


def bump_data():
    return {"X_train": np.zeros((1, 1)), "y_train": np.array([0]),
            "X_val": np.array([[2.0]]), "y_val": np.array([1])}


def test_keep_final_leaves_the_last_parameters_and_best_epoch_is_recorded():
    kwargs = dict(update_rule="sgd", optim_config={"learning_rate": 1.0}, batch_size=1,
                  num_epochs=5, verbose=False, seed=0)
    best, final = BumpModel(), BumpModel()
    kept_best = Solver(best, bump_data(), keep="best", **kwargs)
    kept_final = Solver(final, bump_data(), keep="final", **kwargs)
    kept_best.train()
    kept_final.train()
    for solver in (kept_best, kept_final):
        assert solver.best_epoch == 2 and solver.best_val_acc == 1.0
        np.testing.assert_array_equal(solver.best_params["w"], [2.0])
    np.testing.assert_array_equal(best.params["w"], [2.0])
    np.testing.assert_array_equal(final.params["w"], [5.0])
    assert (kept_best.kept_epoch, kept_final.kept_epoch) == (2, 5)
    with pytest.raises(ValueError, match="keep must be 'best' or 'final', got 'last'"):
        Solver(BumpModel(), bump_data(), keep="last")


@pytest.mark.parametrize("kwargs, expected", [
    ({"lr_decay": 0.5}, [0.1, 0.05, 0.025]),
    ({"lr_schedule": lambda epoch: [1.0, 0.2, 0.1, 0.1][epoch]}, [0.1, 0.02, 0.01]),
])
def test_lr_history_holds_the_rate_of_each_epoch(kwargs, expected):
    solver = make_solver(optim_config={"learning_rate": 0.1}, **kwargs)
    assert solver.lr_history == []
    solver.train()
    assert solver.lr_history == pytest.approx(expected, rel=1e-12)


def test_state_dict_round_trip_continues_exactly():
    # keep="final": after train() the model holds the parameters training continues from.
    options = dict(update_rule="adam", optim_config={"learning_rate": 1e-2}, lr_decay=0.9,
                   num_train_samples=20, seed=4, keep="final")
    full = make_solver(DropoutSoftmax(4, 3), num_epochs=4, **options)
    full.train()
    first = make_solver(DropoutSoftmax(4, 3), num_epochs=2, **options)
    first.train()
    state = first.state_dict()
    assert state["epoch"] == 2 and len(state["lr_history"]) == 2 and state["best_epoch"] >= 0
    resumed = make_solver(DropoutSoftmax(4, 3, seed=9), num_epochs=4, **options)
    assert resumed.load_state_dict(state) is resumed
    resumed.train()
    assert resumed.loss_history == full.loss_history and resumed.lr_history == full.lr_history
    assert resumed.best_epoch == full.best_epoch
    np.testing.assert_array_equal(resumed.model.params["W"], full.model.params["W"])


class DropoutSoftmax(SoftmaxClassifier):
    """A softmax classifier with a generator of its own (like dropout's masks)."""

    def __init__(self, D, C, seed=0):
        super().__init__(D, C, seed)
        self.rng = np.random.default_rng(seed + 100)

    def loss(self, X, y=None):
        if y is not None:
            X = X * (self.rng.random(X.shape) > 0.1)
        return super().loss(X, y)


def _saved(tmp_path, **changes):
    path = tmp_path / "ckpt.npz"
    make_solver(DropoutSoftmax(4, 3), num_epochs=1, checkpoint_path=path).train()
    with np.load(path) as archive:
        entries = {k: archive[k] for k in archive.files}
    entries.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del entries[key]
    np.savez(path, **entries)
    return path


@pytest.mark.parametrize("changes, message", [
    ({"rng_state": np.zeros(6, np.uint64)},
     "entry 'rng_state' is not a PCG64 generator state"),
    ({"model_rng_state": np.zeros(6, np.uint64)},
     "entry 'model_rng_state' is not a PCG64 generator state"),
    ({"model_rng_state": None}, "lacks the model's generator state 'model_rng_state'"),
    ({"rng_state": np.zeros(5, np.uint64)}, "entry 'rng_state' must be 6 uint64 words"),
    ({"format_version": np.array(2)}, "has format 2; this version reads checkpoint format 3 only"),
    ({"best_epoch": np.array(4)}, "entry 'best_epoch' is 4, past epoch 1"),
    ({"lr_history": np.zeros(3)}, "entry 'lr_history' holds 3 values"),
    ({"keep": np.array("final")}, "written with keep 'final', this solver's is 'best'"),
])
def test_restore_refuses_a_broken_state_and_changes_nothing(tmp_path, changes, message):
    path = _saved(tmp_path, **changes)
    model = DropoutSoftmax(4, 3, seed=5)
    solver = make_solver(model, num_epochs=3)
    before = (model.params["W"].copy(), model.rng.bit_generator.state, solver.rng.bit_generator.state)
    with pytest.raises(ValueError, match=message) as info:
        solver.restore(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)
    np.testing.assert_array_equal(model.params["W"], before[0])
    assert (model.rng.bit_generator.state, solver.rng.bit_generator.state) == before[1:]
    assert solver.epoch == 0 and solver.loss_history == []


def test_a_model_without_a_generator_refuses_a_model_generator_state(tmp_path):
    path = _saved(tmp_path)
    with pytest.raises(ValueError, match="has a model generator state 'model_rng_state'"):
        make_solver(SoftmaxClassifier(4, 3)).restore(path)


def test_progress_bar_shows_the_last_epochs_val_acc(capsys):
    class Scripted(SoftmaxClassifier):  # validation accuracy 0, 1/3, 2/3, 1 at epochs 0..3
        def loss(self, X, y=None):
            if y is None and len(X) == 3:
                right = len(solver.val_acc_history)
                return np.eye(3)[[(k if k < right else (k + 1) % 3) for k in range(3)]]
            return super().loss(X, y)

    data = blobs(num_val=3)
    data["y_val"] = np.arange(3)
    solver = make_solver(Scripted(4, 3), data, num_epochs=3, progress=True, verbose=False)
    solver.train()
    err = capsys.readouterr().err
    assert solver.val_acc_history == pytest.approx([0, 1 / 3, 2 / 3, 1])
    assert err.rstrip().endswith("val_acc=1.000]"), err[-200:]
