"""Careless input: every case gets one line naming the problem, a non-zero exit, nothing changed.

The cases are those of the reliability audit (issue 11), by class: layers and the model, the
train and search commands (configs and checkpoints), the submission commands.
"""

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from code_base import fast, submission, training
from code_base.classifiers.cnn import ThreeLayerConvNet
from code_base.layer_utils import conv_relu_pool_backward, conv_relu_pool_forward
from code_base.layers import (affine_forward, conv_backward, conv_forward, dropout_backward,
                              dropout_forward, max_pool_backward, max_pool_forward, relu_backward,
                              relu_forward)
from code_base.solver import Solver
from code_base.submission.__main__ import main as submission_cli
from code_base.training.__main__ import main as training_cli
from code_base.training.run_folder import RunFolder

REPO = Path(__file__).resolve().parents[1]
CONV = {"stride": 1, "pad": 2}
POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}


# ----------------------------------------------------------------------------- layers


def test_an_empty_batch_flows_through_every_layer(kernel_path):
    x, w, b = np.zeros((0, 3, 8, 8)), np.ones((2, 3, 3, 3)), np.zeros(2)
    out, cache = conv_forward(x, w, b, CONV)
    dx, dw, db = conv_backward(np.zeros(out.shape), cache)
    assert out.shape == (0, 2, 8, 8) and dx.shape == x.shape and not dw.any() and not db.any()
    out, cache = conv_relu_pool_forward(x, w, b, CONV, POOL)
    dx, dw, db = conv_relu_pool_backward(np.zeros(out.shape), cache)
    assert out.shape == (0, 2, 4, 4) and dx.shape == x.shape and not dw.any()
    model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=2, filter_size=3, hidden_dim=4)
    assert model.loss(x).shape == (0, 10)
    with pytest.raises(ValueError, match=r"the batch is empty \(N = 0\)"):
        model.loss(x, np.zeros(0, dtype=int))


@pytest.mark.parametrize("dout, error, message", [
    ([[1.0]], TypeError, "dout must be a numpy array, got list"),
    (np.ones((2, 2, 4, 4), dtype=np.int64), TypeError, "dout must be a floating-point array"),
    (np.ones((2, 2, 4)), ValueError, "dout (must have 4 dimensions|has shape)"),
])
def test_backward_passes_check_their_upstream_gradient(dout, error, message, kernel_path):
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8))
    w, b = np.ones((2, 3, 3, 3)), np.zeros(2)
    _, pool_cache = conv_relu_pool_forward(x, w, b, CONV, POOL)
    _, conv_cache = conv_forward(x, w, b, CONV)
    for backward, cache in ((conv_relu_pool_backward, pool_cache), (conv_backward, conv_cache),
                            (max_pool_backward, max_pool_forward(x, POOL)[1]),
                            (relu_backward, relu_forward(x)[1])):
        with pytest.raises(error, match=message):
            backward(dout, cache)


def test_dropout_checks_dout_in_test_mode_and_handles_float16():
    _, cache = dropout_forward(np.ones(5), {"mode": "test", "p": 0.5})
    with pytest.raises(ValueError, match=r"dout has shape \(3,\), expected \(5,\)"):
        dropout_backward(np.ones(3), cache)
    out, cache = dropout_forward(np.full((100, 100), 2, np.float16), {"mode": "train", "p": 0.5,
                                                                      "seed": 0})
    assert out.dtype == np.float16 and set(np.unique(out)) == {0.0, 4.0}
    assert 4000 < np.count_nonzero(out) < 6000
    assert dropout_backward(np.ones_like(out), cache).dtype == np.float16


def test_affine_needs_a_batch_axis():
    with pytest.raises(ValueError, match="x must have a batch axis"):
        affine_forward(np.array(1.0), np.ones((1, 2)), np.zeros(2))


def test_infinite_inputs_give_the_plain_layers_results():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((2, 3, 8, 8)), rng.standard_normal((4, 3, 3, 3)), np.zeros(4)
    x[0, 1, 2, 5], x[1, 0, 6, 6] = np.inf, -np.inf
    out_fast, _ = conv_relu_pool_forward(x, w, b, CONV, POOL)
    with fast.disabled():
        out_plain, _ = conv_relu_pool_forward(x, w, b, CONV, POOL)
    np.testing.assert_array_equal(out_fast, out_plain)  # inf where inf, NaN where NaN
    assert np.isinf(out_plain).any()


@pytest.mark.parametrize("X, y, message", [
    (np.ones((2, 3, 8, 8), complex), None, "X must hold real numbers, got dtype complex128"),
    (np.ones((2, 3, 8, 8)), np.array(["a", "b"]), "labels must be integers in .*got dtype <U1"),
    (np.ones((2, 3, 8, 8)), np.array([0, 10]), r"labels must be integers in \[0, 10\), got values"),
])
def test_the_model_rejects_what_it_cannot_learn_from(X, y, message):
    model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=2, filter_size=3, hidden_dim=4)
    with pytest.raises(ValueError, match=message):
        model.loss(X, y)


