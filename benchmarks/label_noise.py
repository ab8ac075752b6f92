"""The label-noise grid on CIFAR-10: (method × noise) cells, each a resumable satlearn run, one JSON per cell.

Recipes (ResNet-34, SGD 0.1, momentum 0.9, wd 5e-4, batch 256, cosine; α 0.9):
- `paper`: 200 epochs, Es 60 (the official scripts);
- `fast`: 60 epochs, Es 18 (Es scaled with the epochs).
Methods: `ce`, `sat`, `sat_sce`. Noise: `sym20/40/60/80` (symmetric, paper mode: actual error r·9/10), `pair40`,
and the CIFAR-10N human label sets `c10n-aggre`, `c10n-random1`, `c10n-worst`.

A cell whose run directory holds a finished run is skipped; one with a checkpoint resumes, so the grid can be
stopped at any time (or killed) and started again:

    python benchmarks/prepare_cifar10.py
    setsid nohup python benchmarks/label_noise.py --recipe fast > grid.log 2>&1 &
    python benchmarks/report.py          # regenerates benchmarks/RESULTS.md from the JSON

Results: benchmarks/results/label_noise/<recipe>/<method>-<noise>.json (last- and best-epoch test accuracy,
actual noise rate, wall time of the run's epochs including evaluation).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, record  # noqa: E402

from satlearn.config import load_config  # noqa: E402
from satlearn.engine import fit  # noqa: E402
from satlearn.engine.checkpoint import CHECKPOINT_NAME  # noqa: E402

RECIPES = {"paper": [], "fast": ["run.epochs=60", "method.start_epoch=18"]}
METHODS = {
    "ce": ("cifar10_ce.yaml", []),
    "sat": ("cifar10_sat.yaml", []),
    "sat_sce": ("cifar10_sat.yaml", ["method.loss=sce"]),
}
SYMMETRIC = {f"sym{r}": ["data.noise.kind=symmetric", f"data.noise.rate={r / 100}"] for r in (20, 40, 60, 80)}
NOISES = {**SYMMETRIC, "pair40": ["data.noise.kind=pair", "data.noise.rate=0.4"],
          **{f"c10n-{key}": ["data.noise.kind=file", f"data.noise.key={key}"] for key in ("aggre", "random1", "worst")}}
DEFAULT_CIFAR10N = ROOT.parent / "shared" / "data" / "cifar10n_labels.npz"


def cell_overrides(recipe: str, method: str, noise: str, *, data_root: str, cifar10n: Path,
                   extra: list[str]) -> tuple[Path, list[str]]:
    config_file, method_overrides = METHODS[method]
    overrides = [f"data.root={data_root}", *RECIPES[recipe], *method_overrides, *NOISES[noise]]
    if noise.startswith("c10n-"):
        overrides.append(f"data.noise.file={cifar10n}")
    return ROOT / "configs" / config_file, [*overrides, "run.progress=false", *extra]


def run_cell(recipe: str, method: str, noise: str, *, runs_dir: Path, results_dir: Path | None, data_root: str,
             cifar10n: Path, extra: list[str], stop_after_epoch: int | None) -> dict | None:
    config_file, overrides = cell_overrides(recipe, method, noise, data_root=data_root, cifar10n=cifar10n,
                                            extra=extra)
    config = load_config(config_file, overrides)
    run_dir = runs_dir / recipe / f"{method}-{noise}"
    if (run_dir / "summary.json").exists():
        print(f"{run_dir.name}: finished earlier", flush=True)
    else:
        resume = (run_dir / CHECKPOINT_NAME).exists()
        started = time.perf_counter()
        result = fit(config, run_dir, resume=resume, stop_after_epoch=stop_after_epoch, log=lambda m: None)
        print(f"{run_dir.name}: {'resumed, ' if resume else ''}{time.perf_counter() - started:.0f} s"
              f"{' (stopped early)' if result.summary.get('stopped_early') else ''}", flush=True)
        if result.summary.get("stopped_early"):
            return None
    import json

    summary = json.loads((run_dir / "summary.json").read_text())
    history = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    payload = {
        "recipe": recipe, "method": method, "noise": noise, "config": config_file.name, "overrides": overrides,
        "epochs": summary["epochs"], "actual_noise_rate": summary["noise"]["actual_rate"],
        "last_test_accuracy": summary["final_test_accuracy"], "best_test_accuracy": summary["best_test_accuracy"],
        "best_epoch": summary["best_epoch"], "run_seconds": sum(row["epoch_seconds"] for row in history),
        "run_device": summary["device"], "run_dir": str(run_dir),
    }
    path = record(f"label_noise/{recipe}/{method}-{noise}", payload, directory=results_dir)
    print(f"  last {100 * payload['last_test_accuracy']:.2f} %, best {100 * payload['best_test_accuracy']:.2f} % "
          f"→ {path}", flush=True)
    return payload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", choices=list(RECIPES), default="fast")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument("--noise", nargs="+", choices=list(NOISES), default=list(NOISES))
    parser.add_argument("--data-root", default=str(ROOT / "benchmarks" / "data" / "cifar-10-batches-py"))
    parser.add_argument("--cifar10n", type=Path, default=DEFAULT_CIFAR10N, help="CIFAR-10N label file (.npz)")
    parser.add_argument("--runs-dir", type=Path, default=ROOT / "benchmarks" / "runs")
    parser.add_argument("--results-dir", type=Path, default=None, help="default: benchmarks/results/")
    parser.add_argument("--stop-after-epoch", type=int, default=None, help="checkpoint and stop each cell there")
    parser.add_argument("--set", dest="extra", action="append", default=[], help="extra config override")
    args = parser.parse_args()
    for noise in args.noise:
        for method in args.methods:
            run_cell(args.recipe, method, noise, runs_dir=args.runs_dir, results_dir=args.results_dir,
                     data_root=args.data_root, cifar10n=args.cifar10n, extra=args.extra,
                     stop_after_epoch=args.stop_after_epoch)


if __name__ == "__main__":
    main()
