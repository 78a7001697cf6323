"""The hand-in's rules and `pack`: IDs, page counts of real PDFs, CIFAR data, the reproducible zip."""
import errno
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from code_base.submission import (OUTPUT_SHAPES, PackError, SubmissionError, count_pages, file_name,
                                  pack, student_id)
from code_base.submission.classgrade import report_pdf, write_project
from code_base.submission.handin import holds_images, is_cifar_name, is_junk
from code_base.submission.packer import find_root

REPO = Path(__file__).resolve().parents[1]
INPUTS = REPO / "input_files"


def cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "code_base.submission", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


# ---------------------------------------------------------------- IDs and names

@pytest.mark.parametrize("given, expected", [("e0123456g", "e0123456g"), ("E0123456G", "e0123456g"),
                                             (" A0123456X ", "a0123456x"), ("7", "7")])
def test_student_ids_are_letters_and_digits_in_lower_case(given, expected):
    assert student_id(given) == expected


@pytest.mark.parametrize("bad", ["", "e0123456g.zip", "../e01", "e 01", "e01-2", "é0123", "a" * 33])
def test_bad_student_ids_are_refused_in_one_line(bad):
    with pytest.raises(SubmissionError, match=r"^student ID .*: use 1 to 32 letters and digits only"):
        student_id(bad)


@pytest.mark.parametrize("path, cifar", [
    ("code_base/datasets/cifar-10-batches-py/data_batch_1", True), ("x/test_batch", True),
    ("x/batches.meta", True), ("CIFAR-10-python.tar.gz", True), ("x/Data_Batch_5", True),
    ("code_base/data_utils.py", False), ("code_base/layers.py", False)])
def test_cifar_names(path, cifar):
    assert is_cifar_name(path) is cifar


@pytest.mark.parametrize("path, junk", [
    ("code_base/__pycache__/layers.cpython-311.pyc", True), ("a/layers.pyc", True),
    ("__MACOSX/e01/._report.pdf", True), ("e01/.DS_Store", True), ("e01/.git/config", True),
    ("e01/code_base/__pycache__", True), ("e01/code_base/layers.py", False), ("e01/report.pdf", False)])
def test_junk_names(path, junk):
    assert is_junk(path) is junk


def test_image_shaped_arrays_are_found_from_their_headers(tmp_path):
    np.save(tmp_path / "images.npy", np.zeros((4, 3, 32, 32), np.uint8))
    np.save(tmp_path / "hwc.npy", np.zeros((2, 32, 32, 3), np.float32))
    np.save(tmp_path / "weights.npy", np.zeros((3072, 100)))  # an affine layer's W: not images
    np.savez(tmp_path / "rows.npz", X=np.zeros((5, 3072)), y=np.zeros(5))
    np.savez_compressed(tmp_path / "params.npz", W1=np.zeros((32, 3, 7, 7)), b1=np.zeros(32))
    (tmp_path / "broken.npy").write_bytes(b"not an array")
    found = {name: holds_images(tmp_path / name) for name in
             ("images.npy", "hwc.npy", "weights.npy", "rows.npz", "params.npz", "broken.npy")}
    assert found == {"images.npy": True, "hwc.npy": True, "weights.npy": False, "rows.npz": True,
                     "params.npz": False, "broken.npy": True}


# ---------------------------------------------------------------- page counts of real PDFs

def matplotlib_pdf(path, pages):
    with PdfPages(path) as pdf:
        for i in range(pages):
            fig = Figure(figsize=(8.27, 11.69))
            fig.text(0.1, 0.9, f"Report page {i + 1}: $H' = 1 + (H + p - HH)/s$")
            pdf.savefig(fig)
    return path


def xref_stream_pdf(path, pages):
    """A PDF 1.5 whose objects sit in a compressed object stream, indexed by an xref stream (as
    xelatex writes them), so no plain-text '/Type /Page' is there to count."""
    kids = " ".join(f"{3 + i} 0 R" for i in range(pages))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode()]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"] * pages
    offsets, body = [], b""
    for number, obj in enumerate(objects, start=1):
        offsets.append(f"{number} {len(body)}".encode())
        body += obj + b"\n"
    head = b" ".join(offsets) + b"\n"
    stream = zlib.compress(head + body)
    n = len(objects)
    out = b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n"
    objstm_at = len(out)
    out += (f"{n + 1} 0 obj\n<< /Type /ObjStm /N {n} /First {len(head)} /Filter /FlateDecode "
            f"/Length {len(stream)} >>\nstream\n").encode() + stream + b"\nendstream\nendobj\n"
    xref_at = len(out)
    rows = [b"\x00\x00\x00\xff\xff"] + [bytes([2]) + (n + 1).to_bytes(2, "big") + i.to_bytes(2, "big")
                                         for i in range(n)]
    rows += [bytes([1]) + objstm_at.to_bytes(2, "big") + b"\x00\x00",
             bytes([1]) + xref_at.to_bytes(2, "big") + b"\x00\x00"]
    table = zlib.compress(b"".join(rows))
    out += (f"{n + 2} 0 obj\n<< /Type /XRef /Size {n + 3} /W [1 2 2] /Root 1 0 R /Filter /FlateDecode "
            f"/Length {len(table)} >>\nstream\n").encode() + table + b"\nendstream\nendobj\n"
    out += f"startxref\n{xref_at}\n%%EOF\n".encode()
    path.write_bytes(out)
    return path


