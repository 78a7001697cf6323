"""grade_class: every hand-in zip of a folder, one row appended to grades.csv per student.

Before the first student: every option is checked (and bounded), the output folders are probed
for writing, the sandbox is tried once (:func:`.sandbox.probe`). Then each student is graded
(:mod:`.grade`) and their row appended (:mod:`.gradebook`) and feedback written. SIGINT/SIGTERM
end the current sandbox (run_student kills it as the exception passes), keep every finished row
and raise Interrupted; the temporary folder goes on every exit path.
"""
import contextlib
import dataclasses
import secrets
import signal
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

from ...utils.checks import check_int, check_real
from ...utils.fileio import atomic_write
from ..compute import compute_deterministic
from ..files import INPUT_SHAPES, SubmissionError, load_folder, write_folder
from .fresh import fresh_inputs
from .grade import Context, grade_submission
from . import cgroups
from .gradebook import NO_SANDBOX, Gradebook, inputs_id, probe_writable
from .report import Cell, StudentGrade, feedback_text
from .sandbox import probe
from .zipsafe import ZipLimits

__all__ = ["ClassGrades", "Interrupted", "grade_class", "MAX_TIMEOUT", "MAX_MEMORY_MB", "GRADER_ERROR"]

MAX_TIMEOUT = 600.0  # seconds per function call
MAX_MEMORY_MB = 16384  # MiB per process of a call
GRADER_ERROR = "grader error (logged)"


class Interrupted(BaseException):
    """SIGINT or SIGTERM during grading (a BaseException, like KeyboardInterrupt, so that no
    `except Exception` takes it for a fault); `code` is the exit code (130 or 143)."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


@dataclasses.dataclass
class ClassGrades:
    grades: list  # StudentGrade per zip graded by this run, in file-name order
    seed: int
    seconds: float
    csv_path: Path
    feedback_dir: Path
    skipped: int = 0  # already in grades.csv (--resume)


@contextlib.contextmanager
def _signals_raise():
    """SIGINT and SIGTERM raise Interrupted while grading (main thread only)."""
    def handler(signum, _frame):
        raise Interrupted(128 + signum)

    try:
        old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave the signals alone
        old = {}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _zips(submissions):
    zips = sorted(p for p in submissions.glob("*") if p.suffix.lower() == ".zip" and p.is_file()) \
        if submissions.is_dir() else None
    if not zips:
        raise SubmissionError(f"{submissions}: " + ("no .zip files" if zips == [] else "folder not found"))
    return zips


def _feedback_folder(feedback, submissions):
    feedback = Path(feedback) if feedback is not None else submissions / "feedback"
    if feedback.exists() and not feedback.is_dir():
        raise SubmissionError(f"--feedback {feedback}: is a file, not a folder")
    try:
        feedback.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SubmissionError(f"--feedback {feedback}: cannot create it ({e.strerror})") from None
    probe_writable(feedback, f"--feedback {feedback}")
    return feedback


def _check_options(seed, timeout, memory_mb):
    if seed is not None:
        check_int("grade-class", "seed", seed, 0)
    check_real("grade-class", "timeout", timeout, 0, MAX_TIMEOUT, low_open=True)
    check_int("grade-class", "memory_mb", memory_mb, 64)
    if memory_mb > MAX_MEMORY_MB:
        raise SubmissionError(f"--memory-mb {memory_mb}: more than the limit of {MAX_MEMORY_MB}")


def _context(inputs, seed, timeout, memory_mb, limits, work, sandboxed):
    arrays = fresh_inputs(seed)
    write_folder(work / "fresh_inputs", arrays)
    np.savez(work / "fresh_inputs.npz", **arrays)
    return Context(Path(inputs), work / "fresh_inputs", work / "fresh_inputs.npz", seed, timeout,
                   memory_mb, limits, work, sandboxed, arrays, compute_deterministic(arrays))


def _sandbox_label(sandbox):
    """The CSV's `sandbox` cell: what bounded each call of this run."""
    if not sandbox:
        return NO_SANDBOX
    return "bwrap, cgroups" if cgroups.available() else "bwrap, per-process limits"


def _grade_one(path, ctx, seen, book):
    grade = StudentGrade(path.stem.lower(), path.name)
    if grade.student_id in seen:  # e.g. E01.zip and e01.zip: the first one's feedback stays
        grade.cells["archive"] = Cell("error", f"same ID as {seen[grade.student_id]}")
        grade.fill("not graded")
        return grade, False
    seen[grade.student_id] = path.name
    try:
        grade_submission(path, ctx, grade)
    except Exception:  # a grader fault must not stop the class, nor reach the student
        grade.fill(GRADER_ERROR)
        grade.notes.append(GRADER_ERROR)
        book.log(grade.student_id, traceback.format_exc())
    grade.fill("not graded")
    return grade, True


def _record(book, grade, own, feedback, run):
    """Append the row and write the feedback; a full disk stops the class in one line."""
    seed, timeout, class_inputs, how = run
    try:
        if own:
            text = feedback_text(grade, seed, timeout).encode()
            atomic_write(feedback / f"{grade.student_id}.txt", lambda f: f.write(text))
        book.append(grade, seed, class_inputs, how)
    except OSError as e:
        raise SubmissionError(f"cannot write {e.filename or book.path} ({e.strerror}) while recording "
                              f"{grade.student_id}; the rows before it are kept: make room and rerun "
                              "with --resume") from None


def grade_class(submissions, out, inputs="input_files", seed=None, timeout=10.0, memory_mb=1024,
                feedback=None, limits=ZipLimits(), progress=None, sandbox=True, resume=False):
    """Grade every *.zip of the folder `submissions` into the CSV `out` (appended row by row) and
    the feedback texts (folder `feedback`, default submissions/feedback/ID.txt). Fresh inputs come
    from `seed` (drawn at random when None; with `resume`, the CSV's). `progress(grade)` is called
    after each zip. Raises SubmissionError (one line) for unusable options, folders or sandbox
    before any student, never for a student's zip; Interrupted on SIGINT/SIGTERM.
    """
    submissions, start = Path(submissions), time.monotonic()
    _check_options(seed, timeout, memory_mb)
    zips = _zips(submissions)
    book = Gradebook(out, resume)
    load_folder(inputs, INPUT_SHAPES)  # unusable class inputs stop here, before any student
    class_inputs = inputs_id(inputs)
    seed = book.check_resume(seed, class_inputs)
    seed = secrets.randbelow(2 ** 32) if seed is None else seed
    feedback = _feedback_folder(feedback, submissions)
    grades, seen = [], {row["id"]: row["file"] for row in book.rows}
    with tempfile.TemporaryDirectory(prefix="grade-class-") as work, _signals_raise():
        if sandbox:
            probe(work)
        how = _sandbox_label(sandbox)
        ctx = _context(inputs, seed, timeout, memory_mb, limits, Path(work), sandbox)
        book.start()
        for path in zips:
            if path.stem.lower() in book.done:
                continue
            grade, own = _grade_one(path, ctx, seen, book)
            _record(book, grade, own, feedback, (seed, timeout, class_inputs, how))
            grades.append(grade)
            if progress:
                progress(grade)
    return ClassGrades(grades, seed, time.monotonic() - start, book.path, feedback,
                       skipped=len(book.done))
