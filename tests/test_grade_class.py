"""grade-class on a synthetic class, safe extraction, and running a student's code in a child."""
import csv
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from code_base.submission import make_inputs, pack
from code_base.submission.classgrade import grade as classgrade
from code_base.submission.classgrade import (COLUMNS, MISTAKES, UnsafeArchiveError, ZipLimits,
                                             grade_class, make_class, write_project)
from code_base.submission.classgrade.zipsafe import extract_members, safe_members
from code_base.submission.classgrade.run_student import run_function

REPO = Path(__file__).resolve().parents[1]
INPUTS = REPO / "input_files"
TIMEOUT = 3.0  # seconds per function: the hanging student costs two of these

# student ID -> mistake of code_base.submission.MISTAKES, for the code-level hand-ins
CODE_STUDENTS = {f"e{i:07d}m": name for i, name in enumerate(MISTAKES, start=1)}
MISTAKE_ID = {name: sid for sid, name in CODE_STUDENTS.items()}
PACKED = "e0000000p"  # the correct hand-in, built by pack


def evil_zips(folder, good):
    """Archive-level hand-ins, each from the files of the correct zip `good`."""
    with zipfile.ZipFile(good) as z:
        files = [(i.filename, z.read(i)) for i in z.infolist() if not i.is_dir()]

    def write(sid, extra=(), rename=None, raw=None):
        with zipfile.ZipFile(folder / f"{sid}.zip", "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in files:
                z.writestr(name.replace(PACKED, rename or sid, 1), data)
            for info, data in extra:
                z.writestr(info, data)
    write("e0000001s", [(zipfile.ZipInfo("e0000001s/../../escaped.py"), b"print('out')\n")])
    link = zipfile.ZipInfo("e0000002s/code_base/cifar")
    link.create_system, link.external_attr = 3, (stat.S_IFLNK | 0o777) << 16
    write("e0000002s", [(link, b"/etc")])
    bomb = zipfile.ZipInfo("e0000003s/code_base/weights.bin")
    bomb.compress_type = zipfile.ZIP_DEFLATED
    write("e0000003s", [(bomb, bytes(8 << 20))])  # 8 MiB of zeros deflate to 8 KiB
    write("e0000004s", rename="submission")
    (folder / "e0000005s.zip").write_text("this is not a zip\n")
    write("e0000006s", [(zipfile.ZipInfo("e0000006s/code_base/datasets/cifar-10-batches-py/data_batch_1"),
                         b"\0" * 1000)])
    (folder / "e0000006S.zip").write_bytes((folder / "e0000006s.zip").read_bytes())  # same ID twice


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    work = tmp_path_factory.mktemp("class")
    submissions = work / "submissions"
    make_class(submissions, INPUTS, CODE_STUDENTS)
    project = write_project(work / "project", INPUTS, pages=2)
    packed = pack(PACKED, root=project, out=submissions).path
    evil_zips(submissions, packed)
    result = grade_class(submissions, work / "grades.csv", inputs=INPUTS, seed=11, timeout=TIMEOUT)
    with open(work / "grades.csv", newline="") as f:
        rows = {Path(row["file"]).stem: row for row in csv.DictReader(f)}
    return result, rows, submissions


def not_passed(row):
    return {c for c in COLUMNS if not row[c].startswith("pass")}


def test_every_zip_has_a_row(graded):
    result, rows, submissions = graded
    assert [g.file for g in result.grades] == sorted(p.name for p in submissions.glob("*.zip"))
    assert len(rows) == len(result.grades)
    assert list(next(iter(rows.values())))[:2] == ["id", "file"]
    ids = {row["id"] for row in rows.values()}  # e0000006S.zip and e0000006s.zip share one
    assert sorted(p.name for p in (submissions / "feedback").iterdir()) == sorted(f"{i}.txt" for i in ids)


def test_the_correct_hand_in_passes_everything(graded):
    _, rows, _ = graded
    row = rows[PACKED]
    assert not_passed(row) == set() and row["passed"] == str(len(COLUMNS)) and row["report_pages"] == "2"
    assert row["archive"] == "pass (13 files)" and row["report"] == "pass (2 pages)"


OUT, CODE = "outputs:", "code:"
EXPECTED = {  # mistake -> {column: start of the cell}
    "keep-p dropout": {f"{k}dropout_{d}": "fail: dropout_" for k in (OUT, CODE) for d in ("forward", "backward")},
    "per-side padding": {OUT + "conv_forward": "fail: conv_forward_out.csv: found 96 values",
                         OUT + "conv_backward": "fail: conv_backward_out_dx.csv: rel error",
                         CODE + "conv_forward": "fail: wrong shape: conv_forward_out: returned shape (2, 3, 4, 4)",
                         CODE + "conv_backward": "fail: conv_backward_out_dx.csv: rel error"},
    "hard-coded outputs": {CODE + f: "fail: " for f in ("conv_forward", "conv_backward", "max_pool_forward",
                                                        "max_pool_backward", "dropout_forward", "dropout_backward")},
    "never returns": {CODE + f: f"error: timed out: did not return within {TIMEOUT:g} s"
                      for f in ("conv_forward", "conv_backward")},
    "import fails": {c: "error: import failed: ModuleNotFoundError: No module named 'code_base.im2col_cython' "
                        "(code_base/layers.py:4)" for c in COLUMNS if c.startswith(CODE)},
    "python 2 print": {c: "error: import failed: SyntaxError: Missing parentheses in call to 'print'"
                       for c in COLUMNS if c.startswith(CODE)},
    "2017 leftovers": {},
    "every tied maximum": {CODE + "max_pool_backward": "fail: maxpool_backward_out.csv"},
    "xrange": {CODE + "max_pool_backward": "error: raised: NameError: name 'xrange' is not defined "
                                           "(code_base/layers.py:"},
    "float shapes": {CODE + f: "error: raised: TypeError: 'float' object cannot be interpreted as an integer"
                     for f in ("max_pool_forward", "max_pool_backward")},
    "missing function": {OUT + "dropout_backward": "fail: dropout_backward_out_train.csv: missing",
                         CODE + "dropout_backward": "error: missing: code_base.layers has no dropout_backward"},
    "extra files": {},
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_each_mistake_fails_its_own_checks(graded, mistake):
    _, rows, _ = graded
    row = rows[MISTAKE_ID[mistake]]
    expected = EXPECTED[mistake]
    assert not_passed(row) == set(expected), {c: row[c] for c in not_passed(row)}
    for column, start in expected.items():
        assert row[column].startswith(start), (column, row[column])
    assert row["passed"] == str(len(COLUMNS) - len(expected))


def test_prints_extras_and_leftovers_are_reported(graded):
    _, rows, submissions = graded
    leftovers = rows[MISTAKE_ID["2017 leftovers"]]
    assert leftovers["code:conv_backward"] == "pass (printed 1 line)"
    feedback = (submissions / "feedback" / f"{MISTAKE_ID['2017 leftovers']}.txt").read_text()
    assert "- conv_backward printed to stdout: 'dw (2, 3, 3, 3)'" in feedback
    extra = rows[MISTAKE_ID["extra files"]]
    assert extra["layout"] == ("pass (extra: assignment2.ipynb, output_files/conv_forward_out (1).csv, "
                               "output_files/notes.txt)")


ARCHIVES = {
    "e0000001s": "error: refused, nothing extracted: member 'e0000001s/../../escaped.py' climbs out",
    "e0000002s": "error: refused, nothing extracted: member 'e0000002s/code_base/cifar' is a symbolic link",
    "e0000003s": "error: refused, nothing extracted: member 'e0000003s/code_base/weights.bin' inflates",
    "e0000004s": "error: wrong top folder: found submission/, expected e0000004s/",
    "e0000005s": "error: not a readable zip file (File is not a zip file)",
}


@pytest.mark.parametrize("sid", list(ARCHIVES))
def test_unsafe_or_unreadable_archives_get_a_row_that_says_so(graded, sid):
    _, rows, _ = graded
    row = rows[sid]
    assert row["archive"].startswith(ARCHIVES[sid]), row["archive"]
    assert {row[c] for c in COLUMNS[1:]} == {"error: not graded"}
    assert row["passed"] == "0" and row["report_pages"] == ""


def test_cifar_data_is_left_in_the_zip_and_named(graded):
    _, rows, submissions = graded
    assert not_passed(rows["e0000006S"]) == set()  # sorted first, so graded; its twin is not
    feedback = (submissions / "feedback" / "e0000006s.txt").read_text()
    assert feedback.startswith("Feedback for e0000006s (e0000006S.zip): 15 of 15 checks passed.")
    assert ("- CIFAR data (the assignment says not to hand it in), not extracted: "
            "e0000006s/code_base/datasets/cifar-10-batches-py/data_batch_1") in feedback
    assert rows["e0000006s"]["archive"] == "error: same ID as e0000006S.zip"


def test_a_grader_failure_stops_only_that_student(tmp_path, monkeypatch):
    zips = make_class(tmp_path / "subs", INPUTS, {"e1": None, "e2": None})
    calls = []

    def broken_on_first(root, g):
        calls.append(root.name)
        if len(calls) == 1:
            raise RuntimeError("boom")
        g.cells["report"] = classgrade.Cell("pass", "stubbed")

    monkeypatch.setattr(classgrade, "_check_report", broken_on_first)
    monkeypatch.setattr(classgrade, "run_code", lambda *a, **k: {})  # code runs are tested elsewhere
    result = grade_class(tmp_path / "subs", tmp_path / "g.csv", inputs=INPUTS, seed=1)
    first, second = result.grades
    assert [g.file for g in result.grades] == [z.name for z in zips]
    assert str(first.cell("report")) == "error: grader error (logged)"
    assert str(first.cell("archive")) == "pass (13 files)" and str(first.cell("layout")) == "pass"
    assert not any("boom" in n for n in first.notes)  # the details are the instructor's
    assert "RuntimeError: boom" in (tmp_path / "g.log").read_text()
    assert str(second.cell("report")) == "pass (stubbed)" and str(second.cell("outputs:conv_forward")) == "pass"


# ---------------------------------------------------------------- safe extraction

def zip_with(path, *members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as z:
        for info, data in members:
            info.compress_type = compression
            z.writestr(info, data)
    return path


def unix(name, kind, mode=0o644):
    info = zipfile.ZipInfo(name)
    info.create_system, info.external_attr = 3, (kind | mode) << 16
    return info


@pytest.mark.parametrize("member, message", [
    (zipfile.ZipInfo("/etc/cron.d/x"), "has an absolute path"),
    (zipfile.ZipInfo("C:/Windows/x"), "has an absolute path"),
    (zipfile.ZipInfo("e01\\..\\..\\x.py"), "climbs out of the folder"),
    (unix("e01/dev", stat.S_IFCHR), "is a character device"),
    (unix("e01/fifo", stat.S_IFIFO), "is a FIFO"),
    (unix("e01/link", stat.S_IFLNK, 0o777), "is a symbolic link"),
])
def test_unsafe_members_are_refused(tmp_path, member, message):
    with zipfile.ZipFile(zip_with(tmp_path / "a.zip", (member, b"x"))) as z:
        with pytest.raises(UnsafeArchiveError, match=message):
            safe_members(z)


def test_encrypted_duplicated_and_bzip2_members_are_refused(tmp_path):
    secret = zip_with(tmp_path / "secret.zip", (zipfile.ZipInfo("e01/a.py"), b"x"))
    data = bytearray(secret.read_bytes())
    data[data.index(b"PK\x01\x02") + 8] |= 0x1  # the central directory's "encrypted" flag bit
    secret.write_bytes(bytes(data))
    twice = zip_with(tmp_path / "twice.zip", (zipfile.ZipInfo("e01/a.py"), b"1"),
                     (zipfile.ZipInfo("e01/./a.py"), b"2"))
    for path, message in [(secret, "is encrypted"), (twice, "appears twice")]:
        with zipfile.ZipFile(path) as z:
            with pytest.raises(UnsafeArchiveError, match=message):
                safe_members(z)
    with zipfile.ZipFile(zip_with(tmp_path / "b.zip", (zipfile.ZipInfo("e01/a.py"), b"x"),
                                  compression=zipfile.ZIP_BZIP2)) as z:
        with pytest.raises(UnsafeArchiveError, match="compression method 12"):
            safe_members(z)


def test_bombs_are_refused_before_anything_is_inflated(tmp_path, monkeypatch):
    bomb = zip_with(tmp_path / "bomb.zip", (zipfile.ZipInfo("e01/zeros"), bytes(4 << 20)),
                    compression=zipfile.ZIP_DEFLATED)
    many = zip_with(tmp_path / "many.zip", *[(zipfile.ZipInfo(f"e01/{i}"), b"") for i in range(30)])
    big = zip_with(tmp_path / "big.zip", *[(zipfile.ZipInfo(f"e01/{i}"), bytes(600)) for i in range(3)])

    def no_inflating(*args, **kwargs):
        raise AssertionError("a member was opened")
    monkeypatch.setattr(zipfile.ZipFile, "open", no_inflating)
    limits = ZipLimits(max_members=20, max_bytes=1000)
    for path, message in [(bomb, r"inflates \d+-fold to 4\.0 MiB \(limit 100-fold\): a zip bomb"),
                          (many, "30 members, more than the limit of 20"),
                          (big, r"0\.0 MiB to extract, more than the limit of 0 MiB")]:
        with zipfile.ZipFile(path) as z, pytest.raises(UnsafeArchiveError, match=message):
            extract_members(z, safe_members(z, limits), tmp_path / "out", limits)
    assert not (tmp_path / "out").exists()


def test_extraction_writes_plain_files_below_the_folder(tmp_path):
    exe = unix("e01\\code_base\\run.sh", stat.S_IFREG, 0o4755)  # setuid in the zip, backslashes
    path = zip_with(tmp_path / "a.zip", (exe, b"#!/bin/sh\n"), (zipfile.ZipInfo("e01/report.pdf"), b"%PDF"))
    with zipfile.ZipFile(path) as z:
        files = extract_members(z, safe_members(z), tmp_path / "out")
    assert files == ["e01/code_base/run.sh", "e01/report.pdf"]
    assert stat.S_IMODE((tmp_path / "out/e01/code_base/run.sh").stat().st_mode) == 0o644


# ---------------------------------------------------------------- the student's process

@pytest.fixture(scope="module")
def inputs_npz(tmp_path_factory):
    path = tmp_path_factory.mktemp("inputs") / "inputs.npz"
    np.savez(path, **make_inputs(3))
    return path


def student(tmp_path, layers):
    (tmp_path / "s" / "code_base").mkdir(parents=True)
    (tmp_path / "s" / "code_base" / "__init__.py").write_text("")
    (tmp_path / "s" / "code_base" / "layers.py").write_text(layers)
    return tmp_path / "s"


def test_the_child_imports_the_students_code_base_only(tmp_path, inputs_npz):
    root = student(tmp_path, "import numpy as np\ndef conv_forward(x, w, b, p):\n"
                             "    return np.zeros((2, 3, 3, 3)), None\n")
    run = run_function(root, "conv_forward", inputs_npz, tmp_path / "w1")
    assert run.status == "ok" and run.module == "code_base/layers.py"
    assert run.arrays["conv_forward_out"].shape == (2, 3, 3, 3)
    empty = tmp_path / "empty"
    empty.mkdir()  # no code_base: this repository's must not be found instead
    run = run_function(empty, "conv_forward", inputs_npz, tmp_path / "w2")
    assert (run.status, run.message) == ("import", "ModuleNotFoundError: No module named 'code_base'")


def test_the_child_sees_none_of_the_graders_environment(tmp_path, inputs_npz, monkeypatch):
    monkeypatch.setenv("GRADER_TOKEN", "secret")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    root = student(tmp_path, "import os\ndef conv_forward(x, w, b, p):\n"
                             "    raise RuntimeError(os.environ.get('GRADER_TOKEN', 'no token') + ', '\n"
                             "                       + os.environ.get('PYTHONPATH', 'no PYTHONPATH'))\n")
    run = run_function(root, "conv_forward", inputs_npz, tmp_path / "w")
    assert run.message == "RuntimeError: no token, no PYTHONPATH (code_base/layers.py:3)"


def test_memory_limit_and_stray_output(tmp_path, inputs_npz):
    root = student(tmp_path, "import os\nimport numpy as np\n"
                             "def conv_forward(x, w, b, p):\n    return np.ones((1 << 28,)), None\n"
                             "def max_pool_forward(x, p):\n    os.write(1, b'raw\\n')\n"
                             "    return x[:, :, ::2, ::2], None\n")
    run = run_function(root, "conv_forward", inputs_npz, tmp_path / "w1", memory_mb=512)
    assert (run.status, run.message) == ("raised", "MemoryError: Unable to allocate 2.00 GiB for an array "
                                                   "with shape (268435456,) and data type float64 "
                                                   "(code_base/layers.py:4)")
    run = run_function(root, "max_pool_forward", inputs_npz, tmp_path / "w2")
    assert (run.status, run.printed, run.printed_lines) == ("ok", "raw", 1)


def test_a_process_left_behind_is_killed(tmp_path, inputs_npz):
    root = student(tmp_path, "import subprocess, sys\ndef conv_forward(x, w, b, p):\n"
                             "    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
                             "    open('pid', 'w').write(str(child.pid))\n    raise SystemExit(0)\n")
    run = run_function(root, "conv_forward", inputs_npz, tmp_path / "w", sandboxed=False)
    assert run.status == "raised" and run.message.startswith("SystemExit")
    pid = int((root / "pid").read_text())
    for _ in range(200):  # SIGKILL was sent; wait (at most 2 s) until it has been delivered
        try:
            if Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z":
                break  # dead, waiting for its new parent to reap it
        except FileNotFoundError:
            break
        time.sleep(0.01)
    else:
        pytest.fail(f"process {pid}, started by the student's code, is still running")


# ---------------------------------------------------------------- the command line

def test_grade_class_cli(tmp_path):
    make_class(tmp_path / "subs", INPUTS, {"e0000001a": None})
    (tmp_path / "subs" / "e0000002b.zip").write_text("no zip")
    result = subprocess.run([sys.executable, "-m", "code_base.submission", "grade-class", "--submissions",
                             tmp_path / "subs", "--out", tmp_path / "grades.csv", "--timeout", "20"],
                            capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["e0000001a    15/15", "e0000002b     0/15"]
    assert any(ln.startswith("e0000002b    archive") and "not a readable zip file" in ln for ln in lines)
    assert "2 submissions graded in" in result.stdout and "1 passed every check" in result.stdout
    assert (tmp_path / "grades.csv").read_text().count("\n") == 3
    bad = subprocess.run([sys.executable, "-m", "code_base.submission", "grade-class", "--submissions",
                          tmp_path / "nowhere", "--out", tmp_path / "g.csv"],
                         capture_output=True, text=True, cwd=REPO, timeout=60)
    assert bad.returncode == 2 and bad.stderr == f"error: {tmp_path / 'nowhere'}: folder not found\n"


def test_a_failing_function_gets_the_checks_hint(graded):
    _, _, submissions = graded
    text = (submissions / "feedback" / f"{MISTAKE_ID['every tied maximum']}.txt").read_text()
    assert "- hint for max_pool_backward: on a tie only the FIRST maximum (row-major) gets the gradient" in text
    text = (submissions / "feedback" / f"{MISTAKE_ID['keep-p dropout']}.txt").read_text()
    assert "- hint for dropout_forward: p is the probability of DROPPING a unit" in text
