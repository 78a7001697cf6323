"""Control groups for one sandboxed call: its whole memory and its task count, where the system lets us.

When the grader may create cgroups (root, with the cgroup v1 `memory` and `pids` hierarchies
mounted, or cgroup v2 with both controllers), each call gets a fresh group below the grader's
own: memory.limit_in_bytes / memory.max bounds all its processes together (its private /tmp
included, tmpfs pages are charged to it) and pids.max its processes and threads. Otherwise
`call_group` yields None and the sandbox falls back to RLIMIT_AS per process and RLIMIT_NPROC
(so memory is bounded by MAX_PROCESSES times the per-process limit); docs/grading.md says which.
"""
import contextlib
import os
import signal
import time
from pathlib import Path

__all__ = ["call_group", "available"]

ROOT = Path("/sys/fs/cgroup")


def _own(controller):
    """This process's cgroup folder of `controller` (v1), or of the unified v2 hierarchy."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            folder = ROOT / controller / path.lstrip("/")
            return folder if folder.is_dir() else None
    unified = next((p for c, p in (line.split(":", 2)[1:] for line in lines) if c == ""), None)
    if unified is not None and (ROOT / "cgroup.controllers").exists():
        return ROOT / unified.lstrip("/")
    return None


def _settings(memory_bytes, max_tasks):
    """[(controller folder of ours, {file: value})] for the group, or None when not possible."""
    memory, pids = _own("memory"), _own("pids")
    if memory is None or pids is None:
        return None
    if memory == pids:  # cgroup v2: one folder, both controllers
        return [(memory, {"memory.max": memory_bytes, "memory.swap.max": 0, "pids.max": max_tasks})]
    return [(memory, {"memory.limit_in_bytes": memory_bytes}), (pids, {"pids.max": max_tasks})]


def _remove(folder):
    procs = folder / "cgroup.procs"
    for _ in range(200):
        try:
            left = [int(p) for p in procs.read_text().split()]
        except OSError:
            return
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            folder.rmdir()
            return
        time.sleep(0.01)


@contextlib.contextmanager
def call_group(memory_bytes, max_tasks):
    """Yield the cgroup.procs files a call's first process must join (write "0"), or None when
    cgroups cannot be made here; on exit, kill whatever is left in them and remove the groups."""
    made = _make(_settings(memory_bytes, max_tasks))
    try:
        yield [f / "cgroup.procs" for f in made] if made else None
    finally:
        for folder in made:
            _remove(folder)


def _make(settings):
    """The group's folders, made and limited ([] when that is not possible here)."""
    name, made = f"grade-class-{os.getpid()}-{time.monotonic_ns()}", []
    try:
        for parent, values in settings or ():
            folder = parent / name
            folder.mkdir()
            made.append(folder)
            for file, value in values.items():
                if (folder / file).exists():
                    (folder / file).write_text(str(value))
    except OSError:
        for folder in made:
            _remove(folder)
        return []
    return made


def available():
    """True when a call's cgroups can be made here."""
    with call_group(64 << 20, 8) as procs:
        return procs is not None
