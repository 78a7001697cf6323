"""Verify step 5b: every mistake of the synthetic class, in the filled kit, judged alike by the
kit's check and the solution's grade-class.

Each mistake of :data:`code_base.submission.classgrade.MISTAKES` is a student's whole
``layers.py`` as the synthetic class hands it in.  Here it is appended to a copy of the filled
kit's ``layers.py`` (its definitions replace the kit's; a module that no longer imports or
compiles fails whole, as the hand-in would), so that the rest of the kit still runs.  Then, per
graded function, the check's PASS must be grade-class's "pass" and anything else its failure.
"""

import csv
import shutil
import subprocess
import sys

from ..check import calls
from ..submission.classgrade.mistakes import MISTAKES, layers_source
from .build import REPO
from .tools import StepFailed, child_env, check_lines, code_cells, run_python

__all__ = ["CLASS_TIMEOUT", "class_mistakes"]

ZIP_FROM = ("import sys; from pathlib import Path; from code_base.submission.packer import "
            "handin_members, write_zip; "
            "write_zip(Path(sys.argv[1]), handin_members(Path(sys.argv[3]), sys.argv[2])[0])")
CLASS_TIMEOUT = 3  # seconds per function in grade-class: "never returns" must not cost more


def _student_id(n):
    return f"e{n:07d}m"


def _mistaken_kits(kit, work):
    """{student id: (mistake, kit copy)}: each code mistake appended to the filled layers.py."""
    kits = {}
    names = [name for name, m in MISTAKES.items() if m.edits or m.source]
    for n, name in enumerate(names):
        copy = work / f"kit{n}"
        shutil.copytree(kit, copy, ignore=shutil.ignore_patterns("__pycache__"))
        layers = copy / "code_base" / "layers.py"
        layers.write_text(layers.read_text(encoding="utf-8")
                          + f"\n\n# --- the synthetic class's hand-in: {name}\n"
                          + layers_source(name), encoding="utf-8")
        kits[_student_id(n)] = (name, copy)
    return kits


def class_mistakes(kit, work):
    work.mkdir(parents=True, exist_ok=True)
    hand_in = work / "submissions"
    hand_in.mkdir()
    kits = _mistaken_kits(kit, work)
    for sid, (name, copy) in kits.items():
        # Zipped by the solution's packer: a mistaken layers.py may break the kit's own imports.
        proc = run_python(["-c", ZIP_FROM, str(hand_in / f"{sid}.zip"), sid, str(copy)], REPO, REPO)
        if proc.returncode:
            raise StepFailed(f"{name}: zipping the hand-in failed")
    grades = work / "grades.csv"
    # grade-class grades the class while the kit's check judges each copy (two cores: together).
    grading = subprocess.Popen(
        [sys.executable, "-m", "code_base.submission", "grade-class", "--submissions", str(hand_in),
         "--out", str(grades), "--inputs", str(REPO / "input_files"), "--timeout", str(CLASS_TIMEOUT)],
        cwd=REPO, env=child_env(REPO), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        verdicts = {}
        for sid, (name, copy) in kits.items():
            _, lines = check_lines(copy)
            verdicts[sid] = {f: lines.get(f, "").split()[:1] == ["PASS"] for f in calls.FUNCTIONS}
        status = grading.wait(timeout=600)
    finally:
        if grading.poll() is None:
            grading.kill()
            grading.wait()
    if status or not grades.exists():
        raise StepFailed(f"grade-class on the synthetic class's mistakes: exit {status}")
    with open(grades, newline="") as f:
        rows = {row["id"]: row for row in csv.DictReader(f)}
    differ = []
    for sid, (name, _) in kits.items():
        cells = code_cells(rows.get(sid, {}))
        for f in calls.FUNCTIONS:
            graded = cells.get(f"code:{f}", "").startswith("pass")
            if graded != verdicts[sid][f]:
                differ.append(f"{name} / {f}: check {'PASS' if verdicts[sid][f] else 'not PASS'}, "
                              f"grade-class {cells.get(f'code:{f}', 'missing')[:40]!r}")
    if differ:
        raise StepFailed(f"check and grade-class disagree: {'; '.join(differ)}")
    return (f"{len(kits)} mistakes of the synthetic class: check and grade-class agree on "
            f"every graded function")
