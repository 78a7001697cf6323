"""grades.csv as it is written: checked before the first student, one row appended per student.

Each row is appended, flushed and fsynced as soon as its student is graded, so Ctrl-C, SIGTERM or
a killed grader keep every finished row, and `--resume` skips the students already there. Every
row records the fresh inputs' seed and the class inputs' hash (`inputs`): a resume with other
inputs is refused. A grader fault's details go to the instructor's log beside it (grades.log),
never to a student's cell.
"""
import csv
import hashlib
import io
import os
import tempfile
import time
from pathlib import Path

from ..files import SubmissionError
from .report import COLUMNS, clean

__all__ = ["HEADER", "NO_SANDBOX", "Gradebook", "probe_writable", "inputs_id"]

HEADER = ["id", "file", "release", *COLUMNS, "passed", "report_pages", "seed", "inputs", "sandbox"]
NO_SANDBOX = "NONE (--no-sandbox)"


def probe_writable(folder, what):
    """SubmissionError (one line) unless a file can be created in `folder` (an existing folder)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SubmissionError(f"{what}: {folder} is not a folder")
    try:
        fd, name = tempfile.mkstemp(prefix=".probe-", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as e:
        raise SubmissionError(f"{what}: cannot write in {folder} ({e.strerror})") from None


def inputs_id(folder):
    """A short hash of the class's input files (their names and bytes)."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).glob("*.csv")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


class Gradebook:
    """The CSV `path` and its log; `done` holds the IDs already graded (with `resume`)."""

    def __init__(self, path, resume=False):
        self.path = Path(path)
        self.log_path = self.path.with_suffix(".log")
        if self.path.is_dir():
            raise SubmissionError(f"--out {self.path}: is a folder; name the CSV file to write, "
                                  "e.g. grades.csv")
        probe_writable(self.path.parent, f"--out {self.path}")
        self.rows = []
        if self.path.exists() and not resume:
            raise SubmissionError(f"--out {self.path}: exists; add --resume to continue it, or name "
                                  "another file")
        if self.path.exists():
            self.rows = self._read()
        self.done = {row["id"] for row in self.rows}

    def _read(self):
        try:
            with open(self.path, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                if reader.fieldnames != HEADER:
                    raise SubmissionError(f"--resume: {self.path} is not a grades.csv of this grader "
                                          "(other columns)")
                return list(reader)
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise SubmissionError(f"--resume: cannot read {self.path} ({e})") from None

    def check_resume(self, seed, inputs):
        """The seed to use: the CSV's when `seed` is None; SubmissionError if the rows disagree."""
        seeds = {row["seed"] for row in self.rows}
        if {row["inputs"] for row in self.rows} - {inputs}:
            raise SubmissionError(f"--resume: {self.path} was graded on other class inputs; "
                                  "use the same --inputs or another --out")
        if len(seeds) > 1 or (seed is not None and seeds - {str(seed)}):
            raise SubmissionError(f"--resume: {self.path} was graded with seed "
                                  f"{', '.join(sorted(seeds))}, not {seed}; drop --seed or use another --out")
        return int(next(iter(seeds))) if seeds and seed is None else seed

    def start(self):
        if not self.path.exists():
            self._append([HEADER])

    def append(self, grade, seed, inputs, sandbox):
        row = [grade.student_id, clean(grade.file), clean(grade.release),
               *(clean(str(grade.cell(c))) for c in COLUMNS), grade.passed,
               "" if grade.pages is None else grade.pages, seed, inputs,
               sandbox]
        self._append([row])

    def _append(self, rows):
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(buf.getvalue())
            f.flush()
            os.fsync(f.fileno())

    def log(self, student, text):
        """Append the grader's own details (a fault's traceback) to the instructor's log."""
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {student}: {text.rstrip()}\n")