@pytest.mark.parametrize("pages", [1, 2, 3])
def test_count_pages_of_pdfs_from_three_writers(tmp_path, pages):
    (tmp_path / "pypdf.pdf").write_bytes(report_pdf(pages))
    counted = {name: count_pages(path) for name, path in [
        ("matplotlib", matplotlib_pdf(tmp_path / "mpl.pdf", pages)),
        ("object streams", xref_stream_pdf(tmp_path / "xref.pdf", pages)),
        ("pypdf", tmp_path / "pypdf.pdf")]}
    assert counted == {"matplotlib": pages, "object streams": pages, "pypdf": pages}
    assert b"/Type /Page " not in (tmp_path / "xref.pdf").read_bytes()


@pytest.mark.parametrize("content, message", [
    (b"Dear instructor, my report is in report.docx", "not a PDF (no %PDF- header)"),
    (b"PK\x03\x04" + bytes(100), "not a PDF (no %PDF- header)"),
    (b"%PDF-1.4\n1 0 obj garbage garbage\n", "not a readable PDF"),
    (b"", "not a PDF (no %PDF- header)")])
def test_count_pages_refuses_what_is_not_a_pdf(tmp_path, content, message):
    path = tmp_path / "report.pdf"
    path.write_bytes(content)
    with pytest.raises(SubmissionError, match=r"report\.pdf: " + re.escape(message)):
        count_pages(path)
    with pytest.raises(SubmissionError, match="file not found"):
        count_pages(tmp_path / "absent.pdf")


# ---------------------------------------------------------------- pack

@pytest.fixture
def project(tmp_path):
    """A student's project folder with a correct code_base, outputs and a 2-page report."""
    return write_project(tmp_path / "project", INPUTS, pages=2)


def test_pack_holds_exactly_the_hand_in(project, tmp_path):
    (project / "code_base" / "__pycache__").mkdir()
    (project / "code_base" / "__pycache__" / "layers.cpython-311.pyc").write_bytes(b"\0")
    (project / "code_base" / "layers.pyc").write_bytes(b"\0")
    (project / "output_files" / "notes.txt").write_text("scratch\n")
    (project / "runs").mkdir()  # beside code_base: not handed in
    out = tmp_path / "out"
    out.mkdir()
    result = pack("E0123456G", root=project, out=out)
    assert result.path == out / "e0123456g.zip" and result.pages == 2
    with zipfile.ZipFile(result.path) as z:
        names = z.namelist()
        infos = z.infolist()
    files = {"e0123456g/code_base/__init__.py", "e0123456g/code_base/layers.py", "e0123456g/report.pdf"}
    files |= {f"e0123456g/output_files/{file_name(n)}" for n in OUTPUT_SHAPES}
    folders = {"e0123456g/", "e0123456g/code_base/", "e0123456g/output_files/"}
    assert set(names) == files | folders and names == sorted(names, key=lambda n: n.rstrip("/"))
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {stat.S_IMODE(i.external_attr >> 16) for i in infos if not i.is_dir()} == {0o644}
    assert {stat.S_IMODE(i.external_attr >> 16) for i in infos if i.is_dir()} == {0o755}
    assert dict(result.left_out) == {"code_base/__pycache__/": "cache", "code_base/layers.pyc": "cache",
                                     "output_files/notes.txt": "not one of the ten output files"}
    assert sorted(os.listdir(out)) == ["e0123456g.zip"]  # no temporary file left behind


def test_pack_is_reproducible(project, tmp_path):
    first = pack("e0123456g", root=project, out=tmp_path).path.read_bytes()
    for path in project.rglob("*"):
        os.utime(path, (1e9, 1e9))  # other timestamps, same contents
    os.chmod(project / "code_base" / "layers.py", 0o600)
    assert pack("e0123456g", root=project, out=tmp_path).path.read_bytes() == first


