"""Selective classification: SAT (abstain output) against Softmax Response and Deep Gamblers, the SAT paper's protocol.

Per seed, three trainings from the shipped configs — `<dataset>_selective_sat.yaml` (selective_sat),
`<dataset>_gamblers.yaml` (Deep Gamblers) and `<dataset>_selective_ce.yaml` (cross-entropy) — and four selectors:

    sat        selective_sat model, score = abstain probability (the paper's method)
    sat_sr     the same selective_sat model, score = 1 − max softmax (Feng et al., ICLR 2023)
    gamblers   Deep Gamblers model, score = abstain probability
    sr         cross-entropy model, score = 1 − max softmax (Softmax Response)

Each is evaluated with `satlearn.selective` (test split shuffled with seed 10, first 2,000 = validation, the rest =
test; thresholds by bisection to ±0.3 coverage points on each part; AURC / E-AURC / AUGRC on the test part). One
JSON per (selector, seed) in benchmarks/results/selective/, then the table benchmarks/SELECTIVE.md is regenerated
from all the JSON files (never edit it by hand). Seeds trained with other `--set`s (fewer epochs, say) are averaged
apart, in a section of their own that names them. A selector recorded for fewer of a section's seeds (a seed stopped
part-way) names its seeds in its row, and the goal line compares the seeds that SAT, SR and Deep Gamblers share.
A test-part error whose threshold did not come within the tolerance of its column's coverage (tied scores) is
marked †, with the coverage each such seed reached.

    python benchmarks/selective.py --seeds 0 1 2                          # MNIST-1D, CPU, ~1 min per seed
    python benchmarks/selective.py --dataset cifar10 --data-root DIR --seeds 0 1 2   # the paper's recipe, GPU
    python benchmarks/selective.py --report-only                          # rebuild SELECTIVE.md from the JSON
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    RESULTS, ROOT, RecordedResult, ResultFileError, check_results_dir, device_label, given_twice, path_option,
    read_result, record, run_main, short_commit,
)

from satlearn.config import Config, load_config, overrides_for_method  # noqa: E402
from satlearn.engine import fit  # noqa: E402
from satlearn.engine.checkpoint import atomic_write_text  # noqa: E402
from satlearn.engine.reporting import to_json  # noqa: E402
from satlearn.engine.runtime import cpu_threads  # noqa: E402
from satlearn.engine.trainer import RESUME_FREE_KEYS  # noqa: E402
from satlearn.errors import ConfigError  # noqa: E402
from satlearn.selective import evaluate_scores, run_scores  # noqa: E402
from satlearn.yaml_text import read_yaml_file  # noqa: E402

TRAININGS = {"selective_sat": "selective_sat", "gamblers": "gamblers", "ce": "selective_ce"}  # key → config stem
SELECTORS = {  # key: (training, score, label)
    "sat": ("selective_sat", "abstain", "SAT (abstain score)"),
    "sat_sr": ("selective_sat", "max_softmax", "SAT model, SR score"),
    "gamblers": ("gamblers", "abstain", "Deep Gamblers (o = 2.2)"),
    "sr": ("ce", "max_softmax", "Softmax Response (CE)"),
}
TABLE_COVERAGES = (100, 95, 90, 85, 80, 75, 70)
GOAL_COVERAGES = (95, 90, 80)

# Journal Table 7 of the SAT paper (TPAMI 2022), CIFAR-10, VGG-16-BN, selective error (%) mean ± std over 3 trials,
# read from the screenshot `images/SAT-Sel-Cls.png` in LayneH/SAT-selective-cls (see the reference digest, §4.4).
PAPER_TABLE7_CIFAR10 = {
    "SAT": {100: "6.05±0.20", 95: "3.37±0.05", 90: "1.93±0.09", 85: "1.15±0.18", 80: "0.67±0.10", 75: "0.44±0.03",
            70: "0.34±0.06"},
    "Deep Gamblers": {100: "6.12±0.09", 95: "3.49±0.15", 90: "2.19±0.12", 85: "1.09±0.15", 80: "0.66±0.11",
                      75: "0.52±0.03", 70: "0.43±0.07"},
    "SelectiveNet": {100: "6.79±0.03", 95: "4.16±0.09", 90: "2.43±0.08", 85: "1.43±0.08", 80: "0.86±0.06",
                     75: "0.48±0.02", 70: "0.32±0.01"},
    "SR": {100: "6.79±0.03", 95: "4.55±0.07", 90: "2.89±0.03", 85: "1.78±0.09", 80: "1.05±0.07", 75: "0.63±0.04",
           70: "0.42±0.06"},
    "MC-dropout": {100: "6.79±0.03", 95: "4.58±0.05", 90: "2.92±0.01", 85: "1.82±0.09", 80: "1.08±0.05",
                   75: "0.66±0.05", 70: "0.43±0.05"},
}


def training_method(dataset: str, training: str) -> str:
    """The satlearn method a training runs (``ce`` → ``erm``), from its config file."""
    return read_yaml_file(ROOT / "configs" / f"{dataset}_{TRAININGS[training]}.yaml")["method"]["name"]


def training_config(dataset: str, training: str, seed: int, overrides: list[str]) -> tuple[Path, list[str], Config]:
    """The config file of a training, the overrides it takes and its config."""
    config_file = ROOT / "configs" / f"{dataset}_{TRAININGS[training]}.yaml"
    # an option of one method (method.payoff, say) goes to the trainings of that method only
    method = training_method(dataset, training)
    extra = overrides_for_method([f"run.seed={seed}", "run.progress=false", *overrides], method)
    return config_file, extra, load_config(config_file, extra)


def check_trainings(dataset: str, seeds: list[int], overrides: list[str]) -> None:
    """Loads the config of every training before the first one trains: a ``--set`` that one training refuses (a
    run.epochs below Deep Gamblers' start_epoch, say) would otherwise stop the benchmark after the trainings before
    it."""
    for seed in seeds:
        for training in TRAININGS:
            training_config(dataset, training, seed, overrides)


def check_seeds_and_runs_dir(seeds: list[int], runs_dir: Path | None) -> None:
    """Refuses, before the first training, a seed given twice and a ``--runs-dir`` that holds a run this call
    would train again: runs kept there by an earlier call (hours of training, perhaps) are the user's."""
    if (problem := given_twice("--seeds", seeds)) is not None:
        raise ConfigError(problem)
    if runs_dir is None:
        return
    taken = [runs_dir / f"{training}-seed{seed}" for seed in seeds for training in TRAININGS
             if os.path.lexists(runs_dir / f"{training}-seed{seed}")]
    if taken:
        raise ConfigError(f"--runs-dir {runs_dir}: {taken[0].name} is there from an earlier call; give another "
                          "--runs-dir, or remove it to train it again")


def train(dataset: str, training: str, seed: int, overrides: list[str], runs_dir: Path) -> tuple[Path, dict, Config]:
    config_file, extra, config = training_config(dataset, training, seed, overrides)
    run_dir = runs_dir / f"{training}-seed{seed}"
    started = time.perf_counter()
    result = fit(config, run_dir, log=lambda message: None)
    return run_dir, {"config": str(config_file.relative_to(ROOT)), "overrides": extra,
                     "train_wall_seconds": time.perf_counter() - started,
                     "final_test_accuracy": result.summary["final_test_accuracy"],
                     "run_device": result.summary["device"]}, config


def run_seed(dataset: str, seed: int, overrides: list[str], runs_dir: Path, results_dir: Path | None) -> list[Path]:
    trained = {key: train(dataset, key, seed, overrides, runs_dir) for key in TRAININGS}
    paths = []
    for key, (training, score, label) in SELECTORS.items():
        run_dir, info, config = trained[training]
        result = evaluate_scores(run_scores(run_dir, score=score))  # (scored with the run's run.threads)
        report = json.loads(to_json(result.report))  # NaN (nothing accepted) → null
        report.pop("run_dir", None)
        payload = {"dataset": dataset, "selector": key, "label": label, "training": training, "seed": seed,
                   **info, "selective": report}
        with cpu_threads(config.run.threads):  # the record's device names the thread count the run used
            path = record(f"selective/{dataset}-{key}-seed{seed}", payload, directory=results_dir,
                          measured_on=[info["run_device"]])
        rows = {round(100 * r["target"]): r["test"]["error"] for r in report["coverages"]}
        print(f"{dataset} seed {seed} {key:9s} error % at 95/90/80: "
              + " / ".join(f"{100 * rows[c]:.2f}" for c in GOAL_COVERAGES)
              + f"; AURC {1000 * report['metrics']['test']['aurc']:.2f}‰ → {path}", flush=True)
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------------------------------------------
# The table


def _mean_std(values: list[float], scale: float, digits: int = 2) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "—"
    mean = statistics.fmean(values) * scale
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(values) * scale:.{digits}f}"


