"""Safe extraction of a zip whose author is not trusted: every check runs before anything is inflated.

A member is refused, and with it the whole archive, when its name is absolute (`/x`, `C:x`) or
climbs out with `..`; when it is a symbolic link, a device, a FIFO or a socket (zip has no hard
links: its Unix mode bits can only say regular file, directory, or one of those); when it is
encrypted, named twice, or compressed otherwise than stored or deflated (bzip2 and lzma inflate
unboundedly per read). Zip bombs are refused from the central directory's sizes: more than
`max_members` members, more than `max_bytes` to extract in all, or a member of at least
`ratio_from` bytes more than `max_ratio` times larger than its compressed data. Python's zipfile
never inflates a member past its declared size, and its CRC check catches a lying size.
"""
import dataclasses
import os
import shutil
import stat
import zipfile
from pathlib import Path

from ...utils.checks import check_int, check_real
from ..files import SubmissionError

__all__ = ["ZipLimits", "UnsafeArchiveError", "member_name", "safe_members", "extract_members"]

MiB = 1 << 20
_SAFE_TYPES = {0, stat.S_IFREG, stat.S_IFDIR}  # 0: no Unix mode recorded (e.g. a Windows zip)
_TYPE_NAMES = {stat.S_IFLNK: "a symbolic link", stat.S_IFCHR: "a character device",
               stat.S_IFBLK: "a block device", stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket"}


@dataclasses.dataclass(frozen=True)
class ZipLimits:
    """Caps on an archive, checked before it is inflated. The defaults allow a hand-in of code,
    ten CSV files and a report with room to spare (a typical one is well under 5 MiB)."""
    max_members: int = 2000
    max_bytes: int = 100 * MiB
    max_ratio: float = 100.0
    ratio_from: int = 1 * MiB
    max_archive_bytes: int = 512 * MiB

    def __post_init__(self):
        for name in ("max_members", "max_bytes", "ratio_from", "max_archive_bytes"):
            check_int("ZipLimits", name, getattr(self, name), 1)
        check_real("ZipLimits", "max_ratio", self.max_ratio, 1)


class UnsafeArchiveError(SubmissionError):
    """The archive breaks a safety rule; nothing of it has been extracted."""


def member_name(info):
    """The member's path as clean '/'-separated parts (backslashes count as separators, as some
    Windows tools write them); UnsafeArchiveError for absolute paths and '..'."""
    raw = info.filename.replace("\\", "/")
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise UnsafeArchiveError(f"member {info.filename!r} has an absolute path")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(f"member {info.filename!r} climbs out of the folder (..)")
    if not parts:
        raise UnsafeArchiveError(f"member {info.filename!r} has an empty name")
    return "/".join(parts)


def _check_kind(info):
    kind = stat.S_IFMT(info.external_attr >> 16) if info.create_system == 3 else 0
    if kind not in _SAFE_TYPES:
        raise UnsafeArchiveError(f"member {info.filename!r} is "
                                 f"{_TYPE_NAMES.get(kind, f'of file type {kind:o}')}")
    if info.flag_bits & 0x1:
        raise UnsafeArchiveError(f"member {info.filename!r} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise UnsafeArchiveError(f"member {info.filename!r} uses compression method "
                                 f"{info.compress_type} (only stored and deflated are read)")


def _check_ratio(info, limits):
    if info.file_size >= limits.ratio_from:
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_ratio:
            raise UnsafeArchiveError(
                f"member {info.filename!r} inflates {ratio:.0f}-fold to {info.file_size / MiB:.1f} MiB "
                f"(limit {limits.max_ratio:g}-fold): a zip bomb?")


def safe_members(archive, limits=ZipLimits()):
    """[(clean name, ZipInfo)] of the open ZipFile `archive` after every per-member check.

    Directory entries are included (their names end without '/'; info.is_dir() tells them).
    """
    infos = archive.infolist()
    if len(infos) > limits.max_members:
        raise UnsafeArchiveError(f"{len(infos)} members, more than the limit of {limits.max_members}")
    members, seen = [], set()
    for info in infos:
        name = member_name(info)
        _check_kind(info)
        _check_ratio(info, limits)
        if not info.is_dir():
            if name in seen:
                raise UnsafeArchiveError(f"member {name!r} appears twice")
            seen.add(name)
        members.append((name, info))
    return members


def extract_members(archive, members, dest, limits=ZipLimits(), skipped=None):
    """Extract the checked `members` (from safe_members) of `archive` below the folder `dest`.

    Their total declared size must be at most limits.max_bytes (checked before any is inflated).
    Files get mode 0o644 and folders 0o755 whatever the archive says; an existing file is never
    overwritten. A member this file system cannot hold (a name part over 255 bytes, a file
    nested under a file, a name given twice as file and folder) is left out and its name appended
    to the list `skipped` (when given; otherwise it raises UnsafeArchiveError). Returns the list of
    file names extracted.
    """
    total = sum(info.file_size for _, info in members if not info.is_dir())
    if total > limits.max_bytes:
        raise UnsafeArchiveError(f"{total / MiB:.1f} MiB to extract, more than the limit of "
                                 f"{limits.max_bytes / MiB:.0f} MiB")
    dest = Path(dest)
    files = []
    for name, info in members:
        try:
            if _extract_one(archive, name, info, dest.joinpath(*name.split("/"))):
                files.append(name)
        except OSError as e:
            if skipped is None:
                raise UnsafeArchiveError(f"member {name!r} cannot be written here ({e.strerror})") from None
            skipped.append(name)
    return files


def _extract_one(archive, name, info, target):
    """Write one member; True for a file, False for a folder."""
    if info.is_dir():
        target.mkdir(mode=0o755, parents=True, exist_ok=True)
        return False
    target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    try:
        with archive.open(info) as source, open(target, "xb") as sink:
            shutil.copyfileobj(source, sink, 1 * MiB)
            if sink.tell() > info.file_size:  # zipfile stops at the declared size; belt and braces
                raise UnsafeArchiveError(f"member {name!r} inflates past its declared size")
    except BaseException:
        target.unlink(missing_ok=True) if target.is_file() else None
        raise
    os.chmod(target, 0o644)
    return True
