"""Run a student's own code_base on given inputs: one sandbox per function call.

Each of the six functions runs in its own bubblewrap sandbox (:mod:`.sandbox`) holding the
runner :mod:`.in_sandbox`; the grader waits at most `timeout` seconds, then kills the sandbox's
process group: bwrap's PID namespace ends, and with it every process the call started
(double forks and setsid included). The result comes back on a pipe and is read with a size cap
(RESULT_LIMIT) and parsed by hand against the expected names and shapes: no np.load, no pickle,
nothing the student sizes. A function that hangs, crashes or raises spoils only its own result.

Where cgroups can be made (:mod:`.cgroups`), each sandboxed call also gets its own memory and
pids cgroup: the memory limit then bounds the whole call, not each process.

With sandbox=False (`--no-sandbox`) the runner is a plain `python -I -S` process in a new
session with the same limits: the student's code then runs as the grading user.
"""
import dataclasses
import json
import os
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ...check import calls
from ..files import OUTPUT_SHAPES
from ..handin import FUNCTION_OUTPUTS, FUNCTIONS
from . import cgroups, sandbox
from .in_sandbox import MAGIC

__all__ = ["CodeRun", "run_function", "run_code", "parse_frame", "RESULT_LIMIT"]

MiB = 1 << 20
FILE_LIMIT = 8 * MiB  # what a call may write to one file, its stdout and stderr included
HEADER_LIMIT = 64 << 10
RESULT_LIMIT = 2 * MiB  # the six functions' outputs are at most 5 KiB of float64
_PREFIX = len(MAGIC) + 8


class ResultError(ValueError):
    """The result frame is not what the runner writes: too large, cut short or inconsistent."""


@dataclasses.dataclass
class CodeRun:
    """What one function of a student's code did: status 'ok', 'todo' (NotImplementedError, a
    stub), 'missing', 'raised', 'shape', 'import' (code_base.layers did not import), 'foreign'
    (not the student's own code), 'timeout', 'crashed' or 'result' (an unreadable result);
    `arrays` holds the outputs when 'ok'."""
    function: str
    status: str
    message: str = ""
    printed_lines: int = 0
    printed: str = ""
    printed_at_import: str = ""
    seconds: float = 0.0
    module: str = ""
    arrays: dict = dataclasses.field(default_factory=dict)


def parse_frame(data, function):
    """(verdict dict, {name: float64 array}) from the runner's frame bytes; ResultError if it is not
    exactly a frame holding the expected arrays of `function` with their expected shapes."""
    if len(data) < _PREFIX or data[:len(MAGIC)] != MAGIC:
        raise ResultError("no result (the process ended before it wrote one)")
    n_header, n_data = struct.unpack(">II", data[len(MAGIC):_PREFIX])
    if n_header > HEADER_LIMIT or len(data) != _PREFIX + n_header + n_data:
        raise ResultError(f"a result of {len(data)} bytes that is not the runner's")
    try:
        header = json.loads(bytes(data[_PREFIX:_PREFIX + n_header]))
        verdict, listed = dict(header["verdict"]), [(str(n), list(s)) for n, s in header["arrays"]]
    except (ValueError, KeyError, TypeError, RecursionError):
        raise ResultError("a result whose header is not the runner's") from None
    expected = {name: list(OUTPUT_SHAPES[name]) for name in FUNCTION_OUTPUTS[function]}
    if verdict.get("status") == "ok" and listed != list(expected.items()):
        raise ResultError("a result holding other arrays than the function's outputs")
    if verdict.get("status") != "ok" and (listed or n_data):
        raise ResultError("a result with arrays but no success")
    arrays, offset = {}, _PREFIX + n_header
    for name, shape in listed:
        size = 8 * int(np.prod(shape))
        arrays[name] = np.frombuffer(bytes(data[offset:offset + size]), dtype="<f8").reshape(shape).astype(np.float64)
        offset += size
    if offset != len(data):
        raise ResultError("a result whose data does not match its header")
    return verdict, arrays


