"""`grade-class`: grade every student's hand-in zip of a folder; one bad zip never stops the class.

Per zip (named ID.zip): safe extraction of the student's folder ID/ into a private temporary
folder (:mod:`.zipsafe`; __pycache__, *.pyc, __MACOSX and CIFAR data are left in the zip), the
layout, the report's pages, the grader on the student's output_files against the class's input
files, then the student's own code_base run on fresh inputs made from the instructor's seed
(:mod:`.run_student`, each call in its own sandbox, :mod:`.sandbox`), graded the same way against
the instructor's solution: outputs copied or typed in pass the first test and fail the second.
Each row is appended to grades.csv as soon as it is graded (:mod:`.gradebook`); a feedback text
per student. Every step below fills in the student's grade sheet (a StudentGrade, `sheet`) in
place: its cells, notes and results; grade_submission returns it.
"""
import dataclasses
import json
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ...check.hints import hint_for_call
from .report import Cell, StudentGrade, cell_from_results
from ..files import OUTPUT_SHAPES, SubmissionError, file_name, write_folder
from ..grader import grade
from ..handin import (CODE_DIR, FUNCTION_OUTPUTS, FUNCTIONS, OUTPUT_DIR, REPORT, REPORT_PAGES,
                     count_pages, is_cifar_name, is_junk, student_id)
from .run_student import run_code
from .zipsafe import UnsafeArchiveError, ZipLimits, extract_members, safe_members

__all__ = ["Context", "grade_submission", "OUTPUT_CAP"]

OUTPUT_CAP = 1 << 20  # bytes of one output CSV (the largest holds 400 numbers, ~10 KB)

_LABELS = {"raised": "raised", "import": "import failed", "missing": "missing",
           "foreign": "not the submission's own code", "timeout": "timed out", "crashed": "crashed",
           "shape": "wrong shape", "result": "bad result"}
@dataclasses.dataclass
class Context:
    """What grading one student needs: the class's inputs, the fresh ones and the limits."""
    inputs: Path  # the class's input files (official by default)
    fresh_inputs: Path  # CSV folder of the fresh inputs, for the grader
    fresh_npz: Path  # the same arrays for the students' processes
    seed: int
    timeout: float
    memory_mb: int
    limits: ZipLimits
    work: Path
    sandboxed: bool
    fresh_arrays: dict  # name -> the fresh input array
    expected: dict  # name -> the instructor's solution's output on the fresh inputs


def _short(name, width=60):
    return name if len(name) <= width else f"{name[:width - 25]}...({len(name)} characters)"


def _listing(names, limit=3):
    names = sorted(names)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _unpack(path, sid, folder, limits, sheet):
    """Extract the student's folder into `folder`; its path, or None with the archive cell set."""
    def refuse(reason):
        sheet.cells["archive"] = Cell("error", reason)
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
            skipped = []
            files = extract_members(archive, chosen, folder, limits, skipped)
    except zipfile.BadZipFile as e:
        return refuse(f"not a readable zip file ({e})")
    except UnsafeArchiveError as e:
        return refuse(f"refused, nothing extracted: {e}")
    except (OSError, EOFError, zlib.error) as e:
        return refuse(f"cannot extract: {type(e).__name__}: {e}")
    if skipped:
        names = [_short(n.split("/", 1)[-1]) for n in skipped]  # relative to the hand-in
        sheet.notes.append(f"not extracted (a name this system cannot hold): {_listing(names)}")
    if stray:
        sheet.notes.append(f"outside {top}/, not graded: {', '.join(stray)}")
    if cifar:
        sheet.notes.append(f"CIFAR data (the assignment says not to hand it in), not extracted: {_listing(cifar)}")
    sheet.cells["archive"] = Cell("pass", f"{len(files)} files")
    return folder / top


def _check_layout(root, sheet):
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
        sheet.notes.append(f"extra files, not graded: {', '.join(extra)}")
    if missing:
        sheet.cells["layout"] = Cell("fail", "missing " + ", ".join(missing))
    else:
        sheet.cells["layout"] = Cell("pass", f"extra: {_listing(extra)}" if extra else "")


def _check_report(root, sheet):
    if not (root / REPORT).is_file():
        sheet.cells["report"] = Cell("fail", f"no {REPORT}")
        return
    try:
        sheet.pages = count_pages(root / REPORT)
    except SubmissionError as e:
        sheet.cells["report"] = Cell("fail", str(e).split(": ", 1)[-1])
        return
    low, high = REPORT_PAGES
    ok = low <= sheet.pages <= high
    pages = f"{sheet.pages} page{'' if sheet.pages == 1 else 's'}"
    sheet.cells["report"] = Cell("pass" if ok else "fail", pages + ("" if ok else f", not {low}-{high}"))


