"""`grade-class`, the instructor's command, added to `python -m code_base.submission`.

Exit codes: 0 when the class was graded, whatever the students' results; 2 for unusable
arguments, folders or a missing sandbox (one line, before any student); 130/143 on
Ctrl-C/SIGTERM (every finished row kept: rerun with --resume).
"""
import sys

from ...utils.cli import non_negative_int
from ..files import SubmissionError
from .run_class import MAX_MEMORY_MB, MAX_TIMEOUT, Interrupted, grade_class
from .sandbox import SandboxUnavailable
from .report import COLUMNS, grades_table, problems_text

__all__ = ["COMMANDS", "add_parsers", "run_command"]

COMMANDS = ("grade-class",)


def add_parsers(sub):
    p = sub.add_parser(
        "grade-class", help="grade a folder of hand-in zips: grades.csv and feedback",
        description="For every ID.zip: safe extraction, layout, report pages, the grader on the "
                    "student's output_files, then the student's code_base run on fresh inputs, "
                    "each call in its own bubblewrap sandbox (no network, read-only files, its own "
                    "PID namespace, memory/process/disk limits). Rows are appended to --out as "
                    "students are graded. See docs/grading.md.")
    p.add_argument("--submissions", required=True, help="folder of ID.zip files")
    p.add_argument("--out", required=True, help="CSV file to write, e.g. grades.csv (must not exist "
                   "unless --resume); the instructor's log goes beside it (grades.log)")
    p.add_argument("--resume", action="store_true",
                   help="continue --out: skip the students already in it (same inputs and seed)")
    p.add_argument("--no-sandbox", action="store_true",
                   help="run students' code without bubblewrap (every row says so); only for code you trust")
    p.add_argument("--inputs", default="input_files", help="the class's input files (default: %(default)s)")
    p.add_argument("--seed", type=non_negative_int, default=None,
                   help="seed of the fresh inputs (default: drawn at random and printed)")
    p.add_argument("--timeout", type=float, default=10.0,
                   help=f"seconds each student function may run, at most {MAX_TIMEOUT:g} (default: %(default)s)")
    p.add_argument("--memory-mb", type=int, default=1024,
                   help=f"memory of each student call (its cgroup where the system allows, else each process), "
                        f"at most {MAX_MEMORY_MB} (default: %(default)s)")
    p.add_argument("--feedback", default=None, help="folder of the feedback texts (default: SUBMISSIONS/feedback)")



def _grade_class(args):
    def progress(sheet):
        print(f"{sheet.student_id:12} {sheet.passed:2d}/{len(COLUMNS)}", flush=True)

    result = grade_class(args.submissions, args.out, inputs=args.inputs, seed=args.seed,
                         timeout=args.timeout, memory_mb=args.memory_mb, feedback=args.feedback,
                         progress=progress, sandbox=not args.no_sandbox, resume=args.resume)
    grades = result.grades
    if not grades:
        print(f"every submission is in {result.csv_path} already ({result.skipped}); nothing to grade")
        return 0
    print()
    print(grades_table(grades))
    problems = problems_text(grades)
    if problems:
        print("\n" + problems)
    perfect = sum(sheet.passed == len(COLUMNS) for sheet in grades)
    print(f"\n{len(grades)} submissions graded in {result.seconds:.1f} s "
          f"({result.seconds / len(grades):.2f} s each), {perfect} passed every check; "
          f"fresh inputs from seed {result.seed}")
    print(f"wrote {result.csv_path} and the feedback in {result.feedback_dir}/"
          + ("" if not args.no_sandbox else "; graded WITHOUT a sandbox (--no-sandbox)"))
    return 0


def run_command(args):
    """Run `grade-class`; the exit code. SubmissionError (exit 2) is left to the caller."""
    try:
        return _grade_class(args)
    except SandboxUnavailable as e:
        raise SubmissionError(str(e)) from None
    except ValueError as e:  # an argument out of range: one line, like argparse's
        raise SubmissionError(str(e)) from None
    except Interrupted as e:
        print(f"interrupted: the current student's sandbox was ended; finished rows are in "
              f"{args.out} (continue with --resume)", file=sys.stderr)
        return e.code
