"""python -m code_base.release build --out DIR | verify [--keep DIR] [--notebooks all|stubs|none]

build: write the student kit into DIR (new or empty) from this solution, reproducibly.
verify: build the kit into a temporary folder and prove it (docs/release.md): the tree is the
allowlist, nothing leaks, the stubs say TODO everywhere, the solution's bodies filled back in
pass everything, and a planted mistake fails with its hint.  Exit 0 when every step passes.
"""

import argparse
import sys
import time

from .build import BuildError, build
from .stubs import ManifestError


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m code_base.release", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write the student kit into a new folder")
    b.add_argument("--out", required=True, help="folder to create (must not exist, or be empty)")
    v = sub.add_parser("verify", help="build into a temporary folder and prove the kit")
    v.add_argument("--keep", metavar="DIR", default=None,
                   help="build into DIR (new) and leave it there instead of a temporary folder")
    v.add_argument("--notebooks", choices=("all", "stubs", "none"), default="all",
                   help="execute the chapters against stubs and filled (all, default: minutes, "
                        "the filled chapters train), against stubs only, or not at all")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            start = time.perf_counter()
            result = build(args.out)
            print(f"release {result.release}: {len(result.files)} files in {result.out} "
                  f"({time.perf_counter() - start:.1f} s)")
            return 0
        from .verify import verify
        return 0 if verify(keep=args.keep, notebooks=args.notebooks) else 1
    except (BuildError, ManifestError) as e:
        print(e, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("release: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
