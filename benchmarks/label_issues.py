"""Finding wrong labels: satlearn (one SAT run) against cleanlab fed K-fold out-of-sample CE probabilities.

Same data, noise, model, optimizer and epochs on both sides. satlearn trains SAT once and flags the labels its
targets moved away from (`find_label_issues`, default rule). cleanlab needs out-of-sample predicted
probabilities: K cross-entropy trainings, each on K−1 folds, predicting the held-out fold; then
`cleanlab.filter.find_label_issues` (its default, prune_by_noise_rate) flags, and
`cleanlab.rank.get_label_quality_scores` (self-confidence) ranks. Metrics against the known true labels.

    pip install cleanlab            # benchmark-only dependency
    python benchmarks/label_issues.py --datasets mnist1d-sym40 mnist1d-pair40 --seeds 0 1 2
    python benchmarks/label_issues.py --datasets cifar10-sym40 cifar10n-worst cifar10n-aggre   # GPU

One JSON per (dataset, seed) in benchmarks/results/label_issues/; then `python benchmarks/report.py`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    CIFAR10_ROOT, CIFAR10_ROOT_HELP, ROOT, check_results_dir, data_file, label_file_problem, missing_cifar10,
    given_twice, path_option, record, run_main, validation_split_problem,
)

from satlearn.config import Config, load_config  # noqa: E402
from satlearn.data import DatasetSplits  # noqa: E402
from satlearn.data.loader import InMemoryLoader  # noqa: E402
from satlearn.engine import fit, prepare_data  # noqa: E402
from satlearn.engine.runtime import cpu_threads  # noqa: E402
from satlearn.evaluation.detection import detection_report, format_measure  # noqa: E402
from satlearn.errors import ConfigError, DataError  # noqa: E402
from satlearn.label_issues import find_label_issues  # noqa: E402

# The CIFAR rows use the label-noise grid's `fast` recipe (ResNet-34, 60 epochs, Es 18) on both sides.
CIFAR_FAST = ["run.epochs=60", "method.start_epoch=18"]
DATASETS = {
    # name: (config file, overrides) — the MNIST-1D rows run on a CPU; the CIFAR rows need a GPU and
    # `benchmarks/prepare_cifar10.py` (see --data-root, --cifar10n)
    "mnist1d-sym40": ("mnist1d_sat.yaml", ["data.noise.kind=symmetric", "data.noise.rate=0.4"]),
    "mnist1d-pair40": ("mnist1d_sat.yaml", ["data.noise.kind=pair", "data.noise.rate=0.4"]),
    "cifar10-sym40": ("cifar10_sat.yaml", [*CIFAR_FAST, "data.noise.kind=symmetric", "data.noise.rate=0.4"]),
    "cifar10n-worst": ("cifar10_sat.yaml", [*CIFAR_FAST, "data.noise.kind=file", "data.noise.key=worst"]),
    "cifar10n-aggre": ("cifar10_sat.yaml", [*CIFAR_FAST, "data.noise.kind=file", "data.noise.key=aggre"]),
}
CPU_DATASETS = ["mnist1d-sym40", "mnist1d-pair40"]
FOLDS = 5  # cross-validation folds of cleanlab's side unless --folds says otherwise


@torch.no_grad()
def predict_probs(method, data: DatasetSplits, x: torch.Tensor, device: torch.device) -> np.ndarray:
    loader = InMemoryLoader(x, torch.zeros(len(x), dtype=torch.int64), batch_size=1024, mean=data.mean,
                            std=data.std, device=device)
    method.eval()
    return torch.cat([torch.softmax(method(xb).float(), dim=1) for xb, _, _ in loader.epoch(0)]).cpu().numpy()


def cross_validated_probs(config, noisy, *, folds: int, seed: int, scratch: Path) -> np.ndarray:
    """Out-of-sample (N, C) probabilities from ``folds`` CE trainings on the noisy labels."""
    data = noisy.data
    n = len(noisy.labels)
    order = np.random.default_rng(seed).permutation(n)
    probs = np.zeros((n, data.num_classes), dtype=np.float64)
    # the same run as the SAT side but plain cross-entropy: none of SAT's method settings, no noise of its own
    # (the folds carry the noisy labels already)
    shared = [override for override in _to_overrides(config) if not override.startswith("method.")]
    ce_config = load_config(None, [*shared, "method.name=erm", "data.noise.kind=none", "data.noise.rate=0",
                                   "data.noise.file=null", "data.noise.key=null"])
    for k, held_out in enumerate(np.array_split(order, folds)):
        train_idx = np.setdiff1d(np.arange(n), held_out)
        fold = DatasetSplits(x_train=data.x_train[train_idx], y_train=noisy.labels[train_idx],
                             x_test=data.x_test, y_test=data.y_test, num_classes=data.num_classes,
                             class_names=data.class_names, kind=data.kind, name=data.name, mean=data.mean,
                             std=data.std)
        result = fit(ce_config, scratch / f"fold{k}", dataset=fold, log=lambda m: None)
        device = next(result.method.parameters()).device
        probs[held_out] = predict_probs(result.method, data, data.x_train[held_out], device)
    return probs


def _to_overrides(config) -> list[str]:
    from satlearn.config import overrides_from_dict, to_dict

    return overrides_from_dict(to_dict(config))


def row_config(dataset: str, seed: int, *, data_root: str, cifar10n: Path,
               extra: list[str]) -> tuple[str, list[str], Config]:
    """The config file, the overrides recorded with the row, and the config of the row's SAT training."""
    config_file, overrides = DATASETS[dataset]
    if dataset.startswith("cifar"):
        overrides = [*overrides, f"data.root={data_root}"]
        if "data.noise.kind=file" in overrides:
            overrides.append(f"data.noise.file={cifar10n}")
    overrides = [*overrides, *extra]
    config = load_config(ROOT / "configs" / config_file,
                         [*overrides, f"run.seed={seed}", f"data.noise.seed={seed}", "run.progress=false"])
    return config_file, overrides, config


