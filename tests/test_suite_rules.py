"""The suite's own rules: CNN_NO_SKIPS=1 (CI) turns every skip into a failure; the data rule."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from code_base.utils.download import missing_batches
from conftest import DEV_COPY, REPO, real_data_dir

SAMPLE = '''
import pytest

def test_passes():
    assert 1 + 1 == 2

def test_skips():
    pytest.skip("no data here")

@pytest.mark.skipif(True, reason="never on this machine")
def test_marked():
    pass

@pytest.mark.xfail(reason="a known bug", strict=True)
def test_expected_failure():
    assert False
'''


def run_sample(tmp_path, no_skips):
    """Run SAMPLE under a copy of this suite's conftest; (exit code, output)."""
    shutil.copy(Path(__file__).with_name("conftest.py"), tmp_path / "conftest.py")
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    env = {k: v for k, v in os.environ.items() if k != "CNN_NO_SKIPS"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    if no_skips:
        env["CNN_NO_SKIPS"] = "1"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), str(tmp_path)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout


def test_skips_are_allowed_without_cnn_no_skips(tmp_path):
    code, out = run_sample(tmp_path, no_skips=False)
    assert code == 0, out
    assert "1 passed, 2 skipped, 1 xfailed" in out


def test_cnn_no_skips_turns_every_skip_into_a_failure(tmp_path):
    code, out = run_sample(tmp_path, no_skips=True)
    assert code == 1, out
    assert "1 failed, 1 passed, 1 xfailed, 1 error" in out  # a skip mark fails in setup
    assert "skipped, but CNN_NO_SKIPS=1 allows no skips: Skipped: no data here" in out
    assert "CNN_NO_SKIPS=1 allows no skips: Skipped: never on this machine" in out


def test_the_data_rule_and_its_export(monkeypatch, tmp_path):
    found = real_data_dir()
    if found is not None:  # exported when the suite started, for the kernels nbval starts
        assert os.environ["CIFAR10_DIR"] == str(found)
    monkeypatch.setenv("CIFAR10_DIR", str(tmp_path / "nowhere"))
    assert real_data_dir() is None  # CIFAR10_DIR wins, even when it lacks the batches
    monkeypatch.delenv("CIFAR10_DIR")
    assert real_data_dir() == (None if missing_batches(DEV_COPY) else DEV_COPY)
    assert DEV_COPY == REPO.parent / "shared" / "data" / "cifar-10-batches-py"


def test_synthetic_cifar_folder_has_the_official_layout(synthetic_cifar_dir):
    from code_base.data_utils import get_CIFAR2_data, load_CIFAR_batch

    assert sorted(p.name for p in synthetic_cifar_dir.iterdir()) == [
        "data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
        "test_batch"]
    X, y = load_CIFAR_batch(synthetic_cifar_dir / "data_batch_1")
    assert X.shape == (150, 3, 32, 32) and X.dtype.name == "uint8" and set(y) == {0, 1, 2, 7}
    data = get_CIFAR2_data(num_training=500, num_validation=100, num_test=320,
                           root=synthetic_cifar_dir)
    assert data["X_test"].shape == (320, 3, 32, 32) and set(data["y_train"]) == {0, 1}
