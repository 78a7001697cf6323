"""python -m code_base.submission {make-inputs,run,grade,pack,grade-class}: the hand-in files' command line.

Exit codes: 0 success, 1 a graded check failed (or, for run, a function not written or failing), 2 unusable inputs (one line on stderr), 130 on
Ctrl-C.  See code_base/submission/grader.py for what `grade` checks, handin_cli.py for pack and
classgrade/cli.py for grade-class (the instructor's; the student release does not have it).
"""

import argparse
import importlib
import importlib.util
import os
import sys

from ..utils.cli import ArgumentParser, non_negative_int
from .compute import DEFAULT_DROPOUT_SEED, DEFAULT_INPUT_SEED, make_inputs, run, summary_table
from ..check.runner import describe_error, todo_reason
from .files import INPUT_SHAPES, OUTPUT_SHAPES, SubmissionError, write_folder
from .grader import BOUND_TEXT, grade, results_table
from . import handin_cli


def _command_modules():
    """The modules adding commands: pack, and grade-class where the class grader is present."""
    modules = [handin_cli]
    if importlib.util.find_spec(f"{__package__}.classgrade") is not None:
        modules.append(importlib.import_module(f"{__package__}.classgrade.cli"))
    return modules


def _parser():
    parser = ArgumentParser(prog="python -m code_base.submission", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("make-inputs", help="write random input files")
    p.add_argument("--seed", type=non_negative_int, default=DEFAULT_INPUT_SEED)
    p.add_argument("--out", default="input_files", help="folder to write (created if needed)")
    p.add_argument("--force", action="store_true",
                   help="replace the input files of a folder that has them already")
    p = sub.add_parser("run", help="compute the output files from the input files")
    p.add_argument("--inputs", default="input_files")
    p.add_argument("--outputs", default="output_files")
    p.add_argument("--seed", type=non_negative_int, default=DEFAULT_DROPOUT_SEED,
                   help="seed of the dropout masks")
    p = sub.add_parser("grade", help="check an output folder; exit code 1 if any check fails",
                       description="Grade an output folder. " + BOUND_TEXT)
    p.add_argument("--inputs", default="input_files")
    p.add_argument("--outputs", default="output_files")
    p.add_argument("--reference", default=None,
                   help="folder of reference conv/maxpool outputs (default: computed here)")
    for module in _command_modules():
        module.add_parsers(sub)
    return parser


def _check_fresh(folder, force):
    """make-inputs never replaces a folder's input files unless asked to."""
    there = sorted(n + ".csv" for n in INPUT_SHAPES if os.path.exists(os.path.join(folder, n + ".csv")))
    if there and not force:
        raise SubmissionError(f"{folder} has input files already ({len(there)} of "
                              f"{len(INPUT_SHAPES)}, e.g. {there[0]}); add --force to replace them")


def _run(args):
    """`run`: write the outputs of the functions that run; one line for each that does not."""
    outputs, failures = run(args.inputs, args.outputs, args.seed, partial=True)
    if outputs:
        print(summary_table(outputs))
    print(f"wrote {len(outputs)} of {len(OUTPUT_SHAPES)} files to {args.outputs}")
    for function, error in failures.items():
        if isinstance(error, NotImplementedError):
            print(f"{function}: {todo_reason(function, error)}")
        else:
            print(f"error: {function} fails on {args.inputs}: {describe_error(error)}", file=sys.stderr)
    return 1 if failures else 0


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        for module in _command_modules():
            if args.command in module.COMMANDS:
                return module.run_command(args)
        if args.command == "make-inputs":
            _check_fresh(args.out, args.force)
            write_folder(args.out, make_inputs(args.seed))
            print(f"wrote {len(INPUT_SHAPES)} input files to {args.out} (seed {args.seed})")
        elif args.command == "run":
            return _run(args)
        else:
            results = grade(args.inputs, args.outputs, args.reference)
            print(results_table(results))
            failed = sum(not r.passed for r in results)
            print(f"{len(results) - failed} checks passed, {failed} failed")
            return 1 if failed else 0
    except SubmissionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: nothing half-written was left (files are written whole or not at all)",
              file=sys.stderr)
        sys.exit(130)