class CoverageRows(RecordedResult):
    """A result's rows by coverage (in %) that names its file where a coverage the table shows has none."""

    def __missing__(self, coverage):
        raise ResultFileError(f"{self.path}: no {coverage} % row in selective.coverages; expected a row for each of "
                              f"{', '.join(map(str, TABLE_COVERAGES))} %, as selective.py records them")


def _by_coverage(result: RecordedResult, part: str) -> dict[int, dict]:
    return CoverageRows({round(100 * row["target"]): row[part] for row in result["selective"]["coverages"]},
                        result.path)


DATASET_NOTES = {
    "mnist1d": "Recipe (`configs/mnist1d_*selective*.yaml`, `mnist1d_gamblers.yaml`): cnn1d width 64, 25,000 "
               "examples (20,000 train / 5,000 test), Adam lr 0.003 cosine, batch 256, 80 epochs, clean labels; SAT "
               "α 0.9 from epoch 0; Deep Gamblers payoff 2.2 after 27 epochs of cross-entropy. Chosen on exploratory "
               "seed-0 runs before this table: SAT with Es 5 or 20 (of 40 epochs) and with α 0.99 ranked worse by "
               "its abstain score, 60 epochs gave mixed results against SR, and Deep Gamblers' abstain ranking "
               "stayed poor with 3 or 8 pre-training epochs (0 collapses to abstaining on everything).",
    "cifar10": "Recipe: the paper's (`configs/cifar10_selective_sat.yaml`, `cifar10_gamblers.yaml`, "
               "`cifar10_selective_ce.yaml`): VGG-16-BN, SGD lr 0.1 momentum 0.9 wd 5e-4, batch 128, 300 epochs, "
               "lr × 0.5 every 25; SAT α 0.9 from epoch 150; Deep Gamblers payoff 2.2 after 100 epochs.",
}


