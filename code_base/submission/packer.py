"""`pack`: the student's hand-in zip, ID.zip holding ID/code_base/, ID/output_files/, ID/report.pdf.

The sources are taken from the project folder `root`: by default the nearest of the current folder
and its parents that holds code_base/ (the repository, when run from inside it). Before anything
is written every check runs, and each failure is one line: the ID's form (handin.student_id),
root/output_files holding what the project's own code gives on root/input_files now, with
plausible dropout statistics (own_check; functions not written yet are listed, not refused),
report.pdf being a PDF of 1-2 pages, the --out folder being writable, and no CIFAR data (CIFAR-10 file names, .npy/.npz files of 32x32 images), virtual
environment, symbolic link or file over MAX_FILE_BYTES inside code_base/, nor more than
MAX_TOTAL_BYTES in all. __pycache__, *.pyc and OS litter are left out; so are files of output_files/
other than the ten outputs (pack lists them).

The zip is reproducible: members sorted, every timestamp 1980-01-01 00:00, modes 0644 (files)
and 0755 (folders), deflate level 9, so the same files give the same bytes (with the same zlib).
It is written to a temporary file beside its destination, then renamed into place.
"""
import dataclasses
import os
import zipfile
from pathlib import Path

from ..utils.fileio import atomic_write, zip_member
from .files import OUTPUT_SHAPES, SubmissionError, file_name
from .own_check import check_outputs
from .handin import (CODE_DIR, OUTPUT_DIR, REPORT, REPORT_PAGES, count_pages, holds_images,
                     is_cifar_name, is_junk, student_id)

__all__ = ["MAX_FILE_BYTES", "MAX_TOTAL_BYTES", "PackError", "PackResult", "find_root",
           "handin_members", "write_zip", "pack", "pack_listing"]

MAX_FILE_BYTES = 10 << 20
MAX_TOTAL_BYTES = 25 << 20


class PackError(SubmissionError):
    """The hand-in is not ready; `problems` holds one line per failed check."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclasses.dataclass
class PackResult:
    path: Path
    members: list  # (name in the zip, size in bytes), folders with size None
    zip_bytes: int
    left_out: list  # (path relative to root, why)
    pages: int
    unwritten: list = dataclasses.field(default_factory=list)  # functions still stubs (TODO)


def find_root(start=None):
    """The nearest of `start` (default: the current folder) and its parents holding code_base/."""
    start = Path.cwd() if start is None else Path(start)
    for folder in (start, *start.resolve().parents):
        if (folder / CODE_DIR).is_dir():
            return folder
    raise SubmissionError(f"{start}: no {CODE_DIR}/ folder here or above; run pack from your "
                          "project folder or pass --root")


def _walk_code(root, problems, left_out):
    files = []
    for folder, dirs, names in os.walk(root / CODE_DIR):
        here = Path(folder)
        rel = here.relative_to(root).as_posix()
        for d in sorted(dirs):
            if (here / d).is_symlink():
                problems.append(f"{rel}/{d}: a symbolic link; the hand-in holds plain files only")
            elif (here / d / "pyvenv.cfg").is_file():
                problems.append(f"{rel}/{d}: a virtual environment; move it out of {CODE_DIR}/")
            elif is_junk(f"{rel}/{d}/x"):
                left_out.append((f"{rel}/{d}/", "cache"))
        dirs[:] = sorted(d for d in dirs if not (here / d).is_symlink() and not is_junk(f"{rel}/{d}/x")
                         and not (here / d / "pyvenv.cfg").is_file())
        for name in sorted(names):
            path, arc = here / name, f"{rel}/{name}"
            if path.is_symlink():
                problems.append(f"{arc}: a symbolic link; the hand-in holds plain files only")
            elif is_junk(arc):
                left_out.append((arc, "cache"))
            elif is_cifar_name(arc) or (name.lower().endswith((".npy", ".npz")) and holds_images(path)):
                problems.append(f"{arc}: CIFAR data; the assignment says not to hand it in")
            else:
                files.append((arc, path))
    return files


def handin_members(root, sid):
    """(members, problems, left_out) of the hand-in in `root`: members are sorted (name, Path or
    None for a folder) under sid/, problems the failed size and content checks."""
    root, problems, left_out = Path(root), [], []
    files = _walk_code(root, problems, left_out)
    outputs = root / OUTPUT_DIR
    wanted = {file_name(n) for n in OUTPUT_SHAPES}
    if outputs.is_dir():
        files += [(f"{OUTPUT_DIR}/{n}", outputs / n) for n in sorted(wanted) if (outputs / n).is_file()]
        left_out += [(f"{OUTPUT_DIR}/{p.name}", "not one of the ten output files")
                     for p in sorted(outputs.iterdir()) if p.name not in wanted]
    if (root / REPORT).is_file():
        files.append((REPORT, root / REPORT))
    total = 0
    for arc, path in files:
        size = path.stat().st_size
        total += size
        if size > MAX_FILE_BYTES:
            problems.append(f"{arc}: {size / 2**20:.1f} MiB, over the {MAX_FILE_BYTES >> 20} MiB limit per file")
    if total > MAX_TOTAL_BYTES:
        problems.append(f"the hand-in holds {total / 2**20:.1f} MiB, over the {MAX_TOTAL_BYTES >> 20} MiB limit")
    folders = {"/".join(arc.split("/")[:i]) for arc, _ in files for i in range(1, arc.count("/") + 1)}
    members = sorted([(f"{sid}/{d}", None) for d in folders | {""}] + [(f"{sid}/{a}", p) for a, p in files],
                     key=lambda m: m[0].rstrip("/"))
    return [(name.rstrip("/"), path) for name, path in members], problems, left_out


def write_zip(path, members):
    """Write the reproducible zip `path` (atomically) from sorted (name, Path | bytes | None) members;
    None makes a folder entry. Returns the zip's size in bytes."""
    def write(f):
        with zipfile.ZipFile(f, "w") as z:
            for name, source in members:
                is_dir = source is None
                info = zip_member(name, 0o755 if is_dir else 0o644, folder=is_dir)
                info.compress_type = zipfile.ZIP_STORED if is_dir else zipfile.ZIP_DEFLATED
                data = b"" if is_dir else source if isinstance(source, bytes) else source.read_bytes()
                z.writestr(info, data, compresslevel=9)

    atomic_write(path, write)
    return Path(path).stat().st_size