def _capped_outputs(folder, dest, sheet):
    """A copy of the expected output files of `folder` that are at most OUTPUT_CAP bytes (checked
    with stat before reading); larger ones are named in a note and graded as missing."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir()
    for name in OUTPUT_SHAPES:
        path = folder / file_name(name)
        if not path.is_file():
            continue
        size = path.stat().st_size
        if size > OUTPUT_CAP:
            sheet.notes.append(f"{OUTPUT_DIR}/{path.name}: {size} bytes, over the {OUTPUT_CAP} a file may "
                           "hold; not read")
            continue
        shutil.copyfile(path, dest / path.name)
    return dest


def _grade_outputs(root, ctx, sheet):
    if not (root / OUTPUT_DIR).is_dir():
        for f in FUNCTIONS:
            sheet.cells[f"outputs:{f}"] = Cell("fail", f"no {OUTPUT_DIR}/")
        return
    capped = _capped_outputs(root / OUTPUT_DIR, ctx.work / "capped", sheet)
    sheet.output_results = grade(ctx.inputs, capped)
    for f in FUNCTIONS:
        sheet.cells[f"outputs:{f}"] = cell_from_results(sheet.output_results, f)


def _printed_note(run):
    if not run.printed_lines:
        return ""
    return f"printed {run.printed_lines} line{'s' if run.printed_lines > 1 else ''}"


def _hint(function, inputs, got, expected):
    """The student check's hint for a failing function (the same words `check` prints), or None."""
    return hint_for_call(function, inputs, got, expected)


def _code_cell(f, run, ctx, sheet):
    if run.status == "todo":
        return Cell("not implemented", run.message)
    if run.status == "shape":  # an answer, of the wrong shape
        return Cell("fail", f"wrong shape: {run.message}")
    if run.status != "ok":
        return Cell("error", f"{_LABELS.get(run.status, run.status)}: {run.message}")
    if run.printed_lines:
        sheet.notes.append(f"{f} printed to stdout: {run.printed.strip()[:200]!r}")
    cell = cell_from_results(sheet.code_results, f, _printed_note(run))
    if not cell.passed:
        names = FUNCTION_OUTPUTS[f]
        hint = _hint(f, ctx.fresh_arrays, {n: run.arrays[n] for n in names if n in run.arrays},
                     {n: ctx.expected[n] for n in names if n in ctx.expected})
        if hint:
            sheet.notes.append(f"hint for {f}: {hint}")
    return cell


def _readable(root):
    """Folders 0755 and files 0644 whatever the umask: the sandbox's uid is not the grader's."""
    root.chmod(0o755)
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def _grade_code(root, ctx, folder, sheet):
    if not (root / CODE_DIR).is_dir():
        for f in FUNCTIONS:
            sheet.cells[f"code:{f}"] = Cell("error", f"no {CODE_DIR}/")
        return
    _readable(root)
    own_inputs = folder / "inputs.npz"  # this student's own copy, read-only in the sandbox
    shutil.copyfile(ctx.fresh_npz, own_inputs)
    own_inputs.chmod(0o444)
    sheet.runs = run_code(root, own_inputs, folder / "runs", ctx.timeout, ctx.memory_mb, ctx.sandboxed)
    arrays = {name: np.ravel(a) for run in sheet.runs.values() for name, a in run.arrays.items()}
    write_folder(folder / "fresh_outputs", arrays)
    sheet.code_results = grade(ctx.fresh_inputs, folder / "fresh_outputs")
    at_import = next((r.printed_at_import for r in sheet.runs.values() if r.printed_at_import), "")
    if at_import:
        sheet.notes.append(f"code_base.layers printed at import: {at_import.strip()[:200]!r}")
    for f, run in sheet.runs.items():
        sheet.cells[f"code:{f}"] = _code_cell(f, run, ctx, sheet)
    if not ctx.sandboxed:
        sheet.notes.append("graded without a sandbox (--no-sandbox)")


def _release(root):
    """The "release" of the hand-in's code_base/RELEASE.json ('' when absent or unreadable)."""
    path = root / CODE_DIR / "RELEASE.json"
    try:
        if path.is_file() and path.stat().st_size <= 64 << 10:
            value = json.loads(path.read_text(encoding="utf-8")).get("release", "")
            return value[:80] if isinstance(value, str) else ""
    except (OSError, ValueError, AttributeError, RecursionError):
        pass
    return ""


def grade_submission(path, ctx, grade_=None):
    """Grade the zip `path` into the StudentGrade `grade_` (made when None), filled in as far as
    it got when the grader fails; returns it."""
    path = Path(path)
    result = grade_ or StudentGrade(path.stem.lower(), path.name)
    try:
        sid = student_id(path.stem)
    except SubmissionError:
        result.cells["archive"] = Cell("error", f"the file name {path.name!r} is not a student ID")
        return result
    folder = Path(tempfile.mkdtemp(prefix=f"{sid}-", dir=ctx.work))
    try:
        root = _unpack(path, sid, folder, ctx.limits, result)
        if root is not None:
            result.release = _release(root)
            _check_layout(root, result)
            _check_report(root, result)
            _grade_outputs(root, ctx, result)
            _grade_code(root, ctx, folder, result)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return result
