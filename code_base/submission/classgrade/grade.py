"""`grade-class`: grade every student's hand-in zip of a folder; one bad zip never stops the class.

Per zip (named ID.zip): safe extraction of the student's folder ID/ into a private temporary
folder (:mod:`.zipsafe`; __pycache__, *.pyc, __MACOSX and CIFAR data are left in the zip), the
layout, the report's pages, the grader on the student's output_files against the class's input
files, then the student's own code_base run on fresh inputs made from the instructor's seed
(:mod:`.student_code`), graded the same way: outputs copied or typed in pass the first test and
fail the second. Writes grades.csv (one row per zip, :mod:`.classreport`) and a feedback text per
student.
"""
import dataclasses
import secrets
import shutil
import tempfile
import time
import traceback
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ...utils.checks import check_int, check_real
from ...utils.fileio import atomic_write
from .report import Cell, StudentGrade, cell_from_results, csv_text, feedback_text
from ..compute import make_inputs
from ..files import INPUT_SHAPES, OUTPUT_SHAPES, SubmissionError, file_name, load_folder, write_folder
from ..grader import grade
from ..handin import (CODE_DIR, FUNCTIONS, OUTPUT_DIR, REPORT, REPORT_PAGES,
                     count_pages, is_cifar_name, is_junk, student_id)
from .run_student import run_code
from .zipsafe import UnsafeArchiveError, ZipLimits, extract_members, safe_members

__all__ = ["ClassGrades", "grade_class", "grade_submission"]

_LABELS = {"raised": "raised", "import": "import failed", "missing": "missing",
           "foreign": "not the submission's code", "timeout": "timed out", "crashed": "crashed"}


@dataclasses.dataclass
class _Context:
    inputs: Path  # the class's input files (official by default)
    fresh_inputs: Path  # CSV folder of the fresh inputs, for the grader
    fresh_npz: Path  # the same arrays for the students' processes
    seed: int
    timeout: float
    memory_mb: int
    limits: ZipLimits
    work: Path


@dataclasses.dataclass
class ClassGrades:
    grades: list  # StudentGrade per zip, in file-name order
    seed: int
    seconds: float
    csv_path: Path
    feedback_dir: Path


def _listing(names, limit=3):
    names = sorted(names)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _unpack(path, sid, folder, limits, g):
    """Extract the student's folder into `folder`; its path, or None with the archive cell set."""
    def refuse(reason):
        g.cells["archive"] = Cell("error", reason)
        return None

    if path.stat().st_size > limits.max_archive_bytes:
        return refuse(f"{path.stat().st_size >> 20} MiB, over the {limits.max_archive_bytes >> 20} MiB limit")
    try:
        with zipfile.ZipFile(path) as archive:
            members = safe_members(archive, limits)
            tops = {name.split("/")[0] + ("/" if "/" in name or info.is_dir() else "")
                    for name, info in members if not is_junk(name)}
            top = next((t[:-1] for t in sorted(tops) if t.lower() == sid + "/"), None)
            if top is None:
                return refuse(f"wrong top folder: found {_listing(tops) or 'nothing'}, expected {sid}/")
            stray = sorted(t for t in tops if t[:-1] != top)
            chosen = [(n, i) for n, i in members if n.startswith(top + "/") and not is_junk(n)]
            cifar = sorted({n for n, _ in chosen if is_cifar_name(n[len(top) + 1:])})
            chosen = [(n, i) for n, i in chosen if n not in cifar]
            files = extract_members(archive, chosen, folder, limits)
    except zipfile.BadZipFile as e:
        return refuse(f"not a readable zip file ({e})")
    except UnsafeArchiveError as e:
        return refuse(f"refused, nothing extracted: {e}")
    except (OSError, EOFError, zlib.error) as e:
        return refuse(f"cannot extract: {type(e).__name__}: {e}")
    if stray:
        g.notes.append(f"outside {top}/, not graded: {', '.join(stray)}")
    if cifar:
        g.notes.append(f"CIFAR data (the assignment says not to hand it in), not extracted: {_listing(cifar)}")
    g.cells["archive"] = Cell("pass", f"{len(files)} files")
    return folder / top


def _check_layout(root, g):
    needed = {f"{CODE_DIR}/layers.py": (root / CODE_DIR / "layers.py").is_file(),
              f"{OUTPUT_DIR}/": (root / OUTPUT_DIR).is_dir(), REPORT: (root / REPORT).is_file()}
    missing = [name for name, there in needed.items() if not there]
    extra = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir()
                   if p.name not in (CODE_DIR, OUTPUT_DIR, REPORT))
    if (root / OUTPUT_DIR).is_dir():
        expected = {file_name(n) for n in OUTPUT_SHAPES}
        extra += sorted(f"{OUTPUT_DIR}/{p.name}" for p in (root / OUTPUT_DIR).iterdir()
                        if p.name not in expected)
    if extra:
        g.notes.append(f"extra files, not graded: {', '.join(extra)}")
    if missing:
        g.cells["layout"] = Cell("fail", "missing " + ", ".join(missing))
    else:
        g.cells["layout"] = Cell("pass", f"extra: {_listing(extra)}" if extra else "")


def _check_report(root, g):
    if not (root / REPORT).is_file():
        g.cells["report"] = Cell("fail", f"no {REPORT}")
        return
    try:
        g.pages = count_pages(root / REPORT)
    except SubmissionError as e:
        g.cells["report"] = Cell("fail", str(e).split(": ", 1)[-1])
        return
    low, high = REPORT_PAGES
    ok = low <= g.pages <= high
    pages = f"{g.pages} page{'' if g.pages == 1 else 's'}"
    g.cells["report"] = Cell("pass" if ok else "fail", pages + ("" if ok else f", not {low}-{high}"))


