"""The audit's adversarial class (issue 20), graded inside the bubblewrap sandbox.

Each hostile layers.py runs through run_function (one sandboxed call, ~0.2 s) or, where it is
about one student spoiling another or the gradebook, through grade-class itself.
"""
import csv
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from code_base.submission.classgrade import cgroups, grade_class, write_project, zip_project
from code_base.submission.classgrade.fresh import fresh_inputs
from code_base.submission.classgrade.mistakes import layers_source
from code_base.submission.classgrade.run_student import RESULT_LIMIT, run_function

REPO = Path(__file__).resolve().parents[1]
INPUTS = REPO / "input_files"
CORRECT = layers_source()


@pytest.fixture(scope="module")
def inputs_npz(tmp_path_factory):
    path = tmp_path_factory.mktemp("inputs") / "inputs.npz"
    np.savez(path, **fresh_inputs(5))
    path.chmod(0o444)
    return path


def student(tmp_path, body, name="s"):
    root = tmp_path / name
    (root / "code_base").mkdir(parents=True)
    (root / "code_base" / "__init__.py").write_text("")
    (root / "code_base" / "layers.py").write_text(CORRECT + "\n\n" + body)
    return root


def call(tmp_path, body, inputs, timeout=5.0):
    """The CodeRun of conv_forward of a student whose layers.py is the correct one + `body`."""
    return run_function(student(tmp_path, body), "conv_forward", inputs, tmp_path / "work", timeout)


def raises(expr):
    """A conv_forward whose message is the repr of `expr`, evaluated inside the sandbox."""
    return ("import os, sys, socket, subprocess\n"
            f"def conv_forward(x, w, b, p):\n    raise RuntimeError(repr({expr}))\n")


def test_the_sandbox_holds_numpy_alone_and_no_grader(tmp_path, inputs_npz, monkeypatch):
    monkeypatch.setenv("GRADER_TOKEN", "secret")
    expr = ("'|'.join(map(str, (sorted(os.listdir('/site'))[0], os.path.exists(%r), os.listdir('/tmp'), "
            "','.join(sorted(os.environ)), os.getuid() != 0)))" % str(REPO))
    run = call(tmp_path, raises(expr), inputs=inputs_npz)
    assert run.message.startswith("RuntimeError: 'numpy|False|[]|HOME,LANG,MKL_NUM_THREADS,OMP_NUM_THREADS,"
                                  f"OPENBLAS_NUM_THREADS,PATH,PWD,TMPDIR|{os.geteuid() == 0}' "), run
    assert "secret" not in run.message


def test_importing_the_graders_package_is_impossible(tmp_path, inputs_npz):
    body = (f"import sys\nsys.path[:0] = [{str(REPO)!r}, {str(REPO.parent / 'main')!r}]\n"
            "import code_base.submission.compute as grader\n"
            "def conv_forward(x, w, b, p):\n    return grader.conv_forward_outputs(x, w, b), None\n")
    run = call(tmp_path, body, inputs=inputs_npz)
    assert run.status == "import" and run.message.startswith(
        "ModuleNotFoundError: No module named 'code_base.submission' (code_base/layers.py:")


def test_functions_from_elsewhere_are_not_the_students(tmp_path, inputs_npz):
    run = call(tmp_path, "from importlib import import_module as conv_forward\n", inputs=inputs_npz)
    assert (run.status, run.message) == ("foreign", "conv_forward not defined in the submission's own files")


def test_no_network_no_writing_and_paths_relative(tmp_path, inputs_npz):
    body = ("import socket\ndef conv_forward(x, w, b, p):\n"
            "    try:\n        socket.create_connection(('1.1.1.1', 53), timeout=2)\n"
            "    except OSError as e:\n        net = type(e).__name__\n"
            "    try:\n        open('/io/inputs.npz', 'wb')\n    except OSError as e:\n        rw = e.strerror\n"
            "    try:\n        open(__file__, 'a')\n    except OSError as e:\n        own = e.strerror\n"
            "    raise RuntimeError(net + '|' + rw + '|' + own + '|' + __file__)\n")
    run = call(tmp_path, body, inputs=inputs_npz)
    assert run.message.startswith("RuntimeError: OSError|Read-only file system|")
    assert run.message.split("|")[2] in ("Read-only file system", "Permission denied")
    assert run.message.split("|")[3].startswith("code_base/layers.py (code_base/layers.py:")


