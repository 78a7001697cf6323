"""The hand-in's rules, shared by `pack` (the student's side) and `grade-class` (the instructor's).

The assignment asks for "1) your code files in a folder code_base, 2) output files in output_files,
3) a short report (1-2 pages) in pdf titled report.pdf", zipped "under a folder named with your
NUSNET ID: eg. e0123456g.zip", and "do not include the CIFAR data files".

Student IDs are 1 to 32 ASCII letters and digits. They are case-insensitive and written in lower
case, as in the example: `pack --id E0123456G` writes e0123456g.zip holding the folder e0123456g/.
"""
import contextlib
import fnmatch
import logging
import re
import zipfile
from pathlib import PurePosixPath

import numpy as np

from ..check import calls
from .files import SubmissionError

__all__ = ["CODE_DIR", "OUTPUT_DIR", "REPORT", "REPORT_PAGES", "FUNCTIONS", "FUNCTION_OUTPUTS",
           "student_id", "is_cifar_name", "is_junk", "holds_images", "count_pages"]

CODE_DIR, OUTPUT_DIR, REPORT = "code_base", "output_files", "report.pdf"
REPORT_PAGES = (1, 2)
_ID = re.compile(r"[a-z0-9]{1,32}")

# The functions the assignment has students write, and the output files each one produces.
FUNCTIONS = calls.FUNCTIONS
FUNCTION_OUTPUTS = calls.FUNCTION_OUTPUTS

# CIFAR-10's python batches, its archives and folders (any case).
_CIFAR_PATTERNS = ("data_batch_*", "test_batch", "batches.meta", "cifar-10*", "cifar10*", "cifar-100*")
# Build and OS litter, never part of a hand-in: left out by pack, not extracted by grade-class.
_JUNK_DIRS = ("__pycache__", "__MACOSX", ".*", "*.egg-info")  # .* : .git, .ipynb_checkpoints, ...
_JUNK_FILES = ("*.pyc", "*.pyo", ".DS_Store", "._*", "Thumbs.db", "*~", "*.swp")


def student_id(value):
    """The student ID `value` in lower case; SubmissionError unless it is letters and digits."""
    text = str(value).strip().lower()
    if not _ID.fullmatch(text):
        raise SubmissionError(f"student ID {value!r}: use 1 to 32 letters and digits only "
                              "(e.g. e0123456g)")
    return text


def _parts(path):
    return PurePosixPath(str(path).replace("\\", "/")).parts


def _matches(name, patterns):
    return any(fnmatch.fnmatch(name.lower(), p.lower()) for p in patterns)


def is_cifar_name(path):
    """True when a component of `path` is named like CIFAR-10 data (data_batch_1, cifar-10-...)."""
    return any(_matches(part, _CIFAR_PATTERNS) for part in _parts(path))


def is_junk(path):
    """True for caches and OS litter (__pycache__/, hidden folders, *.pyc, __MACOSX/, .DS_Store, ...)."""
    parts = _parts(path)
    return (any(_matches(p, _JUNK_DIRS) for p in parts[:-1])
            or bool(parts) and (_matches(parts[-1], _JUNK_FILES) or _matches(parts[-1], _JUNK_DIRS)))


def _image_shaped(shape):
    """One or more 32x32 colour images: (..., 3, 32, 32), (..., 32, 32, 3) or rows of 3072 values."""
    return (tuple(shape[-3:]) in ((3, 32, 32), (32, 32, 3))
            or (len(shape) >= 2 and shape[-1] == 3 * 32 * 32))


def _npy_shape(f):
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)[0]
    return np.lib.format.read_array_header_2_0(f)[0]


def holds_images(path):
    """True when the .npy / .npz file `path` holds an image-shaped array (only headers are read).

    A file whose header cannot be read counts as holding images: it cannot be shown not to.
    """
    try:
        if str(path).lower().endswith(".npz"):
            with zipfile.ZipFile(path) as z:
                names = [n for n in z.namelist() if n.endswith(".npy")]
                shapes = []
                for n in names:
                    with z.open(n) as f:
                        shapes.append(_npy_shape(f))
        else:
            with open(path, "rb") as f:
                shapes = [_npy_shape(f)]
    except (OSError, ValueError, zipfile.BadZipFile):
        return True
    return any(_image_shaped(s) for s in shapes)


@contextlib.contextmanager
def _quiet(logger_name):
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)  # pypdf logs every repaired defect; the verdict is enough
    try:
        yield
    finally:
        logger.setLevel(level)


def count_pages(path):
    """The number of pages of the PDF file `path` (read with pypdf, pure Python).

    Raises SubmissionError naming the file when it is missing, not a PDF, damaged beyond what
    pypdf repairs, or encrypted with a password.
    """
    import pypdf

    try:
        with open(path, "rb") as f:
            head = f.read(1024)
            if b"%PDF-" not in head:
                raise SubmissionError(f"{path}: not a PDF (no %PDF- header)")
            f.seek(0)
            with _quiet("pypdf"):
                reader = pypdf.PdfReader(f, strict=False)
                if reader.is_encrypted and not reader.decrypt(""):
                    raise SubmissionError(f"{path}: the PDF is encrypted; save it without a password")
                return len(reader.pages)
    except FileNotFoundError:
        raise SubmissionError(f"{path}: file not found") from None
    except SubmissionError:
        raise
    except Exception as e:  # pypdf raises many kinds on damaged files; all mean "unreadable"
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise SubmissionError(f"{path}: not a readable PDF ({reason[:100]})") from None
