"""The assignment's hand-in files: make inputs, compute the ten outputs, grade an output folder.

    python -m code_base.submission make-inputs --seed 2017 --out input_files
    python -m code_base.submission run   --inputs input_files --outputs output_files [--seed 0]
    python -m code_base.submission grade --inputs input_files --outputs output_files [--reference DIR]
    python -m code_base.submission pack  --id e0123456g [--out DIR] [--root DIR]
    python -m code_base.submission grade-class --submissions DIR --out grades.csv [--seed S] ...

:mod:`.files` holds the CSV format (names, shapes, reading, atomic writing), :mod:`.compute` the
assignment's calls on the inputs, :mod:`.grader` the checks of a student's outputs. The hand-in:
:mod:`.handin` (its rules), :mod:`.packer` (`pack`, the student's zip).  The instructor's
:mod:`.classgrade` (grading a class of zips) is a subpackage of its own, imported as
``code_base.submission.classgrade``; the student release does not have it.
"""

from .compute import (CONV_BACKWARD_PARAM, CONV_FORWARD_PARAM, DEFAULT_DROPOUT_SEED,
                      DEFAULT_INPUT_SEED, DROPOUT_BACKWARD_P, DROPOUT_FORWARD_P, GRID,
                      INPUT_BOUND, POOL_PARAM,
                      compute_deterministic, compute_dropout, compute_outputs, make_inputs, run,
                      summary_table)
from .files import (INPUT_SHAPES, OUTPUT_SHAPES, MissingFileError, SubmissionError, file_name,
                    format_array, load_array, load_folder, parse_values, write_folder)
from .grader import BOUND_TEXT, CheckResult, drop_bound, grade, results_table
from .handin import count_pages, student_id
from .packer import PackError, PackResult, pack, pack_listing

__all__ = [
    "CONV_FORWARD_PARAM", "CONV_BACKWARD_PARAM", "POOL_PARAM", "DROPOUT_FORWARD_P",
    "DROPOUT_BACKWARD_P", "DEFAULT_INPUT_SEED", "DEFAULT_DROPOUT_SEED", "GRID", "INPUT_BOUND",
    "make_inputs", "compute_deterministic", "compute_dropout", "compute_outputs", "run",
    "summary_table",
    "INPUT_SHAPES", "OUTPUT_SHAPES", "SubmissionError", "MissingFileError", "file_name",
    "format_array", "load_array", "load_folder", "parse_values", "write_folder",
    "BOUND_TEXT", "CheckResult", "drop_bound", "grade", "results_table",
    "student_id", "count_pages", "PackError", "PackResult", "pack", "pack_listing",
]