def settings_of_seeds(results: list[dict]) -> dict[tuple[str, ...], list[dict]]:
    """The results grouped by the overrides their seed's trainings ran with (the seed's own aside): seeds trained
    otherwise (fewer epochs, say) are another measurement, not more samples of this one."""
    # how a run runs (where its data are, its device, threads) is no other setting: only what it trains
    aside = tuple(f"{key}=" for key in ("run.seed", *sorted(RESUME_FREE_KEYS)))
    by_seed: dict[int, set[str]] = {}
    for r in results:  # a seed's trainings take the overrides of their own method: their union is the setting
        by_seed.setdefault(r["seed"], set()).update(o for o in r["overrides"] if not o.startswith(aside))
    groups: dict[tuple[str, ...], list[dict]] = {}
    for r in results:
        groups.setdefault(tuple(sorted(by_seed[r["seed"]])), []).append(r)
    return dict(sorted(groups.items(), key=lambda item: (len(item[0]), item[0])))  # the configs' own first


def _provenance(results: list[dict]) -> str:
    """Device, commit and command of each distinct recording, with its seeds."""
    recordings: dict[tuple[str, str, str], set[int]] = {}
    for r in results:
        recordings.setdefault((device_label(r), short_commit(r["commit"]), r["command"]), set()).add(r["seed"])
    if len(recordings) == 1:
        (device, commit, command), _ = next(iter(recordings.items()))
        return f"Device: {device}; commit `{commit}`; command `{command}`"
    return "; ".join(f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, sorted(seeds)))}: device {device}, "
                     f"commit `{commit}`, command `{command}`"
                     for (device, commit, command), seeds in recordings.items())


