"""python -m code_base.check [NAME ...] [-v]: which of your functions pass the public checks.

NAME is a function (conv_forward, ThreeLayerConvNet.loss or loss, ...) or a group (layers,
model); none checks everything.  Exit codes: 0 when every check passes, 1 otherwise, 2 for an
unknown name.  Instructors: --write-expected PATH stores the fixed cases' expected values
(computed by the solution; the release build does this).
"""

import argparse
import sys

from .runner import format_result, resolve, run, summary


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m code_base.check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME", help="functions or groups to check")
    parser.add_argument("-v", "--verbose", action="store_true", help="show every case")
    parser.add_argument("--write-expected", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.write_expected:
        from .cases import write_expected
        try:
            print(f"wrote {write_expected(args.write_expected)}")
        except OSError as e:
            print(f"check: cannot write {args.write_expected}: {e.strerror}", file=sys.stderr)
            return 2
        return 0
    try:
        resolve(args.names)
    except KeyError as e:
        print(f"check: {e.args[0]}", file=sys.stderr)
        return 2
    from .cases import ExpectedMissing
    try:
        results = run(args.names)
    except ExpectedMissing as e:
        print(f"check: {e}", file=sys.stderr)
        return 2
    for r in results:
        print(format_result(r, args.verbose), flush=True)
    print(summary(results))
    return 0 if all(r.verdict == "PASS" for r in results) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("check: interrupted", file=sys.stderr)
        sys.exit(130)