def test_a_huge_or_crafted_result_is_refused_without_reading_it(tmp_path, inputs_npz):
    flood = ("import os, stat, struct\ndef conv_forward(x, w, b, p):\n"
             "    for fd in range(3, 64):\n"
             "        try:\n            if stat.S_ISFIFO(os.fstat(fd).st_mode):\n"
             "                os.write(fd, b'CGR1' + struct.pack('>II', 2, 1 << 30) + b'{}')\n"
             "                for _ in range(64):\n                    os.write(fd, bytes(1 << 20))\n"
             "        except OSError:\n            pass\n    os._exit(0)\n")
    start = time.monotonic()
    run = call(tmp_path, flood, inputs=inputs_npz)
    assert (run.status, run.message) == ("result", f"a result over {RESULT_LIMIT >> 20} MiB, not read")
    assert time.monotonic() - start < 5
    crafted = ("import os, stat, struct\ndef conv_forward(x, w, b, p):\n"
               "    head = b'{\"verdict\": {\"status\": \"ok\"}, \"arrays\": [[\"conv_forward_out\", [100000, 100000]]]}'\n"
               "    for fd in range(3, 64):\n"
               "        try:\n            if stat.S_ISFIFO(os.fstat(fd).st_mode):\n"
               "                os.write(fd, b'CGR1' + struct.pack('>II', len(head), 8) + head + bytes(8))\n"
               "        except OSError:\n            pass\n    os._exit(0)\n")
    run = call(tmp_path / "c", crafted, inputs=inputs_npz)
    assert (run.status, run.message) == ("result", "unreadable result: a result holding other arrays "
                                                   "than the function's outputs")


def test_a_stub_is_not_implemented_apart_from_errors(tmp_path, inputs_npz):
    body = ("def conv_forward(x, w, b, conv_param):\n    raise NotImplementedError(\n"
            "        'conv_forward is yours to write: see the TODO in code_base/layers.py')\n")
    run = call(tmp_path, body, inputs_npz)
    assert (run.status, run.message.split(" (")[0]) == (
        "todo", "NotImplementedError: conv_forward is yours to write: see the TODO in code_base/layers.py")


def test_a_setsid_double_fork_dies_with_the_timeout(tmp_path, inputs_npz):
    marker = f"grade-class-orphan-{os.getpid()}"
    body = ("import os, subprocess, sys, time\ndef conv_forward(x, w, b, p):\n"
            "    subprocess.Popen([sys.executable, '-c', 'import os, time\\nif os.fork() == 0:\\n    os.setsid()\\n"
            f"    time.sleep(60)', '{marker}'], start_new_session=True)\n    time.sleep(60)\n")
    run = call(tmp_path, body, inputs=inputs_npz, timeout=1.5)
    assert (run.status, run.message) == ("timeout", "did not return within 1.5 s")
    time.sleep(0.2)
    alive = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline_has(p, marker)]
    assert alive == []


def _cmdline_has(proc, marker):
    try:
        return marker.encode() in (proc / "cmdline").read_bytes()
    except OSError:
        return False


@pytest.mark.parametrize("body, status, start", [
    ("import threading, time\n_conv = conv_forward\ndef conv_forward(x, w, b, p):\n"
     "    threading.Thread(target=time.sleep, args=(60,)).start()\n    return _conv(x, w, b, p)\n",
     "ok", ""),
    ("import os, time\ndef conv_forward(x, w, b, p):\n    for _ in range(200):\n"
     "        if os.fork() == 0:\n            time.sleep(30)\n            os._exit(0)\n",
     "raised", "BlockingIOError: [Errno 11] Resource temporarily unavailable"),
    ("def conv_forward(x, w, b, p):\n    for i in range(40):\n"
     "        with open(f'/tmp/fill{i}', 'wb') as f:\n            f.write(bytes(4 << 20))\n",
     "raised", "OSError: [Errno 28] No space left on device"),
])
def test_threads_processes_and_disk_are_bounded(tmp_path, inputs_npz, body, status, start):
    begin = time.monotonic()
    run = call(tmp_path, body, inputs=inputs_npz, timeout=10)
    assert run.status == status and run.message.startswith(start), run
    assert time.monotonic() - begin < 8  # a returned function is not held up by its threads