def _coverages_missed(group: list[dict], coverage: int) -> str:
    """The coverages the test part's bisection reached where it did not come within the tolerance of ``coverage``
    (``seed 1 reached 97.0 %``), or "": such a seed's error is at another coverage than its column's."""
    missed = [(r["seed"], _by_coverage(r, "test")[coverage]) for r in sorted(group, key=lambda r: r["seed"])]
    return ", ".join(f"seed {seed} reached {100 * row['coverage']:.1f} %" for seed, row in missed
                     if not row["within_tolerance"])


def _row_label(key: str, group: list[dict], seeds: list[int]) -> str:
    """A selector's row label, with the seeds it averages where they are not all the section's (a seed stopped
    part-way records some selectors only): its mean is then over fewer seeds than the section names."""
    own = sorted(r["seed"] for r in group)
    label = SELECTORS[key][2]
    return label if own == seeds else f"{label} (seed{'s' if len(own) > 1 else ''} {', '.join(map(str, own))})"


def _goal_lines(groups: dict[str, list[dict]], seeds: list[int]) -> list[str]:
    """Whether SAT's mean selective error is below SR's and Deep Gamblers', over the seeds all three were recorded
    for: means over different seeds would compare the seeds as much as the selectors."""
    compared = ("sat", "sr", "gamblers")
    shared = sorted(set.intersection(*({r["seed"] for r in groups[key]} for key in compared)))
    if not shared:
        return []
    verdicts = []
    for c in GOAL_COVERAGES:
        mean = {key: statistics.fmean(_by_coverage(r, "test")[c]["error"] for r in groups[key]
                                      if r["seed"] in shared) for key in compared}
        ok = all(mean["sat"] < mean[key] for key in ("sr", "gamblers"))
        verdicts.append(f"{c} %: SAT {100 * mean['sat']:.2f} vs SR {100 * mean['sr']:.2f}, "
                        f"Deep Gamblers {100 * mean['gamblers']:.2f} — {'met' if ok else 'not met'}")
    over = "" if shared == seeds else f" over seeds {', '.join(map(str, shared))} (those recorded for all three)"
    return ["", "Goal (SAT's mean selective error below Softmax Response and Deep Gamblers at 95/90/80 % "
                f"coverage){over}: " + "; ".join(verdicts) + "."]