def _grade_outputs(root, ctx, g):
    if not (root / OUTPUT_DIR).is_dir():
        for f in FUNCTIONS:
            g.cells[f"outputs:{f}"] = Cell("fail", f"no {OUTPUT_DIR}/")
        return
    g.output_results = grade(ctx.inputs, root / OUTPUT_DIR)
    for f in FUNCTIONS:
        g.cells[f"outputs:{f}"] = cell_from_results(g.output_results, f)


def _printed_note(run):
    if not run.printed_lines:
        return ""
    return f"printed {run.printed_lines} line{'s' if run.printed_lines > 1 else ''}"


def _grade_code(root, ctx, folder, g):
    if not (root / CODE_DIR).is_dir():
        for f in FUNCTIONS:
            g.cells[f"code:{f}"] = Cell("error", f"no {CODE_DIR}/")
        return
    g.runs = run_code(root, ctx.fresh_npz, folder / "runs", ctx.timeout, ctx.memory_mb)
    arrays = {name: np.ravel(a) for run in g.runs.values() for name, a in run.arrays.items()}
    write_folder(folder / "fresh_outputs", arrays)
    g.code_results = grade(ctx.fresh_inputs, folder / "fresh_outputs")
    at_import = next((r.printed_at_import for r in g.runs.values() if r.printed_at_import), "")
    if at_import:
        g.notes.append(f"code_base.layers printed at import: {at_import.strip()[:200]!r}")
    for f, run in g.runs.items():
        if run.status != "ok":
            g.cells[f"code:{f}"] = Cell("error", f"{_LABELS.get(run.status, run.status)}: {run.message}")
            continue
        if run.printed_lines:
            g.notes.append(f"{f} printed to stdout: {run.printed.strip()[:200]!r}")
        g.cells[f"code:{f}"] = cell_from_results(g.code_results, f, _printed_note(run))


def grade_submission(path, ctx, g=None):
    """Grade the zip `path`; a StudentGrade (filled in as far as it got when the grader fails)."""
    path = Path(path)
    g = g or StudentGrade(path.stem.lower(), path.name)
    try:
        sid = student_id(path.stem)
    except SubmissionError:
        g.cells["archive"] = Cell("error", f"the file name {path.name!r} is not a student ID")
        return g
    folder = Path(tempfile.mkdtemp(prefix=f"{sid}-", dir=ctx.work))
    try:
        root = _unpack(path, sid, folder, ctx.limits, g)
        if root is not None:
            _check_layout(root, g)
            _check_report(root, g)
            _grade_outputs(root, ctx, g)
            _grade_code(root, ctx, folder, g)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return g


def _fresh_inputs(work, seed):
    arrays = make_inputs(seed)
    write_folder(work / "fresh_inputs", arrays)
    np.savez(work / "fresh_inputs.npz", **arrays)
    return work / "fresh_inputs", work / "fresh_inputs.npz"


def grade_class(submissions, out, inputs="input_files", seed=None, timeout=10.0, memory_mb=1024,
                feedback=None, limits=ZipLimits(), progress=None):
    """Grade every *.zip of the folder `submissions`; write the CSV `out` and the feedback texts
    (folder `feedback`, default submissions/feedback/ID.txt). Fresh inputs come from `seed`
    (drawn at random when None). `progress(grade)` is called after each zip. Returns ClassGrades.
    Raises SubmissionError when `submissions` or `inputs` is unusable, never for a student's zip.
    """
    submissions, out = Path(submissions), Path(out)
    seed = secrets.randbelow(2 ** 32) if seed is None else check_int("grade-class", "seed", seed, 0)
    timeout = check_real("grade-class", "timeout", timeout, 0, low_open=True)
    memory_mb = check_int("grade-class", "memory_mb", memory_mb, 64)
    zips = sorted(p for p in submissions.glob("*") if p.suffix.lower() == ".zip" and p.is_file()) \
        if submissions.is_dir() else None
    if not zips:
        raise SubmissionError(f"{submissions}: " + ("no .zip files" if zips == [] else "folder not found"))
    if not out.parent.is_dir():
        raise SubmissionError(f"{out}: folder {out.parent} not found")
    load_folder(inputs, INPUT_SHAPES)  # unusable class inputs stop here, before any student
    feedback = Path(feedback) if feedback is not None else submissions / "feedback"
    feedback.mkdir(parents=True, exist_ok=True)
    start, grades, seen = time.monotonic(), [], {}
    with tempfile.TemporaryDirectory(prefix="grade-class-") as work:
        fresh_dir, fresh_npz = _fresh_inputs(Path(work), seed)
        ctx = _Context(Path(inputs), fresh_dir, fresh_npz, seed, timeout, memory_mb, limits, Path(work))
        for path in zips:
            g = StudentGrade(path.stem.lower(), path.name)
            if g.student_id in seen:  # e.g. E01.zip and e01.zip: the first one's feedback stays
                g.cells["archive"] = Cell("error", f"same ID as {seen[g.student_id]}")
                g.fill("not graded")
                grades.append(g)
                continue
            seen[g.student_id] = path.name
            try:
                grade_submission(path, ctx, g)
            except Exception as e:  # a grader bug must not stop the class: report it, go on
                g.fill(f"grader failed: {type(e).__name__}: {e}")
                g.notes.append("grader traceback: " + traceback.format_exc().replace("\n", " | "))
            g.fill("not graded")
            text = feedback_text(g, seed, timeout).encode()
            atomic_write(feedback / f"{g.student_id}.txt", lambda f: f.write(text))
            grades.append(g)
            if progress:
                progress(g)
    text = csv_text(grades).encode()
    atomic_write(out, lambda f: f.write(text))
    return ClassGrades(grades, seed, time.monotonic() - start, out, feedback)
