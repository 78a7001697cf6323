"""Progress bars: one clean text bar in a terminal, a widget in a Jupyter kernel, none when off.

The Solver prints its `(Iteration ...)` and `(Epoch ...)` lines through the bar, so in a terminal
each line stays whole with one bar under them, and in a notebook the lines go to stdout while
the bar is a widget of its own (before, Lab showed a stack of text-bar copies on stderr).
"""

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import textwrap
import time

import pytest
from jupyter_client.manager import KernelManager

from code_base.utils import progress

# A tiny linear model trained by the real Solver: 3 epochs of 4 iterations, verbose.
TRAIN = textwrap.dedent("""
    import numpy as np
    from code_base.solver import Solver

    class Linear:
        def __init__(self):
            self.params = {"W": np.zeros((4, 2))}

        def loss(self, X, y=None):
            scores = X @ self.params["W"]
            if y is None:
                return scores
            diff = scores - np.eye(2)[y]
            return float((diff ** 2).mean()), {"W": X.T @ diff / len(X)}

    rng = np.random.default_rng(0)
    data = {"X_train": rng.normal(size=(40, 4)), "y_train": rng.integers(0, 2, 40),
            "X_val": rng.normal(size=(10, 4)), "y_val": rng.integers(0, 2, 10)}
    solver = Solver(Linear(), data, update_rule="sgd", optim_config={"learning_rate": 0.1},
                    batch_size=10, num_epochs=3, print_every=2, seed=0, progress=PROGRESS)
    solver.train()
""")
LOG_LINE = re.compile(r"\((Iteration \d+ / 12\) loss: [\d.]+|Epoch \d / 3\) train acc: [\d.]+; "
                      r"val_acc: [\d.]+)$")


def screen(raw):
    """The lines a terminal shows after printing ``raw``: carriage returns overwrite a line."""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw.replace("\r\n", "\n"))
    lines = []
    for line in text.split("\n"):
        shown = ""
        for part in line.split("\r"):
            shown = part + shown[len(part):]
        lines.append(shown.rstrip())
    return [line for line in lines if line]


def run_in_terminal(code, timeout=60):
    """Run ``code`` with stdout and stderr on a pseudo-terminal; return everything it printed."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 24 x 100
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=follower, stderr=follower,
                            stdin=subprocess.DEVNULL, env=os.environ)
    os.close(follower)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=10) == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode()


def test_terminal_shows_whole_lines_and_one_bar():
    lines = screen(run_in_terminal(TRAIN.replace("PROGRESS", "True")))
    *log, bar = lines
    assert len(log) == 6 + 4 and all(LOG_LINE.match(line) for line in log), lines
    assert re.match(r"train: 100%\|.*\| 12/12 \[", bar), bar


def test_terminal_without_progress_prints_the_lines_only():
    lines = screen(run_in_terminal(TRAIN.replace("PROGRESS", "False")))
    assert len(lines) == 10 and all(LOG_LINE.match(line) for line in lines), lines


def kernel_outputs(code, sockets, timeout=60):
    """The iopub outputs of running ``code`` in a fresh ipykernel of this environment."""
    km = KernelManager(kernel_name="python3", transport="ipc", ip=str(sockets / "kernel"))
    km.start_kernel(stderr=subprocess.DEVNULL)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=timeout)
        outputs = []
        reply = kc.execute_interactive(code, timeout=timeout, output_hook=outputs.append)
        assert reply["content"]["status"] == "ok", reply["content"]
        return [m for m in outputs if m["msg_type"] in ("stream", "display_data", "error")]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_jupyter_kernel_shows_a_widget_and_plain_lines(tmp_path):
    outputs = kernel_outputs(TRAIN.replace("PROGRESS", "True"), tmp_path)
    widgets = [m for m in outputs if m["msg_type"] == "display_data"]
    assert len(widgets) == 1
    assert "application/vnd.jupyter.widget-view+json" in widgets[0]["content"]["data"]
    streams = [m["content"] for m in outputs if m["msg_type"] == "stream"]
    assert {s["name"] for s in streams} == {"stdout"}  # nothing on stderr: no text bar
    lines = "".join(s["text"] for s in streams).splitlines()
    assert len(lines) == 10 and all(LOG_LINE.match(line) for line in lines), lines


def test_disabled_bar_writes_lines_only(capsys):
    with progress.progress_bar(3, enabled=False, desc="x") as bar:
        bar.update(3)
        bar.write("a line")
    out, err = capsys.readouterr()
    assert (out, err) == ("a line\n", "")


def test_outside_a_kernel_the_bar_is_text():
    assert not progress.in_jupyter_kernel()
    with progress.progress_bar(2, desc="x", file=open(os.devnull, "w")) as bar:
        assert type(bar).__module__ == "tqdm.std"


@pytest.mark.parametrize("installed", [True, False])
def test_a_kernel_without_ipywidgets_falls_back_to_text_with_a_warning(monkeypatch, installed):
    monkeypatch.setattr(progress, "in_jupyter_kernel", lambda: True)
    monkeypatch.setattr(progress, "find_spec", lambda name: object() if installed else None)
    monkeypatch.setattr(progress, "_warned", [])
    if installed:
        with progress.progress_bar(2, desc="x", display=False) as bar:
            assert type(bar).__module__ == "tqdm.notebook"
    else:
        with pytest.warns(UserWarning, match="ipywidgets is not installed"):
            bar = progress.progress_bar(2, desc="x", file=open(os.devnull, "w"))
        assert type(bar).__module__ == "tqdm.std"
        bar.close()
