"""The train command end to end on a few hundred images for a few steps, into tmp_path.

The pipeline's tests run on the synthetic CIFAR-shaped folder of conftest (they never skip);
test_cli_run_writes_a_consistent_run also runs once on the real data, a smoke test.
"""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from code_base import training as train
from code_base.data_utils import get_CIFAR2_data
from code_base.training.__main__ import main as training_cli
from code_base.training.schedules import from_config
from code_base.training.train import _max_steps_plan

TINY = {
    "data": {"num_training": 400, "num_validation": 100, "num_test": 300},
    "model": {"num_filters": 8, "filter_size": 3, "hidden_dim": 32, "weight_scale": "he",
              "dropout": 0.25, "reg": 1e-4},
    "solver": {"batch_size": 50, "num_epochs": 2, "num_val_samples": None},
    "schedule": {"name": "cosine", "warmup_epochs": 1},
    "augment": {"padding": 2, "flip": True},
}


def tiny(**overrides):
    config = json.loads(json.dumps(TINY))
    for section, values in overrides.items():
        config.setdefault(section, {}).update(values)
    return train.resolve_config(config)


@pytest.mark.parametrize("data", ["synthetic_cifar_dir", "cifar_dir"])  # the second: real data
def test_cli_run_writes_a_consistent_run(data, request, tmp_path):
    cifar_dir = request.getfixturevalue(data)
    config_path = tmp_path / "tiny.json"
    config_path.write_text(json.dumps(TINY))
    out = tmp_path / "run"
    env = dict(os.environ, CIFAR10_DIR=str(cifar_dir))
    proc = subprocess.run([sys.executable, "-m", "code_base.training", "train", "--config", str(config_path),
                           "--out", str(out), "--max-steps", "6", "--seed", "3", "--quiet"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy" in proc.stdout
    assert {p.name for p in out.iterdir()} == {"config.json", "history.json", "summary.json",
                                               "params.npz", "W1.npy", "checkpoint.npz"}
    summary = json.loads((out / "summary.json").read_text())
    history = json.loads((out / "history.json").read_text())
    assert summary["config"] == json.loads((out / "config.json").read_text())
    assert summary["config"]["seed"] == 3 and summary["max_steps"] == 6
    assert summary["test_accuracy_without_flip_tta"] == summary["test_accuracy"]  # no TTA here
    # 6 steps < one epoch of 8 batches: one epoch over the first 6 * 50 images.
    assert summary["timing"]["iterations"] == 6 and len(history["loss_history"]) == 6
    assert len(history["val_acc_history"]) == 2

    params = train.load_params(out / "params.npz")  # allow_pickle=False
    assert {k: v.shape for k, v in params.items()} == {
        "W1": (8, 3, 3, 3), "b1": (8,), "W2": (8 * 16 * 16, 32), "b2": (32,),
        "W3": (32, 2), "b3": (2,)}
    np.testing.assert_array_equal(np.load(out / "W1.npy", allow_pickle=False), params["W1"])

    # The saved parameters take get_CIFAR2_data's images as they are: recompute everything.
    data = get_CIFAR2_data(num_training=400, num_validation=100, num_test=300, root=cifar_dir)
    model = train.build_model(summary["config"]["model"], seed=0)
    model.params.update(params)
    pred = np.argmax(train.predict(model, data["X_test"]), axis=1)
    assert np.mean(pred == data["y_test"]) == pytest.approx(summary["test_accuracy"])
    cm = np.array(summary["confusion_matrix"])
    assert cm.sum() == 300 and np.trace(cm) == round(300 * summary["test_accuracy"])
    np.testing.assert_array_equal(summary["misclassified"]["index"],
                                  np.flatnonzero(pred != data["y_test"]))
    # The Solver measured the validation accuracy on scaled inputs with the unfolded W1.
    val_pred = np.argmax(train.predict(model, data["X_val"]), axis=1)
    assert np.mean(val_pred == data["y_val"]) == pytest.approx(summary["best_val_accuracy"])
    assert summary["test_accuracy"] > 0.6  # two classes: 6 steps already beat chance


def test_same_seed_same_parameters_other_seed_differs(cached_data, tmp_path):
    runs = {name: train.run(train.resolve_config(TINY, seed=seed), tmp_path / name, max_steps=8,
                            progress=False, log=lambda m: None)
            for name, seed in (("a", 0), ("b", 0), ("c", 1))}
    assert runs["a"]["params_sha256"] == runs["b"]["params_sha256"]
    assert runs["a"]["test_accuracy"] == runs["b"]["test_accuracy"]
    assert runs["a"]["params_sha256"] != runs["c"]["params_sha256"]


def test_reuse_skips_only_an_identical_run(cached_data, tmp_path):
    logs = []
    first = train.run(tiny(), tmp_path, max_steps=8, progress=False, log=logs.append)
    again = train.run(tiny(), tmp_path, max_steps=8, reuse=True, progress=False, log=logs.append)
    assert again == first and logs[-1].startswith("reusing")
    other = train.run(tiny(model={"hidden_dim": 16}), tmp_path, max_steps=8, reuse=True,
                      progress=False, log=logs.append)
    assert any(m.startswith("not reusing") for m in logs)
    assert other["config"]["model"]["hidden_dim"] == 16
    assert train.load_params(tmp_path / "params.npz")["W3"].shape == (16, 2)


def test_resume_requires_an_interrupted_run_with_the_same_config(cached_data, tmp_path):
    config = tiny(solver={"checkpoint_every": 1})
    train.run(config, tmp_path, max_steps=16, progress=False, log=lambda m: None)
    with pytest.raises(FileNotFoundError, match="no interrupted run to continue"):
        train.run(config, tmp_path, max_steps=16, resume=True, progress=False, log=lambda m: None)


@pytest.mark.parametrize("checkpoint_every", [2, None])
def test_keep_final_saves_the_last_epoch_not_the_best(cached_data, tmp_path, checkpoint_every):
    from code_base.utils.checkpoint import load_checkpoint

    config = tiny(solver={"num_epochs": 3, "keep": "final", "checkpoint_every": checkpoint_every},
                  eval={"flip_tta": True})
    summary = train.run(config, tmp_path, progress=False, log=lambda m: None)
    history = json.loads((tmp_path / "history.json").read_text())
    assert summary["kept_epoch"] == 3
    assert summary["kept_val_accuracy"] == history["val_acc_history"][-1]
    assert summary["best_epoch"] == int(np.argmax(history["val_acc_history"]))
    schedule = from_config(config["schedule"])
    assert history["learning_rate_per_epoch"] == pytest.approx([1e-3 * schedule(e) for e in range(3)])
    saved = train.load_params(tmp_path / "params.npz")
    if checkpoint_every is None:
        assert not (tmp_path / "checkpoint.npz").exists()
        return
    final = load_checkpoint(tmp_path / "checkpoint.npz")
    assert final["epoch"] == 3
    np.testing.assert_array_equal(saved["W2"], final["param"]["W2"])
    np.testing.assert_allclose(saved["W1"] * summary["input_scale"], final["param"]["W1"],
                               rtol=1e-6)
    # Mirror-averaged and plain test accuracy, recomputed from the saved parameters.
    data = cached_data(num_training=400, num_validation=100, num_test=300)
    model = train.build_model(config["model"], seed=0)
    model.params.update(saved)
    for flip_tta, key in ((True, "test_accuracy"), (False, "test_accuracy_without_flip_tta")):
        pred = np.argmax(train.predict(model, data["X_test"], flip_tta=flip_tta), axis=1)
        assert np.mean(pred == data["y_test"]) == pytest.approx(summary[key])
    with pytest.raises(ValueError, match="keep"):
        tiny(solver={"keep": "last"})


def test_he_initialisation_scales_each_layer_by_its_fan_in():
    model = train.build_model(dict(train.DEFAULT_CONFIG["model"], num_filters=64,
                                   filter_size=5, hidden_dim=200, weight_scale="he"), seed=0)
    for name, fan_in in (("W1", 3 * 5 * 5), ("W2", 64 * 16 * 16), ("W3", 200)):
        w = model.params[name]
        # The sample std of n normal draws is off by about 1 / sqrt(2n) relatively: allow 4 times.
        assert w.std() == pytest.approx(np.sqrt(2 / fan_in), rel=4 / np.sqrt(2 * w.size))


@pytest.mark.parametrize("max_steps, plan", [
    (3, (150, 1)),      # below one epoch (8 batches of 50): cut the training split
    (8, (400, 1)),
    (17, (400, 2)),     # whole epochs only
    (1000, (400, 5)),   # never more epochs than configured
])
def test_max_steps_plan(max_steps, plan):
    assert _max_steps_plan(max_steps, num_train=400, batch_size=50, num_epochs=5) == plan


@pytest.mark.parametrize("config, message", [
    ({"modle": {}}, "unknown config key 'modle'"),
    ({"model": {"filters": 3}}, "unknown config key 'filters' in model"),
    ({"model": 3}, "model must be a JSON object"),
    ({"schedule": {"name": "sawtooth"}}, "unknown schedule name"),
    ({"data": None}, "config: data must be a JSON object, got null"),
    ({"eval": None}, "config: eval must be a JSON object, got null"),
    ({"solver": {"optim_config": None}}, "solver.optim_config must be a JSON object, got null"),
    ({"schedule": {"name": ["cosine"]}}, r"schedule.name must be a string.*got \['cosine'\]"),
    ({"model": {"hidden_dim": 10 ** 9}}, "model.hidden_dim must be at most 4096, got 1000000000"),
    ({"model": {"num_filters": 100000}}, "model.num_filters must be at most 256"),
    ({"model": {"filter_size": 101}}, "model.filter_size must be at most 31"),
    ({"augment": {"padding": 1000}}, "augment.padding must be at most 16"),
    ({"augment": {"cutout": 33}}, r"augment.cutout must be at most 32 \(the image side\)"),
    ({"schedule": {"name": "constant", "warmup_epochs": 3}, "solver": {"num_epochs": 2}},
     r"schedule.warmup_epochs is 3, longer than the run \(solver.num_epochs 2\)"),
])
def test_bad_configs(config, message):
    with pytest.raises(ValueError, match=message) as info:
        train.resolve_config(config)
    assert "\n" not in str(info.value)


def test_a_warm_up_as_long_as_the_run_and_a_null_schedule_are_accepted():
    config = train.resolve_config({"schedule": {"name": "constant", "warmup_epochs": 2},
                                   "solver": {"num_epochs": 2}})
    assert config["schedule"]["warmup_epochs"] == 2
    assert train.resolve_config({"schedule": None})["schedule"] is None


@pytest.mark.parametrize("text, key", [
    ('{"model": {"reg": 0.1}, "model": {"dropout": 0.5}}', "'model'"),
    ('{"model": {"reg": 0.1, "reg": 0.2}}', "'reg'"),
])
def test_duplicate_keys_are_refused(tmp_path, text, key):
    path = tmp_path / "dup.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=f"dup.json: duplicate key {key}"):
        train.load_config(path)


def test_one_merge_for_configs_and_search_variants():
    from code_base.training.config import merge

    base = train.resolve_config({"model": {"reg": 0.5}})
    merged = merge(base, {"model": {"dropout": 0.5}, "schedule": {"name": "constant"}}, "here")
    assert merged["model"]["reg"] == 0.5 and merged["model"]["dropout"] == 0.5
    assert base["model"]["dropout"] == 0.0  # a copy: the base is left alone
    assert train.resolve_config({"model": {"reg": 0.5}}, {"model": {"dropout": 0.5}}) == \
        train.resolve_config({"model": {"reg": 0.5, "dropout": 0.5}})
    with pytest.raises(ValueError, match="here: unknown config key 'dropuot' in model"):
        merge(base, {"model": {"dropuot": 0.5}}, "here")


def test_cli_errors_name_the_problem(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        training_cli(["train", "--config", str(tmp_path / "missing.json")])
    assert exit_info.value.code == 1
    assert "config file not found" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SystemExit):
        training_cli(["train", "--config", str(bad)])
    assert "bad.json is not valid JSON" in capsys.readouterr().err
    with pytest.raises(ValueError, match="weight_scale"):
        train.build_model(dict(train.DEFAULT_CONFIG["model"], weight_scale="xavier"), seed=0)


def test_search_writes_a_table_and_reuses_unchanged_rows(cached_data, tmp_path):
    from code_base.training import search

    spec = {"base": TINY, "epochs": 1, "variants": [
        {"name": "tiny"}, {"name": "wider", "model": {"hidden_dim": 48}}]}
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))
    spec = search.load_spec(spec_path)
    table = tmp_path / "table.csv"
    rows = search.run_search(spec, table, log=lambda m: None)
    assert [r["name"] for r in rows] == ["tiny", "wider"]
    assert rows[1]["overrides"] == '{"model": {"hidden_dim": 48}}'
    assert all(0.5 <= r["best_val_acc"] <= 1 and r["epochs"] == 1 for r in rows)
    with open(table, newline="") as f:
        csv_rows = list(csv.DictReader(f))
    assert [float(r["best_val_acc"]) for r in csv_rows] == [r["best_val_acc"] for r in rows]
    assert tuple(csv_rows[0]) == search.COLUMNS
    # Same seed, same variant: the same result; with --reuse nothing is trained again.
    logs = []
    again = search.run_search(spec, table, reuse=True, log=logs.append)
    assert again == rows and all("reusing" in m for m in logs)
    # A change to the base changes every variant's config: nothing is reused.
    changed = dict(spec, base=dict(TINY, model=dict(TINY["model"], hidden_dim=24)))
    logs.clear()
    search.run_search(changed, table, reuse=True, only=["tiny"], log=logs.append)
    assert not any("reusing" in m for m in logs)
    rerun = search.run_search(spec, tmp_path / "other.csv", only=["tiny"], log=lambda m: None)
    timeless = lambda r: {k: v for k, v in r.items() if "seconds" not in k}  # noqa: E731
    assert [timeless(r) for r in rerun] == [timeless(rows[0])]


@pytest.mark.parametrize("spec, message", [
    ({"epochs": 1, "variants": []}, "needs 'base'"),
    ({"base": {}, "epochs": 1, "variants": [{"model": {}}]}, "non-empty 'name'"),
    ({"base": {}, "epochs": 1, "variants": [{"name": "a"}, {"name": "a"}]}, "duplicate"),
])
def test_bad_search_specs(spec, message, tmp_path):
    from code_base.training import search

    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    with pytest.raises(ValueError, match=message):
        search.load_spec(path)
