"""Run a student's own code_base on given inputs: one limited process per function.

Each of the six functions runs in its own `python -I -S` process (see :mod:`.in_sandbox`) started in
a new session, with only the student's folder and NumPy's on sys.path, an environment holding
nothing of the grader's but locale and BLAS settings, a wall-clock timeout (the whole process
group is killed when it runs out), and limits on memory (address space), CPU time and file size.
A function that hangs, crashes or raises spoils only its own result. Each process costs 0.1-0.3 s,
mostly Python and NumPy starting.

This is not a security sandbox: the student's code runs as the grading user and can read and
write whatever that user can. Grade untrusted hand-ins inside a container or VM (README).
"""
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ..compute import (CONV_BACKWARD_PARAM, CONV_FORWARD_PARAM, DROPOUT_BACKWARD_P,
                      DROPOUT_FORWARD_P, POOL_PARAM)
from ..handin import FUNCTION_OUTPUTS, FUNCTIONS

__all__ = ["CodeRun", "assignment_params", "run_function", "run_code"]

CHILD = Path(__file__).with_name("in_sandbox.py")
MiB = 1 << 20
FILE_LIMIT = 16 * MiB  # what a child may write to one file: results, and any print flood
_KEPT_VARIABLES = ("LANG", "LC_ALL", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


@dataclasses.dataclass
class CodeRun:
    """What one function of a student's code did: status 'ok', 'missing', 'raised', 'import'
    (code_base.layers did not import), 'foreign' (it was not the student's), 'timeout' or
    'crashed'; `arrays` holds the outputs when 'ok'."""
    function: str
    status: str
    message: str = ""
    printed_lines: int = 0
    printed: str = ""
    printed_at_import: str = ""
    seconds: float = 0.0
    module: str = ""
    arrays: dict = dataclasses.field(default_factory=dict)


def assignment_params():
    """The assignment's parameters of the six calls (code_base/submission/compute.py), for CALLS."""
    return {"conv_forward": CONV_FORWARD_PARAM, "conv_backward": CONV_BACKWARD_PARAM,
            "pool": POOL_PARAM, "dropout_forward_p": DROPOUT_FORWARD_P,
            "dropout_backward_p": DROPOUT_BACKWARD_P}


def _environment(home):
    env = {k: os.environ[k] for k in _KEPT_VARIABLES if k in os.environ}
    env.update(PATH=os.defpath, HOME=str(home), TMPDIR=str(home), OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def _wait(pid, timeout):
    """True once the process has exited (left unreaped, so its group id stays ours), False at timeout."""
    deadline, delay = time.monotonic() + timeout, 0.002
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(2 * delay, 0.02)
    return True


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)  # the child leads its own session: this is its group
    except (ProcessLookupError, PermissionError):
        pass


def _read_text(path, limit=2000):
    try:
        with open(path, "rb") as f:
            return f.read(limit).decode("utf-8", "replace")
    except OSError:
        return ""


def _from_verdict(function, verdict, result_path):
    run = CodeRun(function, str(verdict.get("status", "crashed")), str(verdict.get("message", "")))
    printed = verdict.get("printed") or {}
    run.printed_lines, run.printed = int(printed.get("lines", 0)), str(printed.get("head", ""))
    run.printed_at_import = str((verdict.get("printed_at_import") or {}).get("head", ""))
    run.seconds, run.module = float(verdict.get("seconds", 0.0)), str(verdict.get("module", ""))
    if run.status == "ok":
        expected = set(FUNCTION_OUTPUTS[function])
        with np.load(result_path, allow_pickle=False) as data:
            run.arrays = {name: np.asarray(data[name], dtype=np.float64)
                          for name in data.files if name in expected}
    return run


def _crashed(function, returncode, stderr, timeout, memory_mb):
    if returncode == -signal.SIGXCPU:
        return CodeRun(function, "timeout", f"used more than {timeout:g} s of CPU time")
    if returncode == -signal.SIGXFSZ:
        return CodeRun(function, "crashed", f"wrote more than {FILE_LIMIT // MiB} MiB to a file")
    last = [line for line in stderr.splitlines() if line.strip()][-1:] or ["no message"]
    how = f"signal {signal.Signals(-returncode).name}" if returncode < 0 else f"exit code {returncode}"
    return CodeRun(function, "crashed", f"the process ended ({how}, memory limit {memory_mb} MiB): "
                                        f"{last[0][:200]}")


def run_function(root, function, inputs_npz, work, timeout=10.0, memory_mb=1024):
    """Run `function` of the student code_base in the folder `root` on the arrays of `inputs_npz`.

    `work` is a private folder for the run's files. Returns a CodeRun.
    """
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    files = {k: work / f"{function}.{k}" for k in ("json", "verdict", "npz", "stdout", "stderr")}
    config = {"root": str(Path(root).resolve()), "paths": [os.path.dirname(os.path.dirname(np.__file__))],
              "function": function, "inputs": str(inputs_npz), "params": assignment_params(),
              "result": str(files["npz"]), "verdict": str(files["verdict"]),
              "memory_bytes": memory_mb * MiB, "cpu_seconds": int(timeout) + 2,
              "file_bytes": FILE_LIMIT}
    files["json"].write_text(json.dumps(config))
    start = time.monotonic()
    with open(files["stdout"], "wb") as out, open(files["stderr"], "wb") as err:
        proc = _start(config, files["json"], work, out, err)
        finished = _wait(proc.pid, timeout)
        _kill_group(proc.pid)  # on timeout; and whatever the student's code left running
        proc.wait()
    seconds = time.monotonic() - start
    if not finished:
        return CodeRun(function, "timeout", f"did not return within {timeout:g} s", seconds=seconds)
    try:
        verdict = json.loads(files["verdict"].read_text())
        run = _from_verdict(function, verdict, files["npz"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return _crashed(function, proc.returncode, _read_text(files["stderr"]), timeout, memory_mb)
    stray = _read_text(files["stdout"])  # written past print(), e.g. by os.write(1, ...)
    if stray and not run.printed:
        run.printed, run.printed_lines = stray[:300], max(1, stray.count("\n"))
    run.seconds = seconds
    return run


def _start(config, config_path, home, out, err):
    return subprocess.Popen([sys.executable, "-I", "-S", str(CHILD), str(config_path)],
                            cwd=config["root"], env=_environment(home), stdin=subprocess.DEVNULL,
                            stdout=out, stderr=err, start_new_session=True)


def run_code(root, inputs_npz, work, timeout=10.0, memory_mb=1024):
    """{function: CodeRun} for the six functions of the student code_base in `root`, one by one."""
    return {f: run_function(root, f, inputs_npz, Path(work) / f, timeout, memory_mb) for f in FUNCTIONS}
