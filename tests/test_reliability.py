"""Crashes, kills and careless input: a run folder is all old or all new, resume is exact.

In-process tests interrupt training at chosen points (a KeyboardInterrupt from inside a step);
the subprocess tests kill a real command with SIGKILL.
"""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from code_base import submission, training
from code_base.solver import Solver, TrainingDiverged
from code_base.training.run_folder import RunFolder
from code_base.utils import fileio

REPO = Path(__file__).resolve().parents[1]
SMALL = {  # 8 steps per epoch, dropout on, a checkpoint after every epoch
    "data": {"num_training": 400, "num_validation": 100, "num_test": 200},
    "model": {"num_filters": 4, "filter_size": 3, "hidden_dim": 16, "weight_scale": "he",
              "dropout": 0.3, "reg": 1e-4},
    "solver": {"batch_size": 50, "num_epochs": 3, "checkpoint_every": 1, "num_train_samples": 100},
    "schedule": {"name": "cosine", "warmup_epochs": 1},
    "augment": {"padding": 2, "flip": True},
}


def small(**sections):
    config = json.loads(json.dumps(SMALL))
    for section, values in sections.items():
        config.setdefault(section, {}).update(values)
    return training.resolve_config(config)


def quiet_run(config, out, **kwargs):
    return training.run(config, out, progress=False, log=lambda m: None, **kwargs)