# ----------------------------------------------------------------------------- commands


def one_line_error(capsys, code, expected_code):
    err = capsys.readouterr().err
    assert code == expected_code, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def run_cli(cli, argv):
    try:
        return cli(argv)
    except SystemExit as stop:
        return stop.code


@pytest.mark.parametrize("change, message", [
    ({"model": {"num_filters": "8"}}, "model.num_filters must be an integer >= 1, got '8'"),
    ({"model": {"filter_size": 2.5}}, "model.filter_size must be an integer >= 1, got 2.5"),
    ({"model": {"filter_size": 4}}, "model.filter_size must be odd"),
    ({"model": {"dropout": "0.5"}}, "model.dropout .* must be a probability in .0, 1., got '0.5'"),
    ({"model": {"reg": "x"}}, "model.reg must be a finite number >= 0, got 'x'"),
    ({"model": {"hidden_dim": -5}}, "model.hidden_dim must be an integer >= 1, got -5"),
    ({"seed": "abc"}, "seed must be an integer >= 0, got 'abc'"),
    ({"eval": {"flip_tta": "no"}}, "eval.flip_tta must be true or false, got 'no'"),
    ({"data": {"normalize": "false"}}, "data.normalize must be true or false, got 'false'"),
    ({"solver": {"optim_config": {"learning_rate": "1e-3"}}}, "learning_rate.* got '1e-3'"),
])
def test_train_checks_the_config_before_writing_anything(tmp_path, capsys, change, message):
    config = tmp_path / "bad.json"
    config.write_text(json.dumps(change))
    out = tmp_path / "run"
    code = run_cli(training_cli, ["train", "--config", str(config), "--out", str(out)])
    err = one_line_error(capsys, code, 1)
    assert f"{config}: " in err and __import__("re").search(message, err), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]  # nothing written


@pytest.fixture
def interrupted(cached_data, tmp_path, monkeypatch):
    """A run of a small config interrupted after its first checkpoint: (config file, out)."""
    config = {"data": {"num_training": 200, "num_validation": 50, "num_test": 50},
              "model": {"num_filters": 2, "filter_size": 3, "hidden_dim": 8},
              "solver": {"batch_size": 50, "num_epochs": 3, "checkpoint_every": 1}}
    path = tmp_path / "small.json"
    path.write_text(json.dumps(config))
    real_step = Solver._step

    def step(self, idx):
        if self.iteration == 6:
            raise KeyboardInterrupt
        return real_step(self, idx)

    monkeypatch.setattr(Solver, "_step", step)
    assert run_cli(training_cli, ["train", "--config", str(path), "--out", str(tmp_path / "run"),
                                  "--quiet"]) == 130
    monkeypatch.setattr(Solver, "_step", real_step)
    return path, tmp_path / "run"


def rewrite_checkpoint(path, **changes):
    with np.load(path) as archive:
        entries = {k: archive[k] for k in archive.files}
    entries.update(changes)
    np.savez(path, **entries)


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(p.read_bytes()[:1000]), "is not a readable checkpoint"),
    (lambda p: p.write_bytes(b""), "is not a readable checkpoint"),
    (lambda p: rewrite_checkpoint(p, epoch=np.array("two")), "entry 'epoch' must be an integer"),
    (lambda p: rewrite_checkpoint(p, epoch=np.array(7)), "holds 2 values, but epoch 7"),
    (lambda p: rewrite_checkpoint(p, iteration=np.array(-1)), "entry 'iteration' must be an integer >= 0"),
    (lambda p: rewrite_checkpoint(p, **{"param/W1": np.zeros((2, 3, 3, 3), np.int32)}),
     "parameter 'W1' has param of int32 (2, 3, 3, 3), the model's is float32"),
    (lambda p: rewrite_checkpoint(p, **{"param/W2": np.full((2 * 16 * 16, 8), np.nan, np.float32)}),
     "parameter 'W2' has param holding 4096 NaN or infinite values"),
])
def test_resume_checks_the_checkpoint(interrupted, capsys, damage, message):
    config, out = interrupted
    capsys.readouterr()
    damage(RunFolder(out).checkpoint)
    code = run_cli(training_cli, ["train", "--config", str(config), "--out", str(out), "--resume",
                                  "--quiet"])
    err = one_line_error(capsys, code, 1)
    assert message in err and "checkpoint.npz" in err, err
    assert not out.exists()  # the interrupted run was never published


def test_search_checks_its_spec(tmp_path, capsys):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"base": {}, "epochs": 1, "variants": {"name": "a"}}))
    err = one_line_error(capsys, run_cli(training_cli, ["search", "--spec", str(spec)]), 1)
    assert "'variants' must be a list of objects" in err
    spec.write_text(json.dumps({"base": {}, "epochs": 1, "variants": [{"name": "a",
                                                                        "model": {"dropout": 2}}]}))
    err = one_line_error(capsys, run_cli(training_cli, ["search", "--spec", str(spec)]), 1)
    assert "variant 'a': model.dropout" in err
    err = one_line_error(capsys, run_cli(training_cli, ["search", "--spec", str(spec),
                                                        "--epochs", "0"]), 2)
    assert "--epochs: must be an integer >= 1, got 0" in err