def dataset_section(dataset: str, results: list[dict], files_dir: str, setting: tuple[str, ...] = ()) -> list[str]:
    seeds = sorted({r["seed"] for r in results})
    first = results[0]
    split = first["selective"]["split"]
    title = f"{dataset}, trained with " + " ".join(f"`--set {o}`" for o in setting) if setting else dataset
    lines = [f"## {title}", "",
             f"Seeds {', '.join(map(str, seeds))}; mean ± sample std over seeds. Test split of "
             f"{split['num_examples']} examples, shuffled with seed 10: {split['validation']} validation / "
             f"{split['test']} test." + (f" Note: {split['note']}." if split["note"] else ""), "",
             *([DATASET_NOTES[dataset], ""] if dataset in DATASET_NOTES else []),
             "### Selective error (%) on the test part, threshold by bisection on the test part (the paper's protocol)",
             "",
             "| selector | " + " | ".join(f"{c} %" for c in TABLE_COVERAGES)
             + " | AURC ×10³ | E-AURC ×10³ | AUGRC ×10³ |",
             "|---" * (len(TABLE_COVERAGES) + 4) + "|"]
    groups = {key: [r for r in results if r["selector"] == key] for key in SELECTORS}
    missed = []
    for key, group in groups.items():
        if not group:
            continue
        cells = []
        for c in TABLE_COVERAGES:
            cell = _mean_std([_by_coverage(r, "test")[c]["error"] for r in group], 100)
            reached = _coverages_missed(group, c)
            if reached:
                cell += " †"
                missed.append(f"{SELECTORS[key][2]} at {c} %: {reached}")
            cells.append(cell)
        for metric in ("aurc", "e_aurc", "augrc"):
            cells.append(_mean_std([r["selective"]["metrics"]["test"][metric] for r in group], 1000))
        lines.append(f"| {_row_label(key, group, seeds)} | " + " | ".join(cells) + " |")
    if missed:
        tolerance = 100 * first["selective"]["tolerance"]
        lines += ["", f"† Not within ±{tolerance:g} points of the coverage on the test part (tied scores, or too "
                      "few examples): " + "; ".join(missed) + "."]
    lines += ["", "### Deployed: threshold fitted on the validation part, applied to the test part", "",
              "Selective error % (realised test coverage %).", "",
              "| selector | " + " | ".join(f"{c} %" for c in TABLE_COVERAGES) + " |",
              "|---" * (len(TABLE_COVERAGES) + 1) + "|"]
    for key, group in groups.items():
        if not group:
            continue
        cells = []
        for c in TABLE_COVERAGES:
            deployed = [_by_coverage(r, "deployed")[c] for r in group]
            cells.append(f"{_mean_std([d['error'] for d in deployed], 100)} "
                         f"({_mean_std([d['coverage'] for d in deployed], 100, 1)})")
        lines.append(f"| {_row_label(key, group, seeds)} | " + " | ".join(cells) + " |")
    lines += _goal_lines(groups, seeds)
    trainings: dict[str, dict[int, dict]] = {}  # one record per (training, seed): two selectors share a training
    for r in results:
        trainings.setdefault(r["training"], {})[r["seed"]] = r
    wall = {t: _mean_std([r["train_wall_seconds"] for r in by_seed.values()], 1, 1) for t, by_seed in trainings.items()}
    accuracy = {t: _mean_std([r["final_test_accuracy"] for r in by_seed.values()], 100)
                for t, by_seed in trainings.items()}
    lines += ["", "Full test accuracy % per training: " + ", ".join(f"{k} {v}" for k, v in accuracy.items())
              + ". Training wall time per run (s): " + ", ".join(f"{k} {v}" for k, v in wall.items()) + ".",
              f"{_provenance(results)}; files `{files_dir}/{dataset}-*-seed*.json`.", ""]
    return lines


def paper_section() -> list[str]:
    lines = ["## Reference: the SAT paper's Table 7, CIFAR-10 (VGG-16-BN, 300 epochs)", "",
             "Selective error (%), mean ± std over 3 trials, as printed in the journal version (TPAMI 2022, Table 7); "
             "transcribed from the table image `images/SAT-Sel-Cls.png` in the official repository "
             "LayneH/SAT-selective-cls. Not measured here — for comparison with the `cifar10` rows once they are run "
             "(`--dataset cifar10`, GPU).", "",
             "| method | " + " | ".join(f"{c} %" for c in TABLE_COVERAGES) + " |",
             "|---" * (len(TABLE_COVERAGES) + 1) + "|"]
    for method, row in PAPER_TABLE7_CIFAR10.items():
        lines.append(f"| {method} | " + " | ".join(row[c] for c in TABLE_COVERAGES) + " |")
    return lines + [""]