def test_pack_cli_prints_the_members_and_size(project):
    result = cli("pack", "--id", "e7654321x", cwd=project / "code_base")  # found from a subfolder
    assert result.returncode == 0, result.stderr
    assert (project / "e7654321x.zip").is_file()
    assert "e7654321x/output_files/conv_forward_out.csv" in result.stdout
    size_kib = (project / "e7654321x.zip").stat().st_size / 1024
    assert f"wrote {project / 'e7654321x.zip'}: 13 files, report of 2 pages, {size_kib:.1f} KiB" in result.stdout


def spoil(project):
    """Every check pack makes, failed at once."""
    (project / "report.pdf").write_bytes(report_pdf(3))
    np.savetxt(project / "output_files" / "conv_forward_out.csv", np.zeros(54))
    data = project / "code_base" / "datasets" / "cifar-10-batches-py"
    data.mkdir(parents=True)
    (data / "data_batch_1").write_bytes(b"\0" * 100)
    np.save(project / "code_base" / "X_train.npy", np.zeros((2, 3, 32, 32), np.float32))
    (project / "code_base" / "env").mkdir()
    (project / "code_base" / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    for name, mib in [("big.bin", 11), ("checkpoint_1.bin", 8), ("checkpoint_2.bin", 8)]:
        with open(project / "code_base" / name, "wb") as f:
            f.truncate(mib << 20)  # sparse: no disk taken
    (project / "code_base" / "link.py").symlink_to(project / "code_base" / "layers.py")


def test_pack_refuses_with_one_line_per_problem(project):
    spoil(project)
    with pytest.raises(PackError) as caught:
        pack("e01!", root=project)
    problems = caught.value.problems
    expected = [r"student ID 'e01!': use 1 to 32 letters and digits only",
                r"code_base/X_train\.npy: CIFAR data; the assignment says not to hand it in",
                r"code_base/big\.bin: 11\.0 MiB, over the 10 MiB limit per file",
                r"code_base/env: a virtual environment; move it out of code_base/",
                r"code_base/link\.py: a symbolic link",
                r"code_base/datasets/cifar-10-batches-py/data_batch_1: CIFAR data",
                r"output_files/conv_forward_out\.csv: not what your conv_forward gives now \(rel error 1\); "
                r"run `python -m code_base\.submission run` again",
                r"report\.pdf: 3 pages; the assignment asks for 1-2",
                r"the hand-in holds 27\.\d MiB, over the 25 MiB limit"]
    assert len(problems) == len(expected), problems
    for pattern in expected:
        assert sum(bool(re.match(pattern, p)) for p in problems) == 1, (pattern, problems)
    assert not list(project.glob("*.zip"))


def test_pack_cli_errors_are_lines_and_exit_1(project):
    (project / "report.pdf").unlink()
    (project / "output_files" / "maxpool_forward_out.csv").unlink()
    result = cli("pack", "--id", "e01", "--root", project)
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and all(ln.startswith("error: ") for ln in lines) and "Traceback" not in result.stderr
    assert lines[0] == ("error: output_files/maxpool_forward_out.csv: missing; "
                        "run `python -m code_base.submission run` again")
    assert lines[1] == "error: report.pdf: file not found (build it with `make report`)"
    assert not (project / "e01.zip").exists()


def test_find_root_needs_a_code_base(tmp_path):
    with pytest.raises(SubmissionError, match="no code_base/ folder here or above"):
        find_root(tmp_path)


def test_pack_the_repository_itself(tmp_path):
    """This package's own code_base, as a student of this repository would hand it in."""
    root = tmp_path / "checkout"
    root.mkdir()
    for name in ("code_base", "input_files", "output_files"):
        (root / name).symlink_to(REPO / name)
    (root / "report.pdf").write_bytes(report_pdf(2))
    result = pack("e0123456g", root=root, out=tmp_path)
    tracked = subprocess.run(["git", "ls-files", "code_base"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.split()
    with zipfile.ZipFile(result.path) as z:
        code = sorted(n[len("e0123456g/"):] for n in z.namelist()
                      if n.startswith("e0123456g/code_base/") and not n.endswith("/"))
    assert code == sorted(tracked)


# ---------------------------------------------------------------- pack in the student release

@pytest.fixture
def release_project(tmp_path):
    """A release-like project: this code_base with every function a student writes stubbed."""
    from test_check import _stub_copy

    root = _stub_copy(tmp_path / "project")
    shutil.copytree(INPUTS, root / "input_files")
    (root / "output_files").mkdir()
    (root / "report.pdf").write_bytes(report_pdf(1))
    return root


def project_cli(root, *args):
    env = {**os.environ, "PYTHONPATH": str(root), "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "code_base.submission", *map(str, args)],
                          capture_output=True, text=True, cwd=root, env=env, timeout=120)


def test_run_on_stubs_writes_nothing_and_says_what_is_not_written(release_project):
    (release_project / "output_files" / "conv_forward_out.csv").write_text("1\n")  # a stale file
    done = project_cli(release_project, "run")
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "wrote 0 of 10 files to output_files"
    assert lines[1:] == [f"{f}: not written yet: see the TODO in code_base/layers.py" for f in
                         ("conv_forward", "conv_backward", "max_pool_forward", "max_pool_backward",
                          "dropout_forward", "dropout_backward")]
    assert os.listdir(release_project / "output_files") == []  # the stale file is gone


def test_pack_on_stubs_prints_the_check_lists_the_stubs_and_still_packs(release_project):
    done = project_cli(release_project, "pack", "--id", "e0123456g")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "TODO  im2col                          not written yet: see the TODO in code_base/im2col.py"
    assert lines[10] == ("0 of 10 public checks pass (10 not written yet); "
                         "grading reruns your code on new inputs")
    assert lines[11] == ("not written yet (handed in as the release's stubs): conv_forward, conv_backward, "
                         "max_pool_forward, max_pool_backward, dropout_forward, dropout_backward")
    with zipfile.ZipFile(release_project / "e0123456g.zip") as z:
        assert "e0123456g/code_base/layers.py" in z.namelist()
        assert not [n for n in z.namelist() if n.startswith("e0123456g/output_files/") and n.endswith(".csv")]


def test_pack_refuses_an_output_file_of_a_function_not_written(release_project):
    (release_project / "output_files" / "maxpool_forward_out.csv").write_text("0\n" * 144)
    with pytest.raises(PackError) as caught:
        pack("e01", root=release_project)
    assert caught.value.problems == [
        "output_files/maxpool_forward_out.csv: max_pool_forward is not written yet, so this file is not "
        "from your code; run `python -m code_base.submission run` again (it removes such files)"]


def test_pack_names_the_students_failing_line(project):
    layers = project / "code_base" / "layers.py"
    text = layers.read_text()
    layers.write_text(text.replace("def max_pool_forward(x, pool_param):",
                                   "def max_pool_forward(x, pool_param):\n    raise KeyError('pool')", 1))
    line = text[:text.index("def max_pool_forward(x, pool_param):")].count("\n") + 2
    with pytest.raises(PackError) as caught:
        pack("e01", root=project)
    assert caught.value.problems == [
        f"max_pool_forward fails on input_files/: KeyError: 'pool' (code_base/layers.py:{line})",
        f"max_pool_backward fails on input_files/: KeyError: 'pool' (code_base/layers.py:{line})"]


def test_pack_out_a_file_or_a_read_only_folder_is_one_line(project, tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    done = cli("pack", "--id", "e01", "--root", project, "--out", tmp_path / "file")
    assert done.returncode == 1 and done.stderr.splitlines() == [
        f"error: {tmp_path / 'file'}: a file, not a folder; --out names the folder to write ID.zip in"]
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: stand in for the permission the kernel would deny
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == locked else real(p, mode))
    with pytest.raises(PackError) as caught:
        pack("e01", root=project, out=locked)
    assert caught.value.problems == [f"{locked}: cannot write in this folder (permission denied)"]
    assert os.listdir(locked) == []


def test_pack_on_a_full_disk_is_one_line_and_leaves_nothing(project, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", full)
    with pytest.raises(PackError) as caught:
        pack("e01", root=project, out=out)
    assert caught.value.problems == [f"{out}: cannot write e01.zip (No space left on device)"]
    assert os.listdir(out) == []


def test_ctrl_c_in_pack_is_one_line_and_exit_130(project):
    layers = project / "code_base" / "layers.py"
    layers.write_text(layers.read_text().replace(
        "def conv_forward(x, w, b, conv_param):",
        "def conv_forward(x, w, b, conv_param):\n    import time; time.sleep(60)", 1))
    child = subprocess.Popen([sys.executable, "-m", "code_base.submission", "pack", "--id", "e01",
                              "--root", str(project)], cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    time.sleep(3)  # pack is waiting for the project's code on the input files
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=30)
    assert child.returncode == 130
    assert err.splitlines() == ["interrupted: nothing half-written was left "
                                "(files are written whole or not at all)"]
    assert not list(project.glob("*.zip")) and not list(project.glob(".*.tmp"))
