"""The ``satlearn`` command. The only module that reads ``sys.argv``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from satlearn import __version__


def _add_overrides(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set method.start_epoch=40 (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="satlearn", description="Self-Adaptive Training (SAT) for PyTorch.")
    parser.add_argument("--version", action="version", version=f"satlearn {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="CE vs SAT on MNIST-1D with 40%% symmetric label noise (CPU, ~1 min)")
    demo.add_argument("--out", default=None, help="output directory (default: runs/demo-<time>)")
    demo.add_argument("--no-progress", action="store_true", help="hide progress bars")
    _add_overrides(demo)

    train = commands.add_parser("train", help="train from a YAML config")
    train.add_argument("--config", "-c", default=None, help="YAML file overriding the defaults")
    train.add_argument("--run-dir", default=None, help="run directory (default: run.out_dir/run.name)")
    train.add_argument("--resume", metavar="RUN_DIR", default=None,
                       help="continue an interrupted run from its checkpoint (config defaults to the run's own)")
    train.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _add_overrides(train)

    evaluate = commands.add_parser("eval", help="evaluate a run's latest weights on its test split")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--device", default=None, help="device to evaluate on (default: the run's setting)")
    return parser


def _train(args: argparse.Namespace) -> int:
    from satlearn.config import load_config
    from satlearn.engine import fit

    overrides = list(args.overrides)
    if args.no_progress:
        overrides.append("run.progress=false")
    if args.resume:
        run_dir = Path(args.resume)
        config_path = args.config or run_dir / "config.yaml"
        config = load_config(config_path, overrides)
        result = fit(config, run_dir, resume=True)
    else:
        config = load_config(args.config, overrides)
        result = fit(config, args.run_dir)
    s = result.summary
    print(f"final test accuracy {s['final_test_accuracy']:.4f} (best {s['best_test_accuracy']:.4f} at epoch "
          f"{s['best_epoch']}); {s['wall_seconds']:.1f} s; outputs in {result.run_dir}")
    issues = s.get("label_issues")
    if issues:
        print(f"labels flagged as wrong: {issues['flagged']} (see {result.run_dir / 'refined_labels.csv'})")
    return 0


def main(argv: list[str] | None = None) -> int:
    from satlearn.errors import SatlearnError

    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            from satlearn.demo import run_demo

            run_demo(args.out, overrides=tuple(args.overrides), progress=not args.no_progress)
        elif args.command == "train":
            return _train(args)
        elif args.command == "eval":
            from satlearn.engine import evaluate_run

            print(json.dumps(evaluate_run(args.run_dir, device=args.device), indent=2))
    except SatlearnError as exc:
        print(f"satlearn: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("satlearn: interrupted; the last checkpoint is kept (resume with satlearn train --resume RUN_DIR)",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
