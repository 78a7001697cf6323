"""python -m code_base.training {train,search}: the training pipeline's command line."""

import sys

try:  # NumPy and the kernels take a moment to import: a Ctrl-C then gets one line too
    import os
    from pathlib import Path

    from ..utils.cli import ArgumentParser, non_negative_int, positive_int
    from .config import load_config, resolve_config
    from .search import load_spec, run_search
    from .train import run
except KeyboardInterrupt:
    sys.stderr.write("interrupted while starting: nothing was written\n")
    sys.exit(130)

TRAIN_HELP = """Train a ThreeLayerConvNet on CIFAR2 from a JSON config, evaluate it and save the run
folder (config.json, history.json, params.npz, W1.npy, summary.json, checkpoint.npz);
see code_base/training/train.py for what each file holds."""

SEARCH_HELP = """Short runs of named variants of one base config; writes a table (CSV and JSON) of
their validation accuracies. See code_base/training/search.py for the spec's format."""


def _parser():
    parser = ArgumentParser(prog="python -m code_base.training",
                            description=__doc__.split(":", 1)[1].strip())
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train, evaluate and save one run", description=TRAIN_HELP)
    p.add_argument("--config", required=True, help="JSON config file")
    p.add_argument("--out", default=None,
                   help="run folder (default: runs/<config file name without .json>)")
    p.add_argument("--epochs", type=positive_int, help="override solver.num_epochs")
    p.add_argument("--max-steps", type=positive_int,
                   help="at most this many updates (for smoke tests)")
    p.add_argument("--seed", type=non_negative_int, help="override the seed")
    p.add_argument("--reuse", action="store_true",
                   help="do nothing if --out has a summary.json with the same config")
    p.add_argument("--resume", action="store_true",
                   help="continue from --out/checkpoint.npz (same config)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    p = sub.add_parser("search", help="a small hyperparameter search", description=SEARCH_HELP)
    p.add_argument("--spec", required=True, help="search spec (JSON)")
    p.add_argument("--out", default="runs/best/search_results.csv", help="CSV table")
    p.add_argument("--epochs", type=positive_int, help="override the spec's epochs")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these variants")
    p.add_argument("--reuse", action="store_true",
                   help="keep the rows already in --out for unchanged variants")
    p.add_argument("--progress", action="store_true", help="show each run's progress bar")
    return parser


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            out = args.out or os.path.join("runs", Path(args.config).stem)
            config = resolve_config(load_config(args.config), epochs=args.epochs, seed=args.seed,
                                    where=args.config)
            run(config, out, max_steps=args.max_steps, reuse=args.reuse, resume=args.resume,
                progress=not args.quiet)
        else:
            rows = run_search(load_spec(args.spec), args.out, epochs=args.epochs,
                              only=args.only, reuse=args.reuse, progress=args.progress)
            best = max(rows, key=lambda r: r["best_val_acc"])
            print(f"best: {best['name']} (val acc {best['best_val_acc']:.3f}); "
                  f"table in {args.out}")
    except (OSError, ValueError, FloatingPointError) as e:
        parser.exit(1, f"error: {e}\n")
    except KeyboardInterrupt:
        parser.exit(130, "interrupted: the run folder is unchanged (--resume continues from the "
                         "last checkpoint, if one was written)\n" if args.command == "train" else
                         "interrupted: the table holds the variants that finished (see --reuse)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