def check_rows(args: argparse.Namespace) -> None:
    """Before the first row trains: each row's config (with the ``--set``s), its CIFAR-10 data and its CIFAR-10N label
    file. A later row's mistake would otherwise show only after the trainings of the rows before it."""
    label_files: dict[str, dict[str | None, list[str]]] = {}  # file → key → the rows that read it
    for dataset in args.datasets:
        for seed in args.seeds:
            _, _, config = row_config(dataset, seed, data_root=args.data_root, cifar10n=args.cifar10n,
                                      extra=args.extra)
            problem = validation_split_problem(config, "label_issues.py", "compares SAT with cleanlab")
            if problem:
                raise ConfigError(problem)
            data = config.data
            if data.source == "cifar10":
                missing = missing_cifar10(data.root, download=data.download)
                if missing:
                    raise DataError(missing)
            if data.noise.kind == "file":
                label_files.setdefault(data.noise.file, {}).setdefault(data.noise.key, []).append(
                    f"{dataset} seed {seed}")
    for file, readers in label_files.items():
        problem = label_file_problem(file, readers, readers_are="rows")
        if problem:
            given = "--cifar10n" if file == str(args.cifar10n) else "data.noise.file"
            raise DataError(f"{given} {file}: {problem}")


def run(dataset: str, seed: int, folds: int, scratch: Path, *, config_file: str, overrides: list[str],
        config: Config) -> dict:
    import cleanlab
    from cleanlab.filter import find_label_issues as cleanlab_find
    from cleanlab.rank import get_label_quality_scores

    noisy = prepare_data(config)
    labels = noisy.labels.numpy()
    truly_wrong = labels != noisy.clean_labels.numpy()

    started = time.perf_counter()
    sat = fit(config, scratch / "sat", log=lambda m: None)
    issues = find_label_issues(labels, sat.method.soft_targets)
    sat_seconds = time.perf_counter() - started
    ours = detection_report(issues.scores, issues.flagged, truly_wrong)

    started = time.perf_counter()
    probs = cross_validated_probs(config, noisy, folds=folds, seed=seed, scratch=scratch / "cv")
    # one process: cleanlab's default forks a pool from this process, whose torch threads make a fork unsafe (a
    # child can inherit a lock held by one of them and wait on it for ever); its results do not depend on n_jobs
    mask = cleanlab_find(labels, probs, n_jobs=1)
    quality = get_label_quality_scores(labels, probs, method="self_confidence")
    cleanlab_seconds = time.perf_counter() - started
    theirs = detection_report(1.0 - quality, mask, truly_wrong)

    return {
        "dataset": dataset, "seed": seed, "folds": folds, "config": config_file, "overrides": overrides,
        "actual_noise_rate": float(truly_wrong.mean()), "num_examples": int(len(labels)),
        "satlearn": {**ours, "trainings": 1, "wall_seconds": sat_seconds,
                     "final_test_accuracy": sat.summary["final_test_accuracy"]},
        "run_device": sat.summary["device"],
        "cleanlab": {**theirs, "trainings": folds, "wall_seconds": cleanlab_seconds,
                     "version": cleanlab.__version__},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=CPU_DATASETS, choices=list(DATASETS),
                        help="data and noise to find wrong labels in (default: the MNIST-1D ones, which run on a "
                             "CPU; the CIFAR ones need a GPU and the data of prepare_cifar10.py)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0],
                        help="seeds of the trainings, the synthetic noise and the folds, one result each "
                             "(default: 0)")
    parser.add_argument("--folds", type=int, default=FOLDS,
                        help="cross-validation folds for cleanlab's out-of-sample probabilities, one cross-entropy "
                             f"training each (default: {FOLDS})")
    parser.add_argument("--data-root", default=str(CIFAR10_ROOT), help=f"CIFAR rows: {CIFAR10_ROOT_HELP}")
    parser.add_argument("--cifar10n", type=path_option, default=data_file("cifar10n_labels.npz"),
                        help="CIFAR-10N rows: the label file (.npz) (default: benchmarks/data/cifar10n_labels.npz, "
                             "else the one in ../shared/data/ beside the checkout)")
    parser.add_argument("--results-dir", type=path_option, default=None,
                        help="write JSON under DIR/label_issues/ (default: benchmarks/results)")
    parser.add_argument("--set", dest="extra", action="append", default=[], metavar="KEY=VALUE",
                        help="extra config override (repeatable)")
    args = parser.parse_args()
    if args.folds < 2:
        parser.error(f"--folds {args.folds}: cross-validation needs at least 2 folds")
    if any(seed < 0 for seed in args.seeds):
        parser.error(f"--seeds {' '.join(map(str, args.seeds))}: expected non-negative integers")
    for option, values in (("--datasets", args.datasets), ("--seeds", args.seeds)):
        if (problem := given_twice(option, values)) is not None:
            parser.error(problem)
    try:  # the other side of the comparison: a benchmark-only dependency, asked for before anything trains
        import cleanlab  # noqa: F401
    except ImportError as exc:
        sys.exit(f"label_issues.py: error: cleanlab cannot be imported ({exc}); install it with "
                 "pip install -e \".[bench]\"")
    import shutil
    import tempfile

    check_rows(args)
    check_results_dir("--results-dir", args.results_dir)  # each row is recorded once it has trained
    for dataset in args.datasets:
        for seed in args.seeds:
            config_file, overrides, config = row_config(dataset, seed, data_root=args.data_root,
                                                        cifar10n=args.cifar10n, extra=args.extra)
            scratch = Path(tempfile.mkdtemp(prefix="satlearn-issues-"))
            # run.threads as the trainings take it, for the work between them too (the folds' predictions), and
            # for the record, whose device names the count
            with cpu_threads(config.run.threads):
                try:
                    result = run(dataset, seed, args.folds, scratch, config_file=config_file, overrides=overrides,
                                 config=config)
                finally:
                    shutil.rmtree(scratch, ignore_errors=True)
                path = record(f"label_issues/{dataset}-seed{seed}", result, directory=args.results_dir,
                              measured_on=[result["run_device"]])
            s, c = result["satlearn"], result["cleanlab"]
            print(f"{dataset} seed {seed}: satlearn F1 {format_measure(s['f1'])} "
                  f"AP {format_measure(s['average_precision'])} ({s['wall_seconds']:.0f} s) | "
                  f"cleanlab F1 {format_measure(c['f1'])} AP {format_measure(c['average_precision'])} "
                  f"({c['wall_seconds']:.0f} s, {c['trainings']} trainings) → {path}")


if __name__ == "__main__":
    run_main(main)