def _check_report(root):
    try:
        pages = count_pages(root / REPORT)
    except SubmissionError as e:
        hint = " (build it with `make report`)" if not (root / REPORT).exists() else ""
        return None, [f"{REPORT}: {str(e).split(': ', 1)[-1]}{hint}"]
    low, high = REPORT_PAGES
    if not low <= pages <= high:
        return pages, [f"{REPORT}: {pages} pages; the assignment asks for {low}-{high}"]
    return pages, []


def pack(student, root=None, out=None):
    """Check the hand-in in `root` (default: find_root()) and write `out`/ID.zip (default: `root`).

    Returns a PackResult; raises PackError listing every failed check, before anything is written.
    """
    problems = []
    try:
        sid = student_id(student)
    except SubmissionError as e:
        problems.append(str(e))
        sid = "id"
    root = find_root() if root is None else Path(root)
    if not (root / CODE_DIR).is_dir():
        raise PackError(problems + [f"{root}: no {CODE_DIR}/ folder"])
    out = root if out is None else Path(out)
    problems += _check_out(out)
    members, more, left_out = handin_members(root, sid)
    pages, report_problems = _check_report(root)
    outputs = check_outputs(root)
    problems += more + outputs.problems + report_problems
    if problems:
        raise PackError(problems)
    try:
        zip_bytes = write_zip(out / f"{sid}.zip", members)
    except OSError as e:  # a full disk, a folder that became read-only: nothing is left behind
        raise PackError([f"{out}: cannot write {sid}.zip ({e.strerror or e})"]) from None
    sizes = [(name, None if p is None else p.stat().st_size) for name, p in members]
    return PackResult(out / f"{sid}.zip", sizes, zip_bytes, left_out, pages, outputs.unwritten)


def _check_out(out):
    """The problem with the --out folder `out` (missing, a file, not writable), if any."""
    if not out.exists():
        return [f"{out}: folder not found"]
    if not out.is_dir():
        return [f"{out}: a file, not a folder; --out names the folder to write ID.zip in"]
    if not os.access(out, os.W_OK | os.X_OK):
        return [f"{out}: cannot write in this folder (permission denied)"]
    return []


def pack_listing(result):
    """What pack prints: the members with their sizes, what was left out, the zip's size."""
    lines = []
    if result.unwritten:
        lines.append(f"not written yet (handed in as the release's stubs): {', '.join(result.unwritten)}")
    lines.append(f"{'bytes':>9}  member")
    lines += [f"{'':>9}  {name}/" if size is None else f"{size:9d}  {name}" for name, size in result.members]
    lines += [f"left out: {path} ({why})" for path, why in result.left_out]
    files = sum(size is not None for _, size in result.members)
    lines.append(f"wrote {result.path}: {files} files, report of {result.pages} page"
                 f"{'s' if result.pages > 1 else ''}, {result.zip_bytes / 1024:.1f} KiB")
    return "\n".join(lines)
