"""Grade a folder of submitted output files against the input files.

Checks, per output file:
  file       present, parseable (comma- or whitespace-delimited numbers), right number of values;
             any layout (rows or one per line) is accepted, the values being read in C order.
  conv_* / maxpool_*   rel error <= 1e-6 against this implementation's results (or a reference folder),
             rel error = max |a - b| / max(1e-8, |a| + |b|), the assignment's measure.
  dropout_*_test       rel error <= 1e-6 against the input x (forward) / upstream gradient dout (backward).
  dropout_*_train      values: every nonzero entry equals x / (1 - p) (forward) or dout / (1 - p)
             (backward) to rel error 1e-6, and 0 where x (dout) is 0;
             drop fraction: the number k of zeroed entries among the n entries with x (dout) != 0 is
             binomially plausible for drop probability p: |k - n p| <= 4 sqrt(n p (1 - p)) + 1.
A correct submission fails the drop-fraction bound with probability below 1e-4.
"""
import dataclasses
import math
import os

import numpy as np

from ..gradient_check import rel_error
from .compute import DROPOUT_BACKWARD_P, DROPOUT_FORWARD_P, compute_deterministic
from .files import (INPUT_SHAPES, OUTPUT_SHAPES, MissingFileError, SubmissionError, file_name,
                    load_folder, parse_values)

__all__ = ["TOLERANCE", "BOUND_TEXT", "CheckResult", "drop_bound", "check_close",
           "check_dropout_train", "read_output", "grade", "results_table"]

TOLERANCE = 1e-6
BOUND_SIGMAS = 4.0
BOUND_TEXT = ('Dropout train outputs pass when every entry is 0 or x/(1-p) (dout/(1-p)) to rel error 1e-6 '
              'and the number k of dropped entries out of the n with x (dout) != 0 satisfies '
              '|k - n p| <= 4 sqrt(n p (1-p)) + 1. Other outputs: rel error <= 1e-6.')


@dataclasses.dataclass
class CheckResult:
    file: str
    check: str
    measured: float | None  # error, fraction dropped, or None when the file could not be read
    limit: str
    passed: bool
    note: str = ''


def drop_bound(n, p):
    """Largest |k - n p| a correct dropout mask of n units with drop probability p may show."""
    return BOUND_SIGMAS * math.sqrt(n * p * (1 - p)) + 1


def check_close(file, values, expected, what):
    err = rel_error(values, np.ravel(expected))
    return CheckResult(file, f'rel error vs {what}', err, f'<= {TOLERANCE:g}', bool(err <= TOLERANCE))


def check_dropout_train(file, values, source, p, what):
    """`values` should be `source` with a random fraction ~p of entries zeroed, the rest scaled 1/(1-p)."""
    source = np.ravel(source)
    kept = values != 0
    err = rel_error(values[kept], source[kept] / (1 - p))
    value_check = CheckResult(file, f'nonzero == {what}/(1-p)', err, f'<= {TOLERANCE:g}',
                              bool(err <= TOLERANCE))
    unambiguous = source != 0
    n = int(np.count_nonzero(unambiguous))
    k = int(np.count_nonzero(~kept & unambiguous))
    bound = drop_bound(n, p)
    lo, hi = math.ceil(n * p - bound), math.floor(n * p + bound)
    fraction = k / n if n else float('nan')
    fraction_check = CheckResult(file, 'fraction dropped', fraction,
                                 f'p={p:g}: {max(lo, 0)}..{min(hi, n)} of {n}',
                                 bool(n and abs(k - n * p) <= bound), f'{k} of {n}')
    return [value_check, fraction_check]


def read_output(folder, name, shape):
    """(values, None) or (None, failed CheckResult) for one submitted file."""
    file = file_name(name)
    expected = int(np.prod(shape))
    limit = f'{expected} values {shape}'
    try:
        values = parse_values(os.path.join(folder, file))
    except MissingFileError:
        return None, CheckResult(file, 'file', None, limit, False, 'missing')
    except SubmissionError as e:
        reason = str(e).split(': ', 1)[-1]  # drop the path, the table names the file
        return None, CheckResult(file, 'file', None, limit, False, reason)
    if values.size != expected:
        return None, CheckResult(file, 'file', values.size, limit, False, f'found {values.size} values')
    return values, CheckResult(file, 'file', values.size, limit, True, f'{values.size} values')


def grade(inputs, outputs, reference=None):
    """Check the output folder `outputs` made from the input folder `inputs`; list of CheckResult.

    conv/maxpool files are compared with this implementation's results, or with the files of the
    folder `reference` when given. Raises MissingFileError / SubmissionError if `inputs` or
    `reference` cannot be read or `outputs` is not a folder (the files in it never raise: their
    problems are failed checks).
    """
    given = load_folder(inputs, INPUT_SHAPES)
    if not os.path.isdir(outputs):
        raise MissingFileError(f'{outputs}: the outputs folder does not exist')
    deterministic_shapes = {n: s for n, s in OUTPUT_SHAPES.items() if not n.startswith('dropout_')}
    if reference is None:
        expected = compute_deterministic(given)
    else:
        expected = load_folder(reference, deterministic_shapes)
    sources = {
        'dropout_forward': (given['dropout_forward_in_x'], DROPOUT_FORWARD_P, 'x'),
        'dropout_backward': (given['dropout_backward_in_dout'], DROPOUT_BACKWARD_P, 'dout'),
    }
    results = []
    for name, shape in OUTPUT_SHAPES.items():
        values, file_check = read_output(outputs, name, shape)
        results.append(file_check)
        if values is None:
            continue
        file = file_name(name)
        if name in deterministic_shapes:
            results.append(check_close(file, values, expected[name],
                                       'reference' if reference else 'this implementation'))
            continue
        source, p, what = sources[name.rsplit('_out_', 1)[0]]
        if name.endswith('_test'):
            results.append(check_close(file, values, source, f'input {what}'))
        else:
            results.extend(check_dropout_train(file, values, source, p, what))
    return results


def results_table(results):
    rows = [f'{"file":32} {"check":32} {"measured":>12} {"limit":>26}  result']
    for r in results:
        measured = r.note if r.note and r.check == 'file' else (
            'n/a' if r.measured is None else f'{r.measured:.3g}')
        if r.check == 'fraction dropped':
            measured = f'{r.measured:.3f} ({r.note})'
        rows.append(f'{r.file:32} {r.check:32} {measured:>12} {r.limit:>26}  {"pass" if r.passed else "FAIL"}')
    return '\n'.join(rows)