def _kill_audit():
    spec = importlib.util.spec_from_file_location("kill_audit", REPO / "tools" / "kill_audit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Every file of a folder and its bytes (summary.json's timing and date left out): the snapshot
# tools/kill_audit.py compares runs by.
folder_state = _kill_audit().state


def interrupt_at(monkeypatch, iteration):
    """Make the Solver raise KeyboardInterrupt when it is about to run step ``iteration``."""
    real_step = Solver._step

    def step(self, idx):
        if self.iteration == iteration:
            raise KeyboardInterrupt(f"interrupted before iteration {iteration}")
        return real_step(self, idx)

    monkeypatch.setattr(Solver, "_step", step)
    return lambda: monkeypatch.setattr(Solver, "_step", real_step)


@pytest.fixture
def reference(cached_data, tmp_path_factory):
    """An uninterrupted run of SMALL and its files."""
    out = tmp_path_factory.mktemp("reference") / "run"
    quiet_run(small(), out)
    return folder_state(out)


@pytest.mark.parametrize("stop_at", [3, 8, 13, 16, 23])  # before and after checkpoints, mid-epoch
def test_resume_after_an_interruption_equals_the_uninterrupted_run(cached_data, tmp_path,
                                                                    monkeypatch, reference,
                                                                    stop_at):
    out = tmp_path / "run"
    quiet_run(small(model={"hidden_dim": 12}), out)  # an older run in the folder
    old = folder_state(out)
    restore = interrupt_at(monkeypatch, stop_at)
    with pytest.raises(KeyboardInterrupt):
        quiet_run(small(), out)
    restore()
    assert folder_state(out) == old  # the old run, whole
    work = RunFolder(out).work
    if stop_at < 8:  # no checkpoint yet: nothing to resume, a new run starts over
        with pytest.raises(FileNotFoundError, match="stopped before its first checkpoint"):
            quiet_run(small(), out, resume=True)
        quiet_run(small(), out)
    else:
        (work / ".checkpoint.npz.abc123.tmp").write_bytes(b"a write cut short")
        quiet_run(small(), out, resume=True)
    assert folder_state(out) == reference  # bit for bit: parameters, history, checkpoint
    assert not work.exists()


def test_a_failing_run_changes_nothing(cached_data, tmp_path, monkeypatch):
    out = tmp_path / "run"
    quiet_run(small(), out)
    (out / "search_results.csv").write_text("name\nbase\n")  # a file the run does not write
    before = folder_state(out)
    with pytest.raises(ValueError, match="num_training \\+ num_validation"):
        quiet_run(small(data={"num_training": 9900, "num_validation": 200}), out)
    assert folder_state(out) == before
    quiet_run(small(model={"hidden_dim": 8}), out)  # a new run keeps the search table
    assert (out / "search_results.csv").read_text() == "name\nbase\n"
    assert training.load_params(out / "params.npz")["W3"].shape == (8, 2)
    assert sorted(p.name for p in out.parent.iterdir()) == ["run"]


def test_resume_refuses_another_config_and_names_the_difference(cached_data, tmp_path,
                                                                monkeypatch):
    out = tmp_path / "run"
    restore = interrupt_at(monkeypatch, 10)
    with pytest.raises(KeyboardInterrupt):
        quiet_run(small(), out)
    restore()
    with pytest.raises(ValueError, match=r"another config \(model.hidden_dim: 16 there, 32 here\)"):
        quiet_run(small(model={"hidden_dim": 32}), out, resume=True)
    with pytest.raises(ValueError, match="holds an interrupted run with a checkpoint"):
        quiet_run(small(), out)  # without --resume: the interrupted run is not thrown away


def test_a_checkpoint_written_for_another_config_is_refused(cached_data, tmp_path, monkeypatch):
    out = tmp_path / "run"
    restore = interrupt_at(monkeypatch, 10)
    with pytest.raises(KeyboardInterrupt):
        quiet_run(small(), out)
    restore()
    work = RunFolder(out).work
    other = small(model={"hidden_dim": 32})
    (work / "config.json").write_text(json.dumps(other))  # the config file says one thing ...
    with pytest.raises(ValueError, match="checkpoint tag"):  # ... the checkpoint another
        quiet_run(other, out, resume=True)


def test_the_swap_without_atomic_exchange_and_its_recovery(tmp_path, monkeypatch):
    def no_exchange(a, b):
        raise OSError(38, "renameat2 is not available")  # ENOSYS

    monkeypatch.setattr(fileio, "_exchange", no_exchange)
    target, new = tmp_path / "out", tmp_path / ".out.partial"
    target.mkdir()
    (target / "a").write_text("old")
    new.mkdir()
    (new / "a").write_text("new")
    real_rename, calls = os.rename, []

    def crash_on_second(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:
            raise KeyboardInterrupt("killed between the two renames")
        real_rename(src, dst)

    monkeypatch.setattr(fileio.os, "rename", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        fileio.replace_folder(new, target)
    monkeypatch.setattr(fileio.os, "rename", real_rename)
    assert not target.exists()  # the one moment the fallback leaves the target missing
    fileio.recover_folder(target, new)
    assert (target / "a").read_text() == "new" and sorted(os.listdir(tmp_path)) == ["out"]


def _kill_when(proc, ready, timeout=120):
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the command never reached the kill point"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_a_killed_train_command_leaves_the_old_run_and_resumes_exactly(synthetic_cifar_dir, tmp_path,
                                                                        cached_data, reference):
    out = tmp_path / "run"
    quiet_run(small(model={"hidden_dim": 12}), out)
    old = folder_state(out)
    config = tmp_path / "small.json"
    config.write_text(json.dumps(SMALL))
    command = [sys.executable, "-m", "code_base.training", "train", "--config", str(config),
               "--out", str(out), "--quiet"]
    env = dict(os.environ, CIFAR10_DIR=str(synthetic_cifar_dir))
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    checkpoint = RunFolder(out).checkpoint
    _kill_when(proc, lambda: checkpoint.is_file())  # killed some time after epoch 1
    assert folder_state(out) == old
    done = subprocess.run(command + ["--resume"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert folder_state(out) == reference


def test_a_killed_submission_run_leaves_all_old_or_all_new_outputs(tmp_path):
    out = tmp_path / "outputs"
    inputs = REPO / "input_files"
    other_inputs = tmp_path / "inputs"
    submission.write_folder(other_inputs, submission.make_inputs(7))
    submission.run(other_inputs, out)
    (out / "notes.txt").write_text("mine")
    old = folder_state(out)
    slow = ("import time, code_base.submission.files as f\n"
            "real = f.format_array\n"
            "f.format_array = lambda *a: (time.sleep(0.2), real(*a))[1]\n"
            "from code_base.submission.__main__ import main\n"
            f"main(['run', '--inputs', {str(inputs)!r}, '--outputs', {str(out)!r}])\n")
    proc = subprocess.Popen([sys.executable, "-c", slow], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    staging = fileio.sibling(out, "staging")
    _kill_when(proc, lambda: staging.is_dir() and len(os.listdir(staging)) >= 4)
    assert folder_state(out) == old  # killed while writing: every old file, nothing new
    done = subprocess.run([sys.executable, "-m", "code_base.submission", "run", "--inputs",
                           str(inputs), "--outputs", str(out)], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    new = folder_state(out)
    assert new["notes.txt"] == b"mine" and new != old
    assert sorted(os.listdir(tmp_path)) == ["inputs", "outputs"]  # no staging folder, no .tmp
    assert set(new) == {"notes.txt"} | {f + ".csv" for f in submission.OUTPUT_SHAPES}


# ----------------------------------------------------------------------------- divergence


def blobs(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3, 8, 8))
    y = rng.integers(0, 2, n)
    return {"X_train": X, "y_train": y, "X_val": X[:20], "y_val": y[:20]}


@pytest.mark.parametrize("rule, lr", [("adam", 1e3), ("rmsprop", 1e6), ("sgd", 1e6)])
def test_a_diverging_loss_stops_training_with_one_message(rule, lr, recwarn):
    from code_base.classifiers.cnn import ThreeLayerConvNet

    model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=8,
                              num_classes=2, weight_scale=0.1, seed=0)
    solver = Solver(model, blobs(), update_rule=rule, optim_config={"learning_rate": lr},
                    lr_schedule=lambda e: 0.5, num_epochs=5, batch_size=10, verbose=False, seed=0)
    with pytest.raises(TrainingDiverged, match=rf"with learning_rate {lr}; try a lower") as info:
        solver.train()
    assert info.value.learning_rate == lr  # the configured rate, not the scheduled half of it
    assert not np.isfinite(info.value.loss) or info.value.loss > 100 * max(1, solver.loss_history[0])
    assert [w for w in recwarn if issubclass(w.category, RuntimeWarning)] == []


def test_the_divergence_rule_leaves_healthy_training_alone():
    from code_base.classifiers.cnn import ThreeLayerConvNet

    model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=8,
                              num_classes=2, weight_scale=0.1, seed=0)
    solver = Solver(model, blobs(), update_rule="adam", optim_config={"learning_rate": 1e-3},
                    num_epochs=3, batch_size=10, verbose=False, seed=0)
    solver.train()
    assert len(solver.loss_history) == 18
    with pytest.raises(ValueError, match="divergence_factor must be a finite number >= 1"):
        Solver(model, blobs(), divergence_factor=0.5)


# ----------------------------------------------------------------- one run per folder, Ctrl-C


HOLD_LOCK = """import sys
from code_base.training.run_folder import RunFolder
with RunFolder(sys.argv[1]).lock():
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_a_second_train_run_on_the_same_folder_is_refused_naming_the_holder(cached_data, tmp_path):
    out = tmp_path / "run"
    config = tmp_path / "small.json"
    config.write_text(json.dumps(SMALL))
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(out)], cwd=REPO,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        work = RunFolder(out).work
        work.mkdir()
        (work / "in-progress.json").write_text("{}")  # the holder's run, half written
        command = [sys.executable, "-m", "code_base.training", "train", "--config", str(config),
                   "--out", str(out), "--quiet"]
        refused = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
        assert refused.returncode == 1
        assert refused.stderr == (f"error: train: {out} is in use by another run (pid "
                                  f"{holder.pid}, lock {tmp_path / '.run.lock'}): wait for it "
                                  "to finish\n")
        assert sorted(os.listdir(work)) == ["in-progress.json"] and not out.exists()
        with pytest.raises(OSError, match=f"pid {holder.pid}"):
            quiet_run(small(), out)  # the same in this process
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert sorted(os.listdir(tmp_path)) == [".run.partial", "small.json"]  # lock file gone
    quiet_run(small(), out)  # once the holder has finished, a run goes ahead
    assert sorted(os.listdir(tmp_path)) == ["run", "small.json"]


INTERRUPT_IMPORTS = """import builtins, runpy, sys
real_import = builtins.__import__

def interrupting_import(name, *args, **kwargs):
    if name == "numpy" or name.startswith("numpy."):
        raise KeyboardInterrupt
    return real_import(name, *args, **kwargs)

builtins.__import__ = interrupting_import
sys.argv = ["python -m code_base.training", "train", "--config", "missing.json"]
runpy.run_module("code_base.training", run_name="__main__", alter_sys=True)
"""


def test_ctrl_c_while_train_imports_is_one_line():
    done = subprocess.run([sys.executable, "-c", INTERRUPT_IMPORTS], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (130, "")
    assert done.stderr == "interrupted while starting: nothing was written\n"


def test_divergence_through_the_command_line_is_one_line(cached_data, tmp_path):
    config = tmp_path / "diverge.json"
    config.write_text(json.dumps({**SMALL, "solver": {**SMALL["solver"], "update_rule": "rmsprop",
                                                      "optim_config": {"learning_rate": 1e38}}}))
    done = subprocess.run([sys.executable, "-m", "code_base.training", "train", "--config",
                           str(config), "--out", str(tmp_path / "run"), "--quiet"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.startswith("error: training diverged: loss is nan at iteration 2 / 24")
    assert done.stderr.count("\n") == 1, done.stderr
