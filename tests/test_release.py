"""The student release: build (stubs, allowlist, reproducible, no leak) and its verify.

Structural tests build a kit once per session (under a second); the stub behaviour runs in the
built kit in a process of its own (PYTHONPATH=KIT); `test_verify` runs the whole proof with the
chapters executed against stubs only (the filled chapters train on the plain layers: minutes,
`make release-verify` runs them).
"""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from code_base.check.manifest import TASKS, Task, stub_message
from code_base.release import verify as release_verify
from code_base.release.build import REPO, build, kit_files
from code_base.release.scan import scan
from code_base.release.stubs import ManifestError, release_source


@pytest.fixture(scope="session")
def kit(tmp_path_factory):
    return build(tmp_path_factory.mktemp("release") / "kit").out


def _python(args, cwd, pythonpath, **kw):
    env = dict(os.environ, PYTHONPATH=str(pythonpath), OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=120, **kw)


def test_build_is_reproducible_and_the_allowlist(kit, tmp_path):
    again = build(tmp_path / "again").out
    files = sorted(p.relative_to(kit).as_posix() for p in kit.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again).as_posix() for p in again.rglob("*") if p.is_file())
    assert all((kit / f).read_bytes() == (again / f).read_bytes() for f in files)
    assert set(files) == release_verify.expected_tree()
    for left_out in ("code_base/fast", "code_base/training", "code_base/submission/classgrade",
                     "code_base/release", "runs", "configs", "tests"):
        assert not (kit / left_out).exists(), left_out
    assert [p.name for p in (kit / "output_files").iterdir()] == ["README.md"]
    record = json.loads((kit / "code_base/RELEASE.json").read_text())
    assert record["release"].startswith("cnn-from-scratch-a2-") and len(record["manifest_sha256"]) == 64
    assert record["functions"] == [t.name for t in TASKS]
    first_screen = "\n".join((kit / "README.md").read_text().splitlines()[:25])
    for step in ("make lab", "notebooks/01_convolution", "make check", "make pack ID=e0123456g"):
        assert step in first_screen, step


def test_structure_step_passes_and_names_a_fast_reference(kit):
    assert "no fast reference" in release_verify.check_structure(kit)
    text = "import numpy as np\nfrom . import fast\n\ndef f(x):\n    return fast.conv(x)\n"
    assert release_verify.fast_references("m.py", text) == [2, 5]


def test_every_stub_keeps_its_docstring_and_raises_its_own_line(kit):
    for t in TASKS:
        text = (kit / t.path).read_text()
        assert f'raise NotImplementedError(' in text and stub_message(t) in text, t.name
        assert f"# Hint: {t.hint.split()[0]}" in text, t.name
    for rel in ("code_base/layers.py", "code_base/layer_utils.py", "code_base/optim.py"):
        assert "fast" not in (kit / rel).read_text().replace("breakfast", ""), rel


STUB_CALLS = """
import numpy as np
from code_base.check.manifest import task, stub_message
from code_base.classifiers.cnn import ThreeLayerConvNet
from code_base.layer_utils import conv_relu_pool_forward
from code_base.solver import Solver

def raised(call):
    try:
        call()
    except NotImplementedError as e:
        return str(e)
    return "no error"

rng = np.random.default_rng(0)
x = rng.standard_normal((2, 3, 8, 8))
w, b = rng.standard_normal((4, 3, 3, 3)), np.zeros(4)
print(raised(lambda: conv_relu_pool_forward(x, w, b, {"stride": 1, "pad": 2},
             {"pool_height": 2, "pool_width": 2, "stride": 2})))
print(raised(lambda: ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=4, filter_size=3)))

class InitWritten(ThreeLayerConvNet):  # a student who has written init_params only
    def init_params(self, F, fs, hidden, classes, scale):
        C, H, W = self.input_dim
        return {"W1": np.zeros((F, C, fs, fs)), "b1": np.zeros(F),
                "W2": np.zeros((F * H * W // 4, hidden)), "b2": np.zeros(hidden),
                "W3": np.zeros((hidden, classes)), "b3": np.zeros(classes)}

model = InitWritten(input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=5)
y = np.array([0, 1])
print(raised(lambda: model.loss(x, y)))
data = {"X_train": x, "y_train": y, "X_val": x, "y_val": y}
solver = Solver(model, data, num_epochs=1, batch_size=2, verbose=False, progress=False)
print(raised(lambda: solver._step(np.arange(2))))
"""


def test_stubs_raise_their_own_message_through_the_sandwich_model_and_solver(kit):
    proc = _python(["-c", STUB_CALLS], kit, kit)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines() == [
        stub_message(next(t for t in TASKS if t.name == name))
        for name in ("conv_forward", "ThreeLayerConvNet.init_params", "ThreeLayerConvNet.loss",
                     "ThreeLayerConvNet.loss")]


def test_scan_is_clean_and_finds_planted_leaks(kit, tmp_path):
    assert scan(kit) == []
    planted = build(tmp_path / "planted").out
    body = (REPO / "code_base/layers.py").read_text()
    secret = next(line for line in body.splitlines() if "w.reshape(F, -1) @ cols" in line)
    number = next(n for n in (REPO / "output_files/conv_forward_out.csv").read_text()
                  .replace("\n", ",").split(",") if len(n.split(".")[-1]) >= 6)
    with open(planted / "code_base/layers.py", "a") as f:
        f.write(f"\n\ndef leaked():\n{secret}\n")
    with open(planted / "README.md", "a") as f:
        f.write(f"\nconv_forward gives {number} at [0, 0, 0, 0]\n")
    leaks = scan(planted)
    assert {(leak.path, leak.what) for leak in leaks} >= {
        ("code_base/layers.py", "conv_forward"), ("README.md", "output_files/conv_forward_out.csv")}
    assert "leak(s)" in pytest.raises(release_verify.StepFailed,
                                      release_verify.check_leaks, planted).value.args[0]


def test_a_manifest_entry_that_no_longer_matches_fails_in_one_line():
    text = (REPO / "code_base/layers.py").read_text()
    moved = Task("conv_forward", "code_base/layers.py", "conv_forward_v2", "layers", 0, "t", "h")
    with pytest.raises(ManifestError) as e:
        release_source(text, [moved], "code_base/layers.py")
    assert "\n" not in str(e.value) and "conv_forward_v2" in str(e.value)


def test_build_into_a_folder_that_is_not_empty_is_refused_in_one_line(tmp_path):
    out = tmp_path / "kit"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    proc = _python(["-m", "code_base.release", "build", "--out", str(out)], REPO, REPO)
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and str(out) in proc.stderr
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    assert not out.with_name("kit.partial").exists()


def test_kit_files_ship_the_public_check_values_of_the_solution():
    files = kit_files()
    shipped = json.loads(files["code_base/check/expected.json"])
    assert shipped == json.loads((REPO / "code_base/check/expected.json").read_text())


def test_verify():
    out = io.StringIO()
    ok = release_verify.verify(notebooks="stubs", out=out)
    lines = out.getvalue().splitlines()
    steps = [line for line in lines if line.startswith(("PASS", "FAIL"))]
    assert ok, out.getvalue()
    assert len(steps) == 10 and all(line.startswith("PASS") for line in steps), out.getvalue()
    assert "11 mistakes of the synthetic class: check and grade-class agree" in out.getvalue()
