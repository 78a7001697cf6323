"""`grade-class`, the instructor's command, added to `python -m code_base.submission`.

Exit codes: 0 when the class was graded, whatever the students' results; 2 for unusable
arguments or folders (one line).
"""
import sys

from ...utils.cli import non_negative_int
from ..files import SubmissionError
from .grade import grade_class
from .report import COLUMNS, grades_table, problems_text

__all__ = ["COMMANDS", "add_parsers", "run_command"]

COMMANDS = ("grade-class",)


def add_parsers(sub):
    p = sub.add_parser(
        "grade-class", help="grade a folder of hand-in zips: grades.csv and feedback",
        description="For every ID.zip: safe extraction, layout, report pages, the grader on the "
                    "student's output_files, then the student's code_base run on fresh inputs in "
                    "separate processes with a timeout and a memory limit. NOT a security sandbox: "
                    "grade untrusted hand-ins inside a container or VM (see README).")
    p.add_argument("--submissions", required=True, help="folder of ID.zip files")
    p.add_argument("--out", required=True, help="CSV file to write, e.g. grades.csv")
    p.add_argument("--inputs", default="input_files", help="the class's input files (default: %(default)s)")
    p.add_argument("--seed", type=non_negative_int, default=None,
                   help="seed of the fresh inputs (default: drawn at random and printed)")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="seconds each student function may run (default: %(default)s)")
    p.add_argument("--memory-mb", type=int, default=1024,
                   help="address-space limit of each student process (default: %(default)s)")
    p.add_argument("--feedback", default=None, help="folder of the feedback texts (default: SUBMISSIONS/feedback)")



def _grade_class(args):
    def progress(g):
        print(f"{g.student_id:12} {g.passed:2d}/{len(COLUMNS)}", flush=True)

    result = grade_class(args.submissions, args.out, inputs=args.inputs, seed=args.seed,
                         timeout=args.timeout, memory_mb=args.memory_mb, feedback=args.feedback,
                         progress=progress)
    grades = result.grades
    print()
    print(grades_table(grades))
    problems = problems_text(grades)
    if problems:
        print("\n" + problems)
    perfect = sum(g.passed == len(COLUMNS) for g in grades)
    print(f"\n{len(grades)} submissions graded in {result.seconds:.1f} s "
          f"({result.seconds / len(grades):.2f} s each), {perfect} passed every check; "
          f"fresh inputs from seed {result.seed}")
    print(f"wrote {result.csv_path} and the feedback in {result.feedback_dir}/")
    return 0


def run_command(args):
    """Run `grade-class`; the exit code. SubmissionError (exit 2) is left to the caller."""
    try:
        return _grade_class(args)
    except ValueError as e:  # an argument out of range: one line, like argparse's
        raise SubmissionError(str(e)) from None