def write_table(results_dir: Path, out: Path) -> Path:
    """Writes the table of every result under ``results_dir``/selective/ to ``out``, whole or not at all: a result
    file that cannot be read, or lacks a field the table needs, stops it with one line naming that file."""
    files = sorted((results_dir / "selective").glob("*.json"))
    results = [read_result(p) for p in files]
    directory = (results_dir / "selective").resolve()
    files_dir = str(directory.relative_to(ROOT)) if directory.is_relative_to(ROOT) else str(directory)
    lines = ["# Selective classification benchmark", "",
             f"Generated by `python benchmarks/selective.py` from `{files_dir}/*.json`; do not edit.",
             "", "Selectors: SAT = `selective_sat` model ranked by its abstain probability; SAT model, SR score = the "
             "same model ranked by 1 − max softmax; Deep Gamblers = `gamblers` model (payoff 2.2) ranked by its "
             "abstain probability; Softmax Response = cross-entropy model ranked by 1 − max softmax. AURC is the "
             "mean "
             "selective risk over the ranked prefixes, E-AURC subtracts the oracle ranking's AURC, AUGRC is the area "
             "under the generalized risk (accepted and wrong, over all examples), all on the test part "
             "(`satlearn.evaluation.selective`).", ""]
    for dataset in sorted({r["dataset"] for r in results}):
        for setting, group in settings_of_seeds([r for r in results if r["dataset"] == dataset]).items():
            lines += dataset_section(dataset, group, files_dir, setting)
    lines += paper_section()
    atomic_write_text(out, "\n".join(lines))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=("mnist1d", "cifar10"), default="mnist1d",
                        help="mnist1d (on a CPU) or cifar10 (the paper's recipe, on a GPU; needs --data-root) "
                             "(default: mnist1d)")
    parser.add_argument("--data-root", default=None, help="cifar10: a cifar-10-batches-py directory")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1],
                        help="seeds to train, three trainings each (default: 0 1)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="extra config override for every training (repeatable)")
    parser.add_argument("--runs-dir", type=path_option, default=None,
                        help="keep the run directories here, as <training>-seed<N> (default: a temporary "
                             "dir); runs there from an earlier call are refused, not trained over")
    parser.add_argument("--results-dir", type=path_option, default=None,
                        help="write JSON under DIR/selective/ (default: benchmarks/results)")
    parser.add_argument("--out", type=path_option, default=None, help="the table (default: benchmarks/SELECTIVE.md)")
    parser.add_argument("--report-only", action="store_true", help="only rebuild the table from the JSON files")
    args = parser.parse_args()

    results_dir = args.results_dir or RESULTS
    out = args.out or ROOT / "benchmarks" / "SELECTIVE.md"
    # checked before any training: the table is written last
    if out.is_dir():
        parser.error(f"--out {args.out}: is a directory; expected the file to write (say SELECTIVE.md)")
    if not out.resolve().parent.is_dir():
        parser.error(f"--out {args.out}: no directory {out.resolve().parent} to write it in")
    if args.report_only and not (results_dir / "selective").is_dir():
        # a mistyped directory would otherwise overwrite the table with one that has no measured row
        parser.error(f"--results-dir {results_dir}: no selective/ folder of results there")
    if not args.report_only:
        overrides = list(args.overrides)
        if args.dataset == "cifar10":
            if not args.data_root:
                parser.error("--dataset cifar10 needs --data-root (a cifar-10-batches-py directory)")
            overrides.insert(0, f"data.root={args.data_root}")
        methods = [training_method(args.dataset, training) for training in TRAININGS]
        try:  # a --set that no training reads would be dropped from every one
            overrides_for_method(overrides, methods[0], shared_by=methods)
        except ConfigError as exc:
            parser.error(str(exc))
        check_trainings(args.dataset, args.seeds, overrides)
        check_seeds_and_runs_dir(args.seeds, args.runs_dir)
        check_results_dir("--results-dir", args.results_dir)  # each seed is recorded once its trainings are done
        scratch = args.runs_dir or Path(tempfile.mkdtemp(prefix="satlearn-selective-"))
        try:
            for seed in args.seeds:
                run_seed(args.dataset, seed, overrides, scratch, results_dir if args.results_dir else None)
        finally:
            if not args.runs_dir:
                shutil.rmtree(scratch, ignore_errors=True)
    print(f"table: {write_table(results_dir, out)}")


if __name__ == "__main__":
    run_main(main)
