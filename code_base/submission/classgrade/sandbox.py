"""The sandbox one student function call runs in: Debian's bubblewrap (`bwrap`, Flatpak's sandbox).

Each call gets a new mount namespace holding only, read-only: /usr (the C library), the Python
runtime (sys.base_prefix, at its own path), NumPy's own folders bound into a private site folder
/site (never the whole site-packages: it also holds this project's editable install and other
packages), the runner script /grader/in_sandbox.py (standard library + NumPy only), the
student's folder as /student and that student's own copy of the fresh inputs as
/io/inputs.npz. /tmp is a private tmpfs of `TMP_BYTES`. No network (--unshare-net), its own PID,
IPC and UTS namespaces (--unshare-pid: when the call ends, its PID 1 dies and the kernel kills
every process left inside), --die-with-parent, --new-session (no terminal), --clearenv (a minimal
environment). As root the call runs as a dedicated unprivileged uid (setpriv), so RLIMIT_NPROC
limits its process count; memory is RLIMIT_AS per process times at most MAX_PROCESSES processes.
The result leaves by a pipe (fd 3) that the grader reads with a size cap.

Not a wall against kernel exploits: for a machine you must not trust at all, run the grader in
a container or VM as well (docs/grading.md).
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

__all__ = ["SandboxUnavailable", "INSTALL", "TMP_BYTES", "MAX_PROCESSES", "SITE", "runner_path",
           "sandbox_uid", "numpy_folders", "bwrap_command", "python_argv", "probe"]

INSTALL = "install bubblewrap: `apt-get install bubblewrap` (or `sudo make sandbox-deps`)"
TMP_BYTES = 32 << 20  # the call's private /tmp
MAX_PROCESSES = 16  # processes (threads count too) the call's uid may have at once
SITE = "/site"
RUNNER = Path(__file__).with_name("in_sandbox.py")
CALLS = Path(__file__).resolve().parents[2] / "check" / "calls.py"  # standalone: no imports


class SandboxUnavailable(RuntimeError):
    """bwrap is missing or cannot make namespaces here; the message is one line saying what to do."""


def runner_path(sandboxed):
    """Where in_sandbox.py is, as the running process sees it."""
    return "/grader/in_sandbox.py" if sandboxed else str(RUNNER)


def calls_path(sandboxed):
    """Where check/calls.py is, as the running process sees it."""
    return "/grader/calls.py" if sandboxed else str(CALLS)


def sandbox_uid():
    """A uid of no account, the grader's own (by process id), for RLIMIT_NPROC to count on."""
    return 200_000 + os.getpid() % 100_000


def numpy_folders():
    numpy_dir = Path(np.__file__).resolve().parent
    site = numpy_dir.parent
    return [p for p in (numpy_dir, site / "numpy.libs") if p.is_dir()]


def _bind(target, source, read_only=True):
    """bwrap arguments binding `source` at `target`, its parent folders created world-readable."""
    args = []
    parents = list(Path(target).parents)[::-1][1:]  # without '/'
    for parent in parents:
        args += ["--perms", "0755", "--dir", str(parent)]
    return args + ["--ro-bind" if read_only else "--bind", str(source), str(target)]


def bwrap_command(student_root, inputs_npz, argv):
    """The bwrap command line running `argv` (a list) inside the sandbox of one call."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(f"grade-class runs each student in a sandbox and bwrap is missing: {INSTALL}")
    runtime = Path(sys.base_prefix).resolve()
    args = [bwrap, "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--die-with-parent", "--new-session", "--clearenv",
            "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64",
            "/lib64", "--symlink", "usr/bin", "/bin", "--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--size", str(TMP_BYTES), "--tmpfs", "/tmp"]
    if not str(runtime).startswith("/usr/"):
        args += _bind(runtime, runtime)
    for folder in numpy_folders():
        args += _bind(f"{SITE}/{folder.name}", folder)
    args += _bind("/grader/in_sandbox.py", RUNNER)
    args += _bind("/grader/calls.py", CALLS)
    args += _bind("/student", Path(student_root).resolve())
    args += _bind("/io/inputs.npz", Path(inputs_npz).resolve())
    env = {"PATH": "/usr/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8",
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for key, value in env.items():
        args += ["--setenv", key, value]
    args += ["--chdir", "/student", "--"]
    if os.geteuid() == 0:
        uid = str(sandbox_uid())
        args += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all", "--"]
    return args + list(argv)


def python_argv(config_json):
    """The runner's command inside the sandbox: the grader's Python, isolated (-I) and without site (-S)."""
    return [str(Path(sys.executable).resolve()), "-I", "-S", runner_path(True), config_json]


def probe(work):
    """Raise SandboxUnavailable (one line) unless a sandboxed Python can start and import NumPy here."""
    work = Path(work)
    inputs = work / "probe.npz"
    np.savez(inputs, x=np.zeros(1))
    argv = [str(Path(sys.executable).resolve()), "-I", "-S", "-c",
            f"import sys; sys.path.append('{SITE}'); import numpy; "
            "open('/grader/in_sandbox.py').close(); print('ok')"]
    try:
        done = subprocess.run(bwrap_command(work, inputs, argv), capture_output=True, timeout=60,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SandboxUnavailable(f"bwrap cannot start here ({e}): {INSTALL}, "
                                 "and allow user namespaces, or run as root") from None
    finally:
        inputs.unlink(missing_ok=True)
    if done.stdout.strip() != b"ok":
        why = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"])[-1][:200]
        raise SandboxUnavailable(f"a sandboxed Python cannot start or read NumPy and the runner here "
                                 f"({why}): bwrap needs root or unprivileged user namespaces, and the "
                                 "Python, NumPy and code_base files must be world-readable; or pass "
                                 "--no-sandbox")