def test_a_cifar_folder_that_is_a_file_is_named(tmp_path, monkeypatch):
    from code_base.data_utils import find_cifar10_dir

    (tmp_path / "batches").write_text("not a folder")
    monkeypatch.setenv("CIFAR10_DIR", str(tmp_path / "batches"))
    with pytest.raises(FileNotFoundError, match="is a file, not the cifar-10-batches-py folder"):
        find_cifar10_dir()


@pytest.fixture
def inputs(tmp_path):
    folder = tmp_path / "inputs"
    shutil.copytree(REPO / "input_files", folder)
    return folder


@pytest.mark.parametrize("break_inputs, message", [
    (lambda f: (f / "conv_forward_in_x.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe"),
     "conv_forward_in_x.csv: not a text file"),
    (lambda f: ((f / "maxpool_forward_in_x.csv").unlink(), (f / "maxpool_forward_in_x.csv").mkdir()),
     "maxpool_forward_in_x.csv: is a folder, not a file"),
])
def test_submission_run_rejects_unusable_inputs(inputs, tmp_path, capsys, break_inputs, message):
    break_inputs(inputs)
    out = tmp_path / "out"
    code = submission_cli(["run", "--inputs", str(inputs), "--outputs", str(out)])
    assert message in one_line_error(capsys, code, 2)
    assert not out.exists()


def test_submission_run_names_an_output_it_cannot_write(inputs, tmp_path, capsys, monkeypatch):
    target = tmp_path / "file"
    target.write_text("a file")
    code = submission_cli(["run", "--inputs", str(inputs), "--outputs", str(target)])
    assert "is a file, not a folder" in one_line_error(capsys, code, 2)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("code_base.submission.files.os.makedirs", refuse)
    code = submission_cli(["run", "--inputs", str(inputs), "--outputs", str(tmp_path / "out")])
    assert "cannot write the files (Permission denied)" in one_line_error(capsys, code, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "inputs"]


@pytest.mark.parametrize("argv", [["run", "--seed", "-1"], ["make-inputs", "--seed", "-1"],
                                  ["make-inputs", "--seed", "x"]])
def test_submission_seeds_are_checked(argv, capsys):
    code = run_cli(submission_cli, argv)
    assert "--seed: must be an integer >= 0" in one_line_error(capsys, code, 2)


def test_make_inputs_does_not_overwrite_without_force(inputs, capsys):
    before = {p.name: p.read_bytes() for p in inputs.iterdir()}
    code = submission_cli(["make-inputs", "--seed", "3", "--out", str(inputs)])
    assert "has input files already (13 of 13" in one_line_error(capsys, code, 2)
    assert {p.name: p.read_bytes() for p in inputs.iterdir()} == before
    assert submission_cli(["make-inputs", "--seed", "3", "--out", str(inputs), "--force"]) == 0
    assert {p.name: p.read_bytes() for p in inputs.iterdir()} != before


def test_grade_names_a_missing_outputs_folder(inputs, tmp_path, capsys):
    code = submission_cli(["grade", "--inputs", str(inputs), "--outputs", str(tmp_path / "none")])
    assert "the outputs folder does not exist" in one_line_error(capsys, code, 2)


def test_checkpoints_and_params_are_plain_zip_archives(tmp_path):
    params = {"W": np.arange(6.0).reshape(2, 3), "b": np.zeros(3, np.float32)}
    training.save_params(tmp_path / "a.npz", params)
    training.save_params(tmp_path / "b.npz", dict(reversed(params.items())))
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()  # reproducible
    with zipfile.ZipFile(tmp_path / "a.npz") as archive:
        assert archive.namelist() == ["W.npy", "b.npy"]
    loaded = training.load_params(tmp_path / "a.npz")
    assert all(np.array_equal(loaded[k], v) and loaded[k].dtype == v.dtype for k, v in params.items())


@pytest.mark.parametrize("extra, code, message", [
    (["--seed", "-1"], 2, "--seed: must be an integer >= 0, got -1"),
    (["--timeout", "-3"], 2, "timeout must be a finite number in (0, 600.0], got -3.0"),
    (["--memory-mb", "17592186044416"], 2, "--memory-mb 17592186044416: more than the limit of 16384"),
    (["--memory-mb", "10"], 2, "memory_mb must be an integer >= 64, got 10"),
])
def test_grade_class_checks_its_arguments(tmp_path, capsys, extra, code, message):
    argv = ["grade-class", "--submissions", str(tmp_path), "--out", str(tmp_path / "g.csv"), *extra]
    assert message in one_line_error(capsys, run_cli(submission_cli, argv), code)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
