"""The student's hand-in command, `pack`, added to `python -m code_base.submission`.

Exit codes: 0 (written) or 1 (a check failed, one `error:` line each); 2 for unusable arguments
or folders.  The instructor's `grade-class` lives in :mod:`.classgrade.cli`.
"""
import sys

from .handin import REPORT_PAGES
from .own_check import check_table
from .packer import MAX_FILE_BYTES, MAX_TOTAL_BYTES, PackError, find_root, pack, pack_listing

__all__ = ["COMMANDS", "add_parsers", "run_command"]

COMMANDS = ("pack",)


def add_parsers(sub):
    p = sub.add_parser(
        "pack", help="build the hand-in zip ID.zip after checking it",
        description="Zip code_base/, output_files/ and report.pdf under a folder named by your ID, "
                    "after checking: the ID (letters and digits, written in lower case), "
                    "output_files/ holding what your code gives now (functions not written yet are "
                    f"listed, and packed as they are), report.pdf of {REPORT_PAGES[0]}-{REPORT_PAGES[1]} pages, no CIFAR data, "
                    f"no file over {MAX_FILE_BYTES >> 20} MiB and at most {MAX_TOTAL_BYTES >> 20} MiB in all.")
    p.add_argument("--id", required=True, help="your student ID, e.g. e0123456g")
    p.add_argument("--out", default=None, help="folder to write ID.zip in (default: the project folder)")
    p.add_argument("--root", default=None,
                   help="the project folder (default: the nearest of . and its parents with code_base/)")


def _pack(args):
    table = check_table(find_root() if args.root is None else args.root)
    if table:
        print("\n".join(table), flush=True)
    try:
        result = pack(args.id, root=args.root, out=args.out)
    except PackError as e:
        for problem in e.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    print(pack_listing(result))
    return 0


def run_command(args):
    """Run `pack`; the exit code. SubmissionError (exit 2) is left to the caller."""
    return _pack(args)