def test_memory_is_bounded_for_the_whole_call(tmp_path, inputs_npz):
    """Three forked children of 200 MB each under --memory-mb 300: with cgroups (root here and in
    CI) the call's total is bounded and two are killed; without, each process is bounded alone."""
    body = ("import os, time\nimport numpy as np\ndef conv_forward(x, w, b, p):\n    kids = []\n"
            "    for _ in range(3):\n        pid = os.fork()\n        if pid == 0:\n"
            "            a = np.ones(25_000_000)\n            time.sleep(1)\n            os._exit(0)\n"
            "        kids.append(pid)\n    raise RuntimeError(sorted(os.waitpid(k, 0)[1] for k in kids))\n")
    run = run_function(student(tmp_path, body), "conv_forward", inputs_npz, tmp_path / "w", 10, 300)
    whole_call = cgroups.available()
    assert run.message.startswith("RuntimeError: [0, 9, 9]" if whole_call else "RuntimeError: [0, 0, 0]"), run


# ---------------------------------------------------------------- the class, the gradebook

def hand_in(folder, sid, body=None, extra=()):
    project = write_project(folder / "projects" / sid, INPUTS)
    if body is not None:
        (project / "code_base" / "layers.py").write_text(CORRECT + "\n\n" + body)
    path = zip_project(project, sid, folder)
    with zipfile.ZipFile(path, "a") as z:
        for name, data in extra:
            z.writestr(f"{sid}/{name}", data)
    return path


