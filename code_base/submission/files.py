"""File formats of the assignment's CSV submission: names, shapes, reading, atomic writing.

Every array travels as text, flattened in C (row-major) order, one value per line for the
convolution and max-pool files and as rows of space-separated values for the dropout files.
Values are written with '%.18e' (19 significant figures), enough to round-trip float64.
Readers accept commas or whitespace between values, as the original 2017 files used both, and a
UTF-8 byte order mark at the start (some editors and spreadsheets write one).
"""
import io
import os
import shutil
import warnings

import numpy as np

from ..utils.fileio import (atomic_write, carry_over, check_replaceable, recover_folder,
                            replace_folder, sibling)

VALUE_FORMAT = '%.18e'

# name (without .csv) -> shape of the array the file holds.
INPUT_SHAPES = {
    'conv_forward_in_x': (2, 3, 6, 6),
    'conv_forward_in_w': (3, 3, 4, 4),
    'conv_forward_in_b': (3,),
    'conv_backward_in_x': (4, 3, 5, 5),
    'conv_backward_in_w': (2, 3, 3, 3),
    'conv_backward_in_b': (2,),
    'conv_backward_in_dout': (4, 2, 5, 5),
    'maxpool_forward_in_x': (3, 3, 8, 8),
    'maxpool_backward_in_x': (3, 2, 10, 10),
    'maxpool_backward_in_dout': (3, 2, 5, 5),
    'dropout_forward_in_x': (20, 20),
    'dropout_backward_in_x': (10, 10),
    'dropout_backward_in_dout': (10, 10),
}

OUTPUT_SHAPES = {
    'conv_forward_out': (2, 3, 3, 3),
    'conv_backward_out_dx': (4, 3, 5, 5),
    'conv_backward_out_dw': (2, 3, 3, 3),
    'conv_backward_out_db': (2,),
    'maxpool_forward_out': (3, 3, 4, 4),
    'maxpool_backward_out': (3, 2, 10, 10),
    'dropout_forward_out_train': (20, 20),
    'dropout_forward_out_test': (20, 20),
    'dropout_backward_out_train': (10, 10),
    'dropout_backward_out_test': (10, 10),
}


class SubmissionError(ValueError):
    """A user-facing problem with a submission folder (bad count, unparseable text, ...)."""


class MissingFileError(SubmissionError, FileNotFoundError):
    """A file the submission format requires is not there."""


def file_name(name):
    return name + '.csv'


def is_two_dimensional(name):
    """Dropout files are written as rows (2-D); all others one value per line."""
    return name.startswith('dropout_')


def parse_values(path):
    """Read every number of a text file, comma- or whitespace-delimited, as a flat float64 array.

    Raises MissingFileError if absent and SubmissionError if the text is not a table of numbers.
    """
    try:
        with open(path, encoding='utf-8-sig') as f:  # -sig: a leading byte order mark is skipped
            text = f.read()
    except FileNotFoundError:
        raise MissingFileError(f'{path}: file not found') from None
    except IsADirectoryError:
        raise SubmissionError(f'{path}: is a folder, not a file') from None
    except UnicodeDecodeError:
        raise SubmissionError(f'{path}: not a text file (it holds bytes that are not UTF-8 text)') from None
    except OSError as e:
        raise SubmissionError(f'{path}: cannot be read ({e.strerror})') from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # an empty file warns; its count of 0 is reported instead
            values = np.loadtxt(io.StringIO(text.replace(',', ' ')), dtype=np.float64, ndmin=1)
    except ValueError as e:
        raise SubmissionError(f'{path}: not a table of numbers ({e})') from None
    return values.ravel()


def load_array(folder, name, shape, finite=True):
    """Load `folder/name.csv` and reshape it (C order) to `shape`.

    Raises MissingFileError / SubmissionError naming the file, the expected shape and the count found.
    With finite=True, NaN or infinite values are an error too.
    """
    path = os.path.join(folder, file_name(name))
    try:
        values = parse_values(path)
    except MissingFileError:
        raise MissingFileError(f'{path}: file not found (expected an array of shape {shape})') from None
    expected = int(np.prod(shape))
    if values.size != expected:
        raise SubmissionError(f'{path}: expected {expected} values for shape {shape}, '
                              f'found {values.size}')
    if finite and not np.all(np.isfinite(values)):
        raise SubmissionError(f'{path}: {np.count_nonzero(~np.isfinite(values))} values are NaN or infinite')
    return values.reshape(shape)


def load_folder(folder, shapes):
    """Load every `name -> shape` of `shapes` from `folder`; the first problem raises."""
    if not os.path.isdir(folder):
        if os.path.exists(folder):
            raise SubmissionError(f'{folder}: is a file, not a folder')
        raise MissingFileError(f'{folder}: folder not found')
    return {name: load_array(folder, name, shape) for name, shape in shapes.items()}


def format_array(name, array):
    """Text of one file: 2-D rows for dropout arrays, else the C-order ravel one per line."""
    buf = io.StringIO()
    array = np.asarray(array) + 0.0  # -0.0 (e.g. a negative gradient times a 0 mask) prints as 0
    if is_two_dimensional(name):
        np.savetxt(buf, np.atleast_2d(array), fmt=VALUE_FORMAT)
    else:
        np.savetxt(buf, np.ravel(array, order='C'), fmt=VALUE_FORMAT)
    return buf.getvalue()


def write_folder(folder, arrays, remove=()):
    """Write each `name -> array` to `folder/name.csv`, replacing the folder in one step.

    The files are written into a sibling folder, with the files of `folder` that are not
    rewritten (anything but the `name.csv` files), which then takes the place of `folder`
    (see code_base.utils.fileio): a reader, or a crash, sees all the old files or all the new
    ones. `folder` is created if needed. Raises SubmissionError, before anything is written,
    when `folder` is a file or holds subfolders, and when it cannot be written.  The files named
    in `remove` are not carried over.
    """
    owned = {file_name(name) for name in arrays} | set(remove)
    staging = sibling(folder, 'staging')
    try:
        check_replaceable('output folder', folder, owned)
    except (OSError, ValueError) as e:
        raise SubmissionError(str(e)) from None
    try:
        recover_folder(folder, staging)
        shutil.rmtree(staging, ignore_errors=True)  # a run killed before its swap
        os.makedirs(staging)
        try:
            for name, array in arrays.items():
                text = format_array(name, array).encode()
                atomic_write(os.path.join(staging, file_name(name)), lambda f: f.write(text))
            carry_over(folder, staging, owned)
            replace_folder(staging, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as e:
        raise SubmissionError(f'{folder}: cannot write the files ({e.strerror or e})') from None
