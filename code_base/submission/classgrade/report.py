"""What `grade-class` reports: the cells of a student's row, grades.csv, feedback texts, the table.

A row has one cell per check (COLUMNS): `archive` (the zip is safe and has the student's folder),
`layout` (code_base/layers.py, output_files/ and report.pdf are there; extra files are listed),
`report` (a PDF of 1-2 pages), `outputs:FUNCTION` (the student's output files of that function,
graded against the official inputs) and `code:FUNCTION` (the student's own code run on fresh
inputs, graded the same way). A cell reads "pass", "fail: why" (a wrong answer), "not
implemented: why" (the release's stub still raises NotImplementedError) or "error: why" (nothing
to grade: refused archive, exception, timeout, missing function, ...). Every text that reaches a
cell or a feedback file goes through `clean`: control characters escaped, one line.
"""
import csv
import dataclasses
import io
import re

from ..files import file_name
from ..grader import results_table
from ..handin import FUNCTION_OUTPUTS, FUNCTIONS

__all__ = ["clean", "COLUMNS", "Cell", "StudentGrade", "cell_from_results", "csv_text", "feedback_text",
           "grades_table", "problems_text"]

COLUMNS = (("archive", "layout", "report") + tuple(f"outputs:{f}" for f in FUNCTIONS)
           + tuple(f"code:{f}" for f in FUNCTIONS))
_SHORT = {"conv_forward": "conv_f", "conv_backward": "conv_b", "max_pool_forward": "pool_f",
          "max_pool_backward": "pool_b", "dropout_forward": "drop_f", "dropout_backward": "drop_b"}


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def clean(text):
    """`text` as one printable line: control characters (escape codes, newlines) as \\xNN."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1] if m.group() not in "\n\r\t"
                        else {"\n": "\\n", "\r": "\\r", "\t": "\\t"}[m.group()], str(text))


@dataclasses.dataclass
class Cell:
    status: str  # 'pass', 'fail', 'not implemented' or 'error'
    reason: str = ""

    @property
    def passed(self):
        return self.status == "pass"

    def __str__(self):
        if self.passed:
            return f"pass ({self.reason})" if self.reason else "pass"
        return f"{self.status}: {self.reason}" if self.reason else self.status


@dataclasses.dataclass
class StudentGrade:
    """One submission's grade: a Cell per column, the report's pages, notes for the feedback."""
    student_id: str
    file: str
    release: str = ""  # "release" of the hand-in's code_base/RELEASE.json
    cells: dict = dataclasses.field(default_factory=dict)
    pages: int | None = None
    notes: list = dataclasses.field(default_factory=list)
    output_results: list | None = None  # CheckResults of the submitted output files
    code_results: list | None = None  # CheckResults of the outputs of the student's code
    runs: dict = dataclasses.field(default_factory=dict)  # function -> CodeRun

    @property
    def passed(self):
        return sum(self.cell(c).passed for c in COLUMNS)

    def cell(self, column):
        return self.cells.get(column, Cell("error", "not graded"))

    def fill(self, reason):
        """Give every column not graded yet an error cell with `reason`."""
        for column in COLUMNS:
            self.cells.setdefault(column, Cell("error", reason))


def _describe(result):
    if result.check == "file":
        return f"{result.file}: {result.note or 'unreadable'} (expected {result.limit})"
    if result.check == "fraction dropped":
        return f"{result.file}: dropped {result.note} (expected {result.limit})"
    return f"{result.file}: {result.check} = {result.measured:.2g} (limit {result.limit})"


def cell_from_results(results, function, note=""):
    """The cell of `function` from grader CheckResults: pass if all its files' checks pass."""
    files = {file_name(name) for name in FUNCTION_OUTPUTS[function]}
    failed = [r for r in results if r.file in files and not r.passed]
    if not failed:
        return Cell("pass", note)
    more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
    return Cell("fail", _describe(failed[0]) + more)


def csv_text(grades):
    """grades.csv: id, file, one column per check, passed (of len(COLUMNS)), report_pages."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["id", "file", *COLUMNS, "passed", "report_pages"])
    for sheet in grades:
        writer.writerow([sheet.student_id, sheet.file, *(str(sheet.cell(c)) for c in COLUMNS), sheet.passed,
                         "" if sheet.pages is None else sheet.pages])
    return buf.getvalue()


def _mark(cell):
    return {"pass": "pass", "fail": "FAIL", "not implemented": "TODO"}.get(cell.status, "ERROR")


def grades_table(grades):
    """A compact table of the class: one row per student, one mark per check."""
    short = [_SHORT[f] for f in FUNCTIONS]
    head = f"{'id':12} {'archive':7} {'layout':6} {'report':6} {'pages':>5} | "
    block = " ".join(f"{s:6}" for s in short)
    rows = [" " * len(head) + f"{'outputs, official inputs':{len(block)}} | code, fresh inputs",
            head + block + " | " + block + " | passed"]
    for sheet in grades:
        marks = [f"{_mark(sheet.cell(c)):6}" for c in COLUMNS]
        pages = "" if sheet.pages is None else str(sheet.pages)
        rows.append(f"{sheet.student_id:12} {marks[0]:7} {marks[1]} {marks[2]} {pages:>5} | "
                    + " ".join(marks[3:9]) + " | " + " ".join(marks[9:]) + f" | {sheet.passed:2d}/{len(COLUMNS)}")
    return "\n".join(rows)


def problems_text(grades, width=150):
    """One line per cell that did not pass: id, column, the cell's text (cut to `width`)."""
    lines = []
    for sheet in grades:
        for column in COLUMNS:
            cell = sheet.cell(column)
            if not cell.passed:
                lines.append(clean(f"{sheet.student_id:12} {column:25} {cell}")[:width])
    return "\n".join(lines)


def feedback_text(grade, seed, timeout):
    """The feedback for one student: every cell, the notes, and the grader's tables."""
    lines = [f"Feedback for {grade.student_id} ({grade.file}): "
             f"{grade.passed} of {len(COLUMNS)} checks passed.", ""]
    if grade.release:
        lines[-1:-1] = [f"Release of your kit: {clean(grade.release)}"]
    lines += [f"{column:25} {clean(grade.cell(column))}" for column in COLUMNS]
    if grade.notes:
        lines += ["", "Notes:"] + [f"- {clean(note)}" for note in grade.notes]
    if grade.output_results:
        lines += ["", "Your output_files, against the official input files:",
                  results_table(grade.output_results)]
    if grade.code_results:
        lines += ["", f"Your code_base, run on fresh inputs (seed {seed}, at most {timeout:g} s "
                      "per function), graded the same way:", results_table(grade.code_results)]
    return "\n".join(lines) + "\n"