def _environment(home):
    """The --no-sandbox runner's environment: nothing of the grader's."""
    return {"PATH": os.defpath, "HOME": str(home), "TMPDIR": str(home), "LANG": "C.UTF-8",
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _exited(pid):
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _announced(buf):
    """The frame's total length as its prefix announces it; None until the prefix is in; 0 for
    bytes that are not a frame (nothing more is read)."""
    if len(buf) < _PREFIX:
        return None if MAGIC.startswith(bytes(buf[:len(MAGIC)])) else 0
    if buf[:len(MAGIC)] != MAGIC:
        return 0
    n_header, n_data = struct.unpack(">II", buf[len(MAGIC):_PREFIX])
    return _PREFIX + n_header + n_data


def _complete(buf):
    size = _announced(buf)
    return size is not None and len(buf) >= size


def _drain(fd, buf):
    """Read what the pipe holds now; False at end of file."""
    while len(buf) <= RESULT_LIMIT:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        buf += chunk
    return True


def _collect(fd, pid, timeout):
    """(result bytes, how): 'done', 'ended', 'large' or 'timeout'; never more than RESULT_LIMIT + 64 KiB."""
    os.set_blocking(fd, False)
    buf, deadline = bytearray(), time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return buf, "timeout"
        ready, _, _ = select.select([fd], [], [], min(left, 0.02))
        open_ = _drain(fd, buf) if ready else True
        if len(buf) > RESULT_LIMIT or (_announced(buf) or 0) > RESULT_LIMIT:
            return buf, "large"
        if _complete(buf):
            return buf, "done"
        if not open_ or _exited(pid):
            _drain(fd, buf)
            return buf, "done" if _complete(buf) else "ended"


def _kill(proc):
    """End the call: its process group (bwrap, or the runner), and so bwrap's PID namespace."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - the kernel did not reap it
        pass


def _stderr_tail(path, limit=4000):
    try:
        with open(path, "rb") as f:
            text = f.read(limit).decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def _crashed(function, returncode, stderr, memory_mb):
    if returncode in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
        return CodeRun(function, "timeout", "used more than its CPU time")
    if returncode in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ):
        return CodeRun(function, "crashed", f"wrote more than {FILE_LIMIT // MiB} MiB to a file")
    how = f"signal {signal.Signals(-returncode).name}" if returncode < 0 else f"exit code {returncode}"
    return CodeRun(function, "crashed", f"the process ended ({how}, memory limit {memory_mb} MiB): "
                                        f"{stderr or 'no message'}")


def _from_verdict(function, verdict, arrays):
    run = CodeRun(function, str(verdict.get("status", "crashed")), str(verdict.get("message", "")))
    printed = verdict.get("printed") if isinstance(verdict.get("printed"), dict) else {}
    at_import = verdict.get("printed_at_import") if isinstance(verdict.get("printed_at_import"), dict) else {}
    run.printed_lines, run.printed = int(printed.get("lines", 0)), str(printed.get("head", ""))[:300]
    run.printed_at_import = str(at_import.get("head", ""))[:300]
    run.module = str(verdict.get("module", ""))[:300]
    run.arrays = arrays if run.status == "ok" else {}
    return run


def _config(root, function, inputs, memory_mb, timeout, sandboxed, site):
    return {"root": "/student" if sandboxed else str(Path(root).resolve()),
            "paths": [sandbox.SITE if sandboxed else str(site)], "function": function,
            "calls": sandbox.calls_path(sandboxed),
            "inputs": "/io/inputs.npz" if sandboxed else str(inputs), "params": calls.PARAMS,
            "shapes": {n: OUTPUT_SHAPES[n] for n in FUNCTION_OUTPUTS[function]},
            "memory_bytes": memory_mb * MiB, "cpu_seconds": int(timeout) + 2,
            "file_bytes": FILE_LIMIT, "max_processes": sandbox.MAX_PROCESSES}


def _argv(root, inputs, config, sandboxed):
    text = json.dumps(config)
    if sandboxed:
        return sandbox.bwrap_command(root, inputs, sandbox.python_argv(text))
    return [sys.executable, "-I", "-S", sandbox.runner_path(False), text]


def run_function(root, function, inputs_npz, work, timeout=10.0, memory_mb=1024, sandboxed=True):
    """Run `function` of the student code_base in the folder `root` on the arrays of `inputs_npz`
    (the student's own copy), in a sandbox unless sandboxed=False. `work` is a private folder for
    the call's stdout and stderr. Returns a CodeRun."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    site = _private_site(work) if not sandboxed else None
    start = time.monotonic()
    read, write = os.pipe()
    config = _config(root, function, inputs_npz, memory_mb, timeout, sandboxed, site)
    config["result_fd"] = write  # inherited under the same number, bwrap and setpriv included
    argv = _argv(root, inputs_npz, config, sandboxed)
    try:
        with open(work / "stdout", "wb") as out, open(work / "stderr", "wb") as err, \
                cgroups.call_group(memory_mb * MiB + sandbox.TMP_BYTES, sandbox.MAX_PROCESSES) as group:
            proc = subprocess.Popen(argv, cwd=root, env=_environment(work), stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err, start_new_session=True, pass_fds=(write,),
                                    preexec_fn=_joiner(group) if group and sandboxed else None)
            os.close(write)
            write = None
            try:
                data, how = _collect(read, proc.pid, timeout)
            finally:
                _kill(proc)
    finally:
        os.close(read)
        if write is not None:
            os.close(write)
    return _outcome(function, data, how, proc.returncode, work, memory_mb, timeout,
                    time.monotonic() - start)


def _joiner(group):
    def join():  # runs in the child before bwrap starts: all it starts is in the call's cgroups
        for procs in group:
            with open(procs, "w") as f:
                f.write("0")
    return join


def _outcome(function, data, how, returncode, work, memory_mb, timeout, seconds):
    if how == "timeout":
        return CodeRun(function, "timeout", f"did not return within {timeout:g} s", seconds=seconds)
    if how == "large":
        return CodeRun(function, "result", f"a result over {RESULT_LIMIT // MiB} MiB, not read",
                       seconds=seconds)
    if how == "ended" and not data:
        return _crashed(function, returncode, _stderr_tail(work / "stderr"), memory_mb)
    try:
        run = _from_verdict(function, *parse_frame(data, function))
    except ResultError as e:
        return CodeRun(function, "result", f"unreadable result: {e}", seconds=seconds)
    stray = _stderr_tail(work / "stdout")  # written past print(), e.g. by os.write(1, ...)
    if stray and not run.printed:
        run.printed, run.printed_lines = stray, 1
    run.seconds = seconds
    return run


def _private_site(work):
    """A folder holding links to NumPy's folders alone, the --no-sandbox runner's site folder."""
    site = Path(tempfile.mkdtemp(prefix="site-", dir=work))
    for folder in sandbox.numpy_folders():
        (site / folder.name).symlink_to(folder, target_is_directory=True)
    return site


def run_code(root, inputs_npz, work, timeout=10.0, memory_mb=1024, sandboxed=True):
    """{function: CodeRun} for the six functions of the student code_base in `root`, one by one."""
    return {f: run_function(root, f, inputs_npz, Path(work) / f, timeout, memory_mb, sandboxed)
            for f in FUNCTIONS}
