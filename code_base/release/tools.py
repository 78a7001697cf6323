"""Run the kit's tools, each in a process of its own: check, the chapters, pack and grade-class.

The kit's tools run with ``PYTHONPATH=KIT`` and KIT as the working folder; the instructor's
grade-class runs with this solution's package.  A failure is one line (:class:`StepFailed`).
"""

import csv
import os
import subprocess
import sys

from ..check.manifest import TASKS
from .allowlist import STUDENT_NOTEBOOKS
from .build import REPO

__all__ = ["StepFailed", "STUDENT_ID", "check_lines", "check_says", "run_notebooks",
           "pack_and_grade", "grades_for_stubs", "grades_full", "code_cells", "run_python"]

STUDENT_ID = "e0000000a"
TIMEOUT = 300  # seconds for one tool run


class StepFailed(Exception):
    """A step's one-line reason."""


def child_env(pythonpath):
    """The environment of a kit tool run in its own process: PYTHONPATH, one BLAS thread."""
    env = dict(os.environ, PYTHONPATH=str(pythonpath), OPENBLAS_NUM_THREADS="1",
               MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    return env


def run_python(args, cwd, pythonpath, timeout=TIMEOUT):
    """`python ARGS` in cwd with PYTHONPATH=pythonpath; CompletedProcess (text)."""
    return subprocess.run([sys.executable, *args], cwd=cwd, env=child_env(pythonpath), text=True,
                          capture_output=True, timeout=timeout)


def _last_line(proc):
    lines = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
    return lines[-1] if lines else f"exit {proc.returncode}, no output"


# -- 3. / 4. check, notebooks, pack and grade-class ---------------------------------------------

def check_lines(kit):
    """The kit's `python -m code_base.check`: (exit code, {function: its line})."""
    proc = run_python(["-m", "code_base.check"], kit, kit, timeout=120)
    lines = {}
    for line in proc.stdout.splitlines():
        words = line.split()
        for t in TASKS:
            if t.name in words[:3] and t.name not in lines:
                lines[t.name] = line
    return proc, lines


def check_says(kit, verdict, exit_zero):
    proc, lines = check_lines(kit)
    if "Traceback" in proc.stdout + proc.stderr:
        raise StepFailed(f"check printed a traceback: {_last_line(proc)}")
    wrong = [t.name for t in TASKS if verdict not in lines.get(t.name, "").split()[:3]]
    if wrong:
        raise StepFailed(f"check (python -m code_base.check in the kit) does not say {verdict} "
                         f"for {', '.join(wrong)}: {lines.get(wrong[0], 'no line')}")
    if (proc.returncode == 0) != exit_zero:
        raise StepFailed(f"check exited {proc.returncode}")
    return f"check: {verdict} x{len(TASKS)}, exit {proc.returncode}"


def run_notebooks(kit, stubs=False):
    """The kit's chapters 01-05 under nbval, as the kit's own `pytest` runs them (its pyproject:
    --nbval-lax, so a chapter passes when every cell runs; against stubs the `# NEEDS:` cells
    print the stub's line instead of raising)."""
    os.environ.setdefault("CIFAR10_DIR", str(REPO.parent / "shared/data/cifar-10-batches-py"))
    chapters = [rel[:-3] + ".ipynb" for rel in STUDENT_NOTEBOOKS]
    proc = run_python(["-m", "pytest", "-q", "-p", "no:cacheprovider", *chapters], kit, kit,
                      timeout=1800)
    if proc.returncode:
        failed = [line for line in proc.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
        raise StepFailed(f"nbval in the kit: {(failed or [_last_line(proc)])[0][:200]}")
    summary = (proc.stdout.strip().splitlines() or ["no output"])[-1].strip("= ")
    return (f"{len(chapters)} chapters pass under nbval ({summary})"
            + (" against the stubs" if stubs else ""))


def _tiny_pdf(path):
    import pypdf
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=595, height=842)
    with open(path, "wb") as f:
        writer.write(f)


ZIP_ONLY = ("import sys; from pathlib import Path; from code_base.submission.packer import "
            "handin_members, write_zip; root = Path.cwd(); "
            "write_zip(Path(sys.argv[1]), handin_members(root, sys.argv[2])[0])")


def pack_and_grade(kit, work, with_outputs, checked=True):
    """The kit's run (optional) and pack, then the solution's grade-class: {column: cell}.

    checked=False zips the hand-in with the packer's own members but without pack's checks (a
    planted mistake makes outputs that pack rightly refuses; grade-class must judge it anyway).
    """
    work.mkdir(parents=True, exist_ok=True)
    if with_outputs:
        proc = run_python(["-m", "code_base.submission", "run", "--inputs", "input_files",
                     "--outputs", "output_files"], kit, kit)
        if proc.returncode:
            raise StepFailed(f"submission run in the kit: {_last_line(proc)}")
    if not (kit / "report.pdf").exists():
        _tiny_pdf(kit / "report.pdf")
    hand_in = work / "submissions"
    hand_in.mkdir(exist_ok=True)
    if checked:
        proc = run_python(["-m", "code_base.submission", "pack", "--id", STUDENT_ID, "--out",
                     str(hand_in), "--root", str(kit)], kit, kit)
    else:
        proc = run_python(["-c", ZIP_ONLY, str(hand_in / f"{STUDENT_ID}.zip"), STUDENT_ID], kit, kit)
    if proc.returncode or "Traceback" in proc.stdout + proc.stderr:
        raise StepFailed(f"submission pack in the kit: {_last_line(proc)}")
    grades = work / "grades.csv"
    proc = run_python(["-m", "code_base.submission", "grade-class", "--submissions", str(hand_in),
                 "--out", str(grades), "--inputs", str(REPO / "input_files")], REPO, REPO)
    if proc.returncode or not grades.exists():
        raise StepFailed(f"grade-class (the solution's): {_last_line(proc)}")
    feedback = "".join(p.read_text() for p in sorted((hand_in / "feedback").glob("*")) if p.is_file()) \
        if (hand_in / "feedback").is_dir() else ""
    if "Traceback" in feedback + proc.stdout + proc.stderr:
        raise StepFailed("grade-class shows a traceback")
    with open(grades, newline="") as f:
        rows = list(csv.DictReader(f))
    if len(rows) != 1:
        raise StepFailed(f"grades.csv has {len(rows)} rows, expected 1")
    return rows[0]


def code_cells(row):
    return {k: v for k, v in row.items() if k.startswith("code:")}


def grades_for_stubs(kit, work):
    row = pack_and_grade(kit, work, with_outputs=False)
    cells = code_cells(row)
    wrong = {k: v for k, v in cells.items() if not v.startswith("not implemented")}
    if not cells or wrong:
        raise StepFailed(f"grade-class: code cells not 'not implemented': {wrong or 'none found'}")
    return f"pack + grade-class: {len(cells)} code cells not implemented, release {row['release']}"


def grades_full(kit, work):
    row = pack_and_grade(kit, work, with_outputs=True)
    from ..submission.classgrade.report import COLUMNS
    if row["passed"] != str(len(COLUMNS)):
        failed = {c: row[c] for c in COLUMNS if not row[c].startswith(("ok", "pass", "PASS"))}
        raise StepFailed(f"grade-class: {row['passed']} of {len(COLUMNS)} ({failed})")
    return f"run + pack + grade-class: {row['passed']} of {len(COLUMNS)}"