def test_no_student_changes_anothers_inputs_and_odd_names_are_listed(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    rewrite = ("import glob\ndef conv_forward(x, w, b, p):\n"
               "    for path in glob.glob('/io/*') + glob.glob('/student/**', recursive=True) + glob.glob('/../*/*'):\n"
               "        try:\n            open(path, 'wb').write(b'spoiled')\n        except OSError:\n"
               "            pass\n    raise RuntimeError('tried')\n")
    hand_in(subs, "e1", rewrite)
    hand_in(subs, "e2", extra=[("x" * 303 + ".py", b""), ("code_base/RELEASE.json", b'{"release": "r1"}'),
                               ("code_base/layers.py/inner.py", b""),
                               ("notes\x1b[31m\n.txt", b"")])
    result = grade_class(subs, tmp_path / "grades.csv", inputs=INPUTS, seed=3, timeout=10)
    first, second = result.grades
    assert str(first.cell("code:conv_forward")) == "error: raised: RuntimeError: tried (code_base/layers.py:" \
        + str(first.cell("code:conv_forward")).rsplit(":", 1)[1]
    assert second.passed == 15, {c: str(second.cell(c)) for c in second.cells}
    text = (subs / "feedback" / "e2.txt").read_text()
    assert "not extracted (a name this system cannot hold): code_base/layers.py/inner.py, xxx" in text
    assert "notes\\x1b[31m\\n.txt" in text and "\x1b" not in text
    rows = list(csv.DictReader(open(tmp_path / "grades.csv", newline="")))
    assert [r["id"] for r in rows] == ["e1", "e2"] and rows[1]["passed"] == "15"
    assert [r["release"] for r in rows] == ["", "r1"]
    assert rows[1]["sandbox"] == ("bwrap, cgroups" if cgroups.available() else "bwrap, per-process limits")
    assert str(tmp_path) not in (tmp_path / "grades.csv").read_text() + text


def _cli(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "code_base.submission", "grade-class", *map(str, args)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _interrupt(proc, signum, out, rows):
    """Send `signum` once `out` holds `rows` rows and e2's endless call has started."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out.exists() and out.read_text().count("\n") == rows + 1):
        time.sleep(0.1)
    time.sleep(1.5)  # e2's conv_forward is asleep in its sandbox now
    proc.send_signal(signum)
    return proc.communicate(timeout=30)[1]


def test_ctrl_c_and_sigterm_keep_finished_rows_and_resume_continues(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    hand_in(subs, "e1")
    hand_in(subs, "e2", "import time\ndef conv_forward(x, w, b, p):\n    time.sleep(60)\n")
    hand_in(subs, "e3")
    out, tmp = tmp_path / "grades.csv", tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    args = ("--submissions", subs, "--out", out, "--inputs", INPUTS)
    proc = _cli(*args, "--seed", 4, "--timeout", 30, env=env)
    stderr = _interrupt(proc, signal.SIGINT, out, 1)
    assert proc.returncode == 130 and stderr.count("\n") == 1 and "--resume" in stderr, stderr
    proc = _cli(*args, "--timeout", 30, "--resume", env=env)
    stderr = _interrupt(proc, signal.SIGTERM, out, 1)
    assert proc.returncode == 143 and stderr.count("\n") == 1 and "--resume" in stderr, stderr
    assert [r["id"] for r in csv.DictReader(open(out, newline=""))] == ["e1"]
    assert list(tmp.iterdir()) == []  # no temporary folder left, nor a process holding one
    again = _cli(*args, "--timeout", 2, "--resume", env=env)
    stdout, stderr = again.communicate(timeout=120)
    assert again.returncode == 0, stderr
    rows = list(csv.DictReader(open(out, newline="")))
    assert [r["id"] for r in rows] == ["e1", "e2", "e3"] and {r["seed"] for r in rows} == {"4"}
    assert rows[1]["code:conv_forward"] == "error: timed out: did not return within 2 s"
    other = _cli(*args, "--seed", 5, "--resume")
    assert other.communicate(timeout=60)[1].count("\n") == 1 and other.returncode == 2


@pytest.mark.parametrize("args, message", [
    (["--out", "{tmp}"], "is a folder"),
    (["--out", "/proc/grades.csv"], "cannot write in /proc"),
    (["--out", "{tmp}/g.csv", "--feedback", "{tmp}/file"], "is a file, not a folder"),
    (["--out", "{tmp}/g.csv", "--memory-mb", "17592186044416"], "more than the limit of 16384"),
    (["--out", "{tmp}/g.csv", "--timeout", "1e9"], "timeout"),
])
def test_bad_options_stop_before_the_first_student(tmp_path, args, message):
    (tmp_path / "file").write_text("")
    (tmp_path / "e1.zip").write_text("not a zip")
    proc = _cli("--submissions", tmp_path, *[a.format(tmp=tmp_path) for a in args])
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2 and stderr.count("\n") == 1 and message in stderr, stderr
    assert not (tmp_path / "g.csv").exists()


def test_without_bwrap_grade_class_stops_unless_no_sandbox(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    hand_in(subs, "e1")
    env = {**os.environ, "PATH": str(tmp_path)}  # no bwrap on it
    proc = _cli("--submissions", subs, "--out", tmp_path / "g.csv", "--inputs", INPUTS, env=env)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2 and stderr == (
        "error: grade-class runs each student in a sandbox and bwrap is missing: install bubblewrap: "
        "`apt-get install bubblewrap` (or `sudo make sandbox-deps`)\n")
    assert not (tmp_path / "g.csv").exists()
    proc = _cli("--submissions", subs, "--out", tmp_path / "g.csv", "--inputs", INPUTS, "--no-sandbox", env=env)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    rows = list(csv.DictReader(open(tmp_path / "g.csv", newline="")))
    assert [(r["passed"], r["sandbox"]) for r in rows] == [("15", "NONE (--no-sandbox)")]
    assert "graded without a sandbox (--no-sandbox)" in (subs / "feedback" / "e1.txt").read_text()
