"""Regenerates benchmarks/RESULTS.md from the JSON files in benchmarks/results/ (never edit RESULTS.md by hand).

    python benchmarks/report.py
"""

from __future__ import annotations

import contextlib
import io
import shlex
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    RESULTS, ROOT, device_label, missing_dir_problem, override_settings, path_option, read_result, run_main,
    short_commit,
)

from satlearn.engine.checkpoint import atomic_write_text  # noqa: E402
from satlearn.evaluation.detection import format_measure, is_undefined  # noqa: E402

OUT = ROOT / "benchmarks" / "RESULTS.md"
RESULTS_DIR = RESULTS


def _shown(relative: str = "") -> str:
    """The results folder as the report names it (``--results-dir``): relative to the checkout inside it."""
    directory = RESULTS_DIR.resolve()
    shown = directory.relative_to(ROOT).as_posix() if directory.is_relative_to(ROOT) else directory.as_posix()
    return f"{shown}/{relative}" if relative else f"{shown}/"


def _load(pattern: str) -> list[dict]:
    return [read_result(p) for p in sorted(RESULTS_DIR.glob(pattern))]


def _pct(v) -> str:
    return "—" if v is None else f"{100 * v:.1f}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def demo_section() -> list[str]:
    runs = _load("demo.json")
    if not runs:
        return []
    r = runs[0]
    lines = ["## `satlearn demo` (MNIST-1D, 40 % symmetric noise, CE vs SAT)", "",
             f"Goals: whole demo ≤ {r['goals']['whole_demo_seconds_max']:.0f} s; SAT ≥ CE + "
             f"{r['goals']['sat_minus_ce_points_min']:.0f} points (final test accuracy).", "",
             "| seed | whole command (s) | CE final % | CE best % | SAT final % | SAT best % | SAT − CE (points) | "
             "flagged | flag precision % | flag recall % |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for s in r["all_seeds"]:
        lines.append(f"| {s['seed']} | {s['command_wall_seconds']:.1f} | {_pct(s['ce_final'])} | {_pct(s['ce_best'])} | "
                     f"{_pct(s['sat_final'])} | {_pct(s['sat_best'])} | {s['sat_minus_ce_points']:+.1f} | "
                     f"{s['sat_flagged']} | {_pct(s['sat_flag_precision'])} | {_pct(s['sat_flag_recall'])} |")
    lines += ["", f"Seed 0 is the demo as shipped. Device: {device_label(r)}; commit `{short_commit(r['commit'])}`; "
              f"command `{r['command']}`; file `{_shown('demo.json')}`.", ""]
    return lines


def _mean_measure(values: list[float | None]) -> str:
    """A detection measure's mean over seeds. A seed where it is undefined (None: nothing flagged, say) has no value
    to average: the mean is of the others and says how many, and n/a where no seed has one."""
    defined = [v for v in values if not is_undefined(v)]
    if not defined:
        return format_measure(None)
    mean = format_measure(sum(defined) / len(defined))
    return mean if len(defined) == len(values) else f"{mean} ({len(defined)} of {len(values)} seeds)"


def _label_issues_setting(r: dict) -> tuple[str, ...]:
    """The settings a label-issues row trained with beyond its dataset's own (a ``--set``, other ``--folds``), less
    where its data are and how it ran (``data.root``, ``run.threads``, ...): seeds trained otherwise are another
    measurement, not more samples of this one."""
    from label_issues import DATASETS, FOLDS

    from satlearn.engine.trainer import RESUME_FREE_KEYS

    own = set(DATASETS[r["dataset"]][1]) if r["dataset"] in DATASETS else set()
    folds = [] if r["folds"] == FOLDS else [f"--folds {r['folds']}"]
    return (*folds, *(f"--set {o}" for o in r["overrides"]
                      if o not in own and o.split("=", 1)[0] not in RESUME_FREE_KEYS))


def label_issues_section() -> list[str]:
    runs = _load("label_issues/*.json")
    if not runs:
        return []
    by_dataset: dict[str, list[dict]] = defaultdict(list)
    for r in sorted(runs, key=lambda r: (r["dataset"], len(_label_issues_setting(r)), _label_issues_setting(r))):
        setting = _label_issues_setting(r)
        by_dataset[", ".join([r["dataset"], *(f"`{option}`" for option in setting)])].append(r)
    lines = ["## Finding wrong labels: satlearn (1 SAT training) vs cleanlab (K-fold CE)", "",
             "Metrics against the known true labels, mean over seeds (per-seed files in "
             f"`{_shown('label_issues/')}`). F1 is of the flagged set; AP and AUROC of the ranking.", "",
             "| dataset | actual noise % | seeds | tool | trainings | precision | recall | F1 | AP | AUROC | wall s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for dataset, rs in by_dataset.items():
        noise = sum(r["actual_noise_rate"] for r in rs) / len(rs)
        seeds = ",".join(str(r["seed"]) for r in sorted(rs, key=lambda r: r["seed"]))
        for tool in ("satlearn", "cleanlab"):
            measures = " | ".join(_mean_measure([r[tool][key] for r in rs])
                                  for key in ("precision", "recall", "f1", "average_precision", "auroc"))
            trainings = "/".join(str(n) for n in sorted({r[tool]["trainings"] for r in rs}))
            wall = sum(r[tool]["wall_seconds"] for r in rs) / len(rs)
            lines.append(f"| {dataset} | {_pct(noise)} | {seeds} | {tool} | {trainings} | {measures} | {wall:.0f} |")
    # each row's machine, commit and command: the MNIST-1D rows from a CPU and CIFAR rows from a GPU, say
    provenance: dict[tuple[str, str, str, str], list[str]] = defaultdict(list)
    for r in sorted(runs, key=lambda r: (r["dataset"], r["seed"])):
        key = (device_label(r), short_commit(r["commit"]), r["cleanlab"]["version"], r["command"])
        provenance[key].append(f"{r['dataset']} seed {r['seed']}")
    lines.append("")
    for (device, commit, version, command), files in provenance.items():
        line = f"Device: {device}; commit `{commit}`; cleanlab {version}; command `{command}`"
        lines.append(f"{line}." if len(provenance) == 1 else f"- {', '.join(files)}: {line}.")
    return [*lines, ""]


# What the CIFAR-10 fast path is built to reach (targets, not results): ResNet-34, batch 256, SAT on one GPU
TARGET_EPOCH_SECONDS = 1.2
TARGET_SPEEDUP = 5.0  # over the DataLoader + PIL + float32 pipeline that the official code uses
TARGET_SAT_OVER_CE = 1.02
TARGET_PAPER_RECIPE_SECONDS = 300.0  # 200 epochs with per-epoch evaluation, whole run
PAPER_RECIPE_EPOCHS = 200


def _speed_files() -> list[Path]:
    """The recorded speed tables: `speed.json` (the suite's) first, then the others by name."""
    return sorted(RESULTS_DIR.glob("speed*.json"), key=lambda p: (p.name != "speed.json", p.name))


def _command_words(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:  # recorded as a plain join of the arguments (before shlex.join), with a quote in one
        return command.split()


def _extra_settings(command: str) -> list[str]:
    """The ``--set key=value`` settings a speed table's command gave every cell (say, the cuDNN search of
    ``speed_cudnn_all.json``): a row that names only its pipeline would pass for that pipeline's plain run."""
    words = _command_words(command)
    return [value for flag, value in zip(words, words[1:]) if flag == "--set"] + \
        [word.split("=", 1)[1] for word in words if word.startswith("--set=")]


def _verdict(met: bool) -> str:
    return "met" if met else "**not met**"


def _against_target(value: float, digits: int, meets, unit: str = "") -> str:
    """``value`` and whether it ``meets`` its target, shown with ``digits`` decimals, or with as many more as it takes
    for the figure shown to meet the target only where the value does: 1.204 s against 1.2 s reads 1.204 s, not a
    1.20 marked not met."""
    met = meets(value)
    for shown_digits in range(digits, digits + 6):
        text = f"{value:.{shown_digits}f}"
        if meets(float(text)) == met:
            break
    return f"{text}{unit} ({_verdict(met)})"


def targets_section() -> list[str]:
    """The speed targets against every GPU's recorded figures: for each speed table, its quickest training pipeline
    for SAT on ResNet-34 with that pipeline's ratios from the same run; then the paper recipe's whole-run times."""
    rows = []
    for path in _speed_files():
        r = read_result(path)
        cells = [c for c in r["cells"] if "error" not in c and c["model"] == "resnet34" and c["method"] == "sat"
                 and c.get("device", "").startswith("cuda") and c["pipeline"] != "reference"
                 and "stepgraph" not in c["pipeline"]]
        if not cells:
            continue
        best = min(cells, key=lambda c: c["epoch_seconds"])
        ratios = {k: v for ratio in r["ratios"] if ratio["model"] == "resnet34" and ratio["pipeline"] == best["pipeline"]
                  for k, v in ratio.items()}
        speedup, sat_over_ce = ratios.get("speedup_over_reference_sat"), ratios.get("sat_over_ce_time")
        settings = "".join(f", `{setting}`" for setting in _extra_settings(r.get("command", "")))
        rows.append(
            f"| {device_label(r)} | `{best['pipeline']}`{settings} | "
            f"{_against_target(best['epoch_seconds'], 2, lambda v: v <= TARGET_EPOCH_SECONDS)} | "
            + (_against_target(speedup, 2, lambda v: v >= TARGET_SPEEDUP, "×") if speedup else "—") + " | "
            + (_against_target(sat_over_ce, 3, lambda v: v <= TARGET_SAT_OVER_CE) if sat_over_ce else "—")
            + f" | `{path.name}` |")
    paper = [r for r in _load("label_noise/paper*/*.json") if r["recipe"] == "paper" and r.get("run_device") == "cuda"]
    if not rows and not paper:
        return []
    lines = ["## CIFAR-10 speed targets at a glance", "",
             f"ResNet-34, batch 256, SAT, one GPU. Targets: ≤ {TARGET_EPOCH_SECONDS} s per training epoch; "
             f"≥ {TARGET_SPEEDUP:.0f}× the reference pipeline (DataLoader + PIL + float32, as the official code "
             f"trains), in the same run; SAT ≤ {100 * (TARGET_SAT_OVER_CE - 1):.0f} % slower per epoch than CE on "
             f"the same pipeline; the paper recipe (200 epochs, evaluated every epoch) ≤ "
             f"{TARGET_PAPER_RECIPE_SECONDS / 60:.0f} minutes for the whole run. Each row is one speed table's "
             "quickest training pipeline for SAT, with that pipeline's ratios from the same run (s/epoch: the "
             "fastest of the table's timed epochs, as the ratios are of the fastest; the tables below list them all).",
             ""]
    if rows:
        lines += ["| device | pipeline | s/epoch | × reference | SAT ÷ CE | file |", "|---|---|---|---|---|---|",
                  *rows, ""]
    if paper:
        lines += ["| paper recipe cell | device | pipeline | whole run s | training + evaluation epochs s | "
                  "compiler cache at start | first epoch s | file |", "|---|---|---|---|---|---|---|---|"]
        for r in paper:
            alone = "" if r.get("concurrent_cells", 1) == 1 else f", {r['concurrent_cells']} trainings sharing it"
            settings = "".join(f", `{setting}`" for setting in _settings_beyond_the_grid(r))
            lines.append(f"| {r['method']}-{r['noise']} | {device_label(r)}{alone} | `{r.get('pipeline', 'config')}`"
                         f"{settings} | {_paper_recipe_verdict(r)} | {r['run_seconds']:.0f} | {_cache_at_start(r)} | "
                         f"{_first_epoch_seconds(r)} | `{r['benchmark']}.json` |")
        lines += ["", "A whole-run time is the `fit()` call: set-up (the data read and put on the device, the model "
                  "and optimizer built), every epoch's training pass and evaluation, the model's compilation (in "
                  "its first epoch), checkpoints and the run's outputs; not the process's start before it (Python, "
                  "importing torch). A compiler cache filled earlier on the machine, or carried from another "
                  "(`cifar10_suite.sh --pack-cache`), saves most of the compilation; the speed tables' warm-up "
                  "column shows what a run started with an empty cache waits for.", ""]
        lines += paper_timing_table(paper)
    return lines


def _paper_recipe_verdict(r: dict) -> str:
    """A paper-recipe cell's whole-run time against the target, which is for the recipe's 200 epochs: a cell trained
    for other epochs (``--set run.epochs``) shows its time without a verdict."""
    whole = r.get("fit_seconds")
    if not whole:
        return "— (resumed: no whole-run time)"
    if r["epochs"] != PAPER_RECIPE_EPOCHS:
        return f"{whole:.0f} ({r['epochs']} epochs, not the recipe's {PAPER_RECIPE_EPOCHS}: no target)"
    return _against_target(whole, 0, lambda v: v <= TARGET_PAPER_RECIPE_SECONDS)


def _settings_beyond_the_grid(r: dict) -> list[str]:
    """The settings a grid cell was given beyond the grid's own and its pipeline's (a ``--set`` such as
    ``run.eval_every=10`` or ``data.batch_size=512``): its time is not the recipe's as the grid trains it."""
    from label_noise import GRID_SETTING_KEYS
    from speed import PIPELINES

    # the grid never sets the model or the batch: label_noise names them among its keys to compare their values
    own = GRID_SETTING_KEYS - {"model.name", "data.batch_size"}
    own |= {override.split("=", 1)[0] for override in PIPELINES.get(r.get("pipeline"), [])}
    return [override for override in r.get("overrides", []) if override.split("=", 1)[0] not in own]


def _cache_at_start(r: dict) -> str:
    cache = r.get("compiler_cache_at_start")
    if cache is None:
        return "not recorded"
    return f"{cache['files']} files" if cache["files"] else "empty (compiles from scratch)"


def _first_epoch_seconds(r: dict) -> str:
    """The first epoch's time, from the per-epoch metrics recorded beside the cell (``—`` where there are none)."""
    from satlearn.compare import read_metrics

    try:
        first = read_metrics(RESULTS_DIR / f"{r['benchmark']}.metrics.jsonl")[0]
        return f"{first['epoch_seconds']:.1f}" if first.get("epoch") == 1 else "—"
    except (OSError, IndexError, KeyError, TypeError, ValueError):  # ValueError: read_metrics' DataError too
        return "—"


def paper_timing_table(cells: list[dict]) -> list[str]:
    """Where each paper-recipe run's whole time went, for the cells that record it (``timing``, from the engine)."""
    timed = [r for r in cells if r.get("timing") and not r["timing"].get("resumed")]
    if not timed:
        return []
    lines = ["Where the whole run went, in seconds (the engine's own account; the rest of the whole-run time is "
             "the call itself and the summary file):", "",
             "| paper recipe cell | device | set-up | training passes | evaluations | rest of the epochs | "
             "between epochs (checkpoint waits) | finish |", "|---|---|---|---|---|---|---|---|"]
    for r in timed:
        t = r["timing"]
        rest = t["epochs_seconds"] - t["train_pass_seconds"] - t["eval_seconds"]
        lines.append(f"| {r['method']}-{r['noise']} | {device_label(r)} | {t['setup_seconds']:.1f} | "
                     f"{t['train_pass_seconds']:.1f} | {t['eval_seconds']:.1f} | {rest:.1f} | "
                     f"{t['between_epochs_seconds']:.1f} ({t['checkpoint_wait_seconds']:.1f}) | "
                     f"{t['finish_seconds']:.1f} |")
    return lines + [""]


def speed_section() -> list[str]:
    """One table per recorded speed measurement: `speed.json` (the suite's), then any other `speed_*.json` (say, a
    ResNet-18 run or a profiled one); each file's figures come from one run, so its ratios are like for like."""
    files = _speed_files()
    if not files:
        return []
    lines = ["## Training speed (CIFAR-10, batch 256, whole epochs through the engine)", "",
             "Fastest of the timed epochs (all of them listed: their spread says how far a ratio can be trusted); CE "
             "and SAT epochs alternate. The warm-up epoch includes cuDNN autotuning and "
             "any compilation, as does the first evaluation; evaluation is one pass over the 10,000 test images. "
             "*TFLOP/s*: the model's "
             "training operations per image (forward and backward, counted by `torch.utils.flop_counter`) times "
             "images/s. *GPU busy*, where measured (`--profile-steps`): the share of a profiled step's time that kernels kept "
             "the GPU working; near 100 %, a step waits for its kernels, lower, for the host.", ""]
    for path in files:
        lines += _speed_table(read_result(path), path.name)
    return lines


_COUNTED_GFLOP: dict[str, float] = {}


def _train_gflop_per_image(cell: dict, command: str) -> float | None:
    """The cell's recorded operations per training image, or, for a file recorded before speed.py counted them,
    speed.py's count for the model at its default width (none where the command changed the width)."""
    if "train_gflop_per_image" in cell:
        return cell["train_gflop_per_image"]
    if "model.width" in command:
        return None
    if cell["model"] not in _COUNTED_GFLOP:
        from speed import train_flops_per_image

        _COUNTED_GFLOP[cell["model"]] = train_flops_per_image(cell["model"]) / 1e9
    return _COUNTED_GFLOP[cell["model"]]


def _speed_table(r: dict, file_name: str) -> list[str]:
    profiled = any("profile" in c for c in r["cells"])
    busy_header, busy_rule = (" GPU busy % (ms kernels / step) |", "---|") if profiled else ("", "")
    lines = [f"`{file_name}`:", "",
             "| model | pipeline | method | s/epoch | timed epochs s | images/s | TFLOP/s | warm-up epoch s "
             f"| first evaluation s | evaluation s |{busy_header}",
             f"|---|---|---|---|---|---|---|---|---|---|{busy_rule}"]
    floors: dict[str, float] = {}
    ceiling = r.get("ceilings", {}).get("bf16_matmul_tflops")
    for c in r["cells"]:
        if "error" in c:
            lines.append(f"| {c['model']} | {c['pipeline']} | {c['method']} | failed: {c['error'][:80]} | | | | | | |"
                         + (" |" if profiled else ""))
            continue
        gflop = _train_gflop_per_image(c, r["command"])
        rate = f"{gflop * c['images_per_second'] / 1000:.0f}" if gflop else "—"
        if gflop and ceiling:
            floors[c["model"]] = gflop * c["images_per_second"] * c["epoch_seconds"] / 1000 / ceiling
        warmup = f"{c['warmup_epoch_seconds']:.1f}" if "warmup_epoch_seconds" in c else "—"
        evaluation = f"{c['eval_seconds']:.2f}" if "eval_seconds" in c else "—"
        first_evaluation = f"{c['eval_warmup_seconds']:.1f}" if "eval_warmup_seconds" in c else "—"
        timed = ", ".join(f"{t:.2f}" for t in c.get("epoch_seconds_all", []))  # their spread: how far to trust
        busy = ""
        if profiled:
            profile = c.get("profile") or {}
            fraction = profile.get("gpu_busy_fraction")
            busy = (f" {100 * fraction:.1f} ({profile['gpu_busy_ms_per_step']:.2f} / "
                    f"{profile['gpu_span_ms_per_step']:.2f}) |" if fraction is not None else " — |")
        lines.append(f"| {c['model']} | {c['pipeline']} | {c['method']} | {c['epoch_seconds']:.2f} | {timed} | "
                     f"{c['images_per_second']:.0f} | {rate} | {warmup} | {first_evaluation} | {evaluation} |{busy}")
    if r["ratios"]:
        lines += ["", "| model | pipeline | ratio | value |", "|---|---|---|---|"]
    for ratio in r["ratios"]:
        for key, value in ratio.items():
            if key not in ("model", "pipeline"):
                lines.append(f"| {ratio['model']} | {ratio['pipeline']} | {key} | {value:.3f} |")
    lines += [""]
    if ceiling:
        lines += [f"bf16 matrix products on this device in the same run: {ceiling:.0f} TFLOP/s; an epoch's training "
                  "operations at that rate (the floor): "
                  + ", ".join(f"{model} {seconds:.2f} s" for model, seconds in floors.items()) + ".", ""]
    lines += _kernel_kind_table(r["cells"])
    unmeasured = _unmeasured_cells(r)
    if unmeasured:
        lines += ["Asked for by the command but not in the file (its run stopped before them): "
                  + ", ".join(f"{model} `{pipeline}` {method}" for model, pipeline, method in unmeasured) + ".", ""]
    lines += [f"Device: {device_label(r)}; commit `{short_commit(r['commit'])}`; command `{r['command']}`; "
              f"file `{_shown(file_name)}`.", ""]
    return lines


def _unmeasured_cells(r: dict) -> list[tuple[str, str, str]]:
    """(model, pipeline, method) of the cells that the recorded speed.py command asks for and the file lacks (a
    cell that failed is in the file, with its error): speed.py records a table cell by cell, so a run stopped
    part-way leaves a table that reads as whole otherwise. None are named for a command that speed.py's parser now
    refuses."""
    from speed import build_parser, requested_cells

    words = _command_words(r["command"])
    script = next((i for i, word in enumerate(words) if Path(word).name == "speed.py"), None)
    if script is None:
        return []
    try:  # speed.py's usage or help, printed by its parser, would read as this report's own failure
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            requested = requested_cells(build_parser().parse_args(words[script + 1:]))
    except SystemExit:  # an option that speed.py no longer has: the file cannot say what it asked for
        return []
    found = {(c["model"], c["pipeline"], c["method"]) for c in r["cells"]}
    return sorted(requested - found)


def _kernel_name(name: str, limit: int = 60) -> str:
    return f"`{name}`" if len(name) <= limit else f"`{name[:limit - 1]}…`"


def _kernel_kind_table(cells: list[dict]) -> list[str]:
    """Where a profiled step's kernel time goes: kernels that torch.compile generated against library kernels,
    and the largest ones by name."""
    split = [c for c in cells if "compiled_kernel_ms_per_step" in (c.get("profile") or {})]
    if not split:
        return []
    lines = ["Kernel time per profiled step, summed kernel durations in ms: *compiled* are the Triton kernels that "
             "`torch.compile` generated (fused normalisation, activations, element-wise work), *library* the rest "
             "(cuDNN's convolutions, cuBLAS, ATen); then the three largest kernels.", "",
             "| model | pipeline | method | compiled | library | largest kernels (ms per step) |", "|---|---|---|---|---|---|"]
    for c in split:
        profile = c["profile"]
        largest = "; ".join(f"{_kernel_name(k['name'])} {k['ms_per_step']:.2f}" for k in profile["top_kernels"][:3])
        lines.append(f"| {c['model']} | {c['pipeline']} | {c['method']} | {profile['compiled_kernel_ms_per_step']:.2f} "
                     f"| {profile['library_kernel_ms_per_step']:.2f} | {largest} |")
    return lines + [""]


def _cell_time(cell: dict) -> str:
    text = f"{cell['run_seconds']:.0f}"
    if cell.get("fit_seconds"):
        text += f" ({cell['fit_seconds']:.0f})"
    if cell.get("concurrent_cells", 1) > 1:
        text += f" ×{cell['concurrent_cells']}"
    return text


def step_ops_section() -> list[str]:
    lines = []
    for r in _load("step_ops*.json"):
        name = Path(r["benchmark"]).name
        cuda = any("cuda_kernels" in c for c in r["cells"])
        if not lines:
            lines = ["## Operations per training step (CE vs SAT)", "",
                     "One profiled step through the engine's method and optimizer (`benchmarks/step_ops.py`): "
                     "operations dispatched, operations that call no other (on a GPU, roughly the kernels), and "
                     "CUDA kernels where run on a GPU. What SAT adds to each step, counted rather than timed.", ""]
        lines += [f"`{name}.json`: {r['model']} width {r['width']}, batch {r['batch_size']}, amp {r['amp']}; "
                  f"device {device_label(r)}; commit `{short_commit(r['commit'])}`.", "",
                  "| method | dispatched ops | leaf ops |" + (" CUDA kernels | kernel ms per step |" if cuda else ""),
                  "|---|---|---|" + ("---|---|" if cuda else "")]
        for c in r["cells"]:
            kernel_ms = f"{c['cuda_kernel_ms']:.2f}" if "cuda_kernel_ms" in c else "—"
            lines.append(f"| {c['method']} | {c['top_level_ops']} | {c['leaf_ops']} |"
                         + (f" {c.get('cuda_kernels', '—')} | {kernel_ms} |" if cuda else ""))
        lines += ["", "Ratios: " + ", ".join(f"{k} {v:.3f}" for k, v in r["ratios"].items()) + ".", ""]
        lines += _kernel_time_table(r["cells"], steps=r["cells"][0].get("steps", 1))
    return lines


def _kernel_time_table(cells: list[dict], *, steps: int) -> list[str]:
    """GPU time per step by the operation that launched the kernels, one column per method."""
    timed = [c for c in cells if c.get("cuda_ms_by_op")]
    if not timed:
        return []
    by_method = {c["method"]: {row["op"]: row["ms"] for row in c["cuda_ms_by_op"]} for c in timed}
    first = timed[0]["cuda_ms_by_op"]
    ops = [row["op"] for row in first] + sorted({op for times in by_method.values() for op in times}
                                                - {row["op"] for row in first})
    lines = [f"Where the GPU time of a step goes (kernel ms per step, mean of {steps} steps; `other` sums the "
             "operations below the largest ones):", "",
             "| operation | " + " | ".join(by_method) + " |", "|---|" + "---|" * len(by_method)]
    for op in ops:
        lines.append(f"| `{op}` | " + " | ".join(f"{times[op]:.3f}" if op in times else "—"
                                                for times in by_method.values()) + " |")
    return lines + [""]


def checkpoint_section() -> list[str]:
    lines = []
    for r in _load("checkpoint_cost*.json"):
        if not lines:
            lines = ["## Cost of a checkpoint", "",
                     "`benchmarks/checkpoint_cost.py`: model, SGD momentum and SAT target table, written to a temporary "
                     "file, flushed to disk and renamed (the engine's `save_checkpoint`). Training waits only for "
                     "the snapshot to CPU memory (since commit b974159, on CUDA only for queueing its copies to pinned "
                     "memory): the engine's `CheckpointWriter` writes on a background thread. The check column: "
                     "each checkpoint equals the state at save(), though the state is changed right after.", "",
                     "| model | table | MB | median s to disk | median s training waits | checkpoint = state at "
                     "save() | device | written under | commit |", "|---|---|---|---|---|---|---|---|---|"]
        waits = f"{r['median_blocking_seconds']:.3f}" if "median_blocking_seconds" in r else "—"
        exact = {True: "yes", False: "**no**"}.get(r.get("snapshot_exact"), "not checked")
        lines.append(f"| {r['model']} | {r['examples']} × {r['classes']} | {r['bytes'] / 1e6:.0f} | "
                     f"{r['median_seconds']:.2f} | {waits} | {exact} | {device_label(r)} | `{r['written_under']}` | "
                     f"`{short_commit(r['commit'])}` |")
    return lines + [""] if lines else []


def compile_cache_section() -> list[str]:
    recorded = _load("compile_cache*.json")
    rows = [r for r in recorded if "runs" in r]
    archived = [r for r in recorded if "archives" in r]  # compile_cache.py --archives-of
    if not rows and not archived:
        return []
    lines = ["## What a carried compiler cache saves"]
    if rows:  # (--archives-of alone records no cold/warm/carried runs: no empty table for them)
        lines += ["", "`benchmarks/compile_cache.py`: the first training step of a compiled model (compilation "
                  "included) in a fresh process with an empty `TORCHINDUCTOR_CACHE_DIR` (*cold*), with the one the "
                  "cold process filled (*warm*), and with that one packed and unpacked elsewhere (*carried*, what "
                  "`cifar10_suite.sh --pack-cache` gives the next machine). *Hits*: FX-graph cache hits of each "
                  "process.", "", "| model | batch | mode | device | cold s | warm s | carried s | hits cold / warm / "
                  "carried | cache files | MB packed | commit |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        runs = r["runs"]
        hits = " / ".join(str(runs[k]["counters"]["fxgraph_cache_hit"]) for k in ("cold", "warm", "carried"))
        model = r["model"] + (f" (width {r['width']})" if r.get("width") else "")
        lines.append(f"| {model} | {r['batch_size']} | {r['mode']} | {device_label(r)} | "
                     f"{runs['cold']['seconds']:.1f} | {runs['warm']['seconds']:.1f} | "
                     f"{runs['carried']['seconds']:.1f} | {hits} | {r['cache_files']} | "
                     f"{r['archive_bytes'] / 1e6:.1f} | `{short_commit(r['commit'])}` |")
    if archived:
        lines += ["", "What each compression of `--pack-cache` trades (`compile_cache.py --archives-of`: the cache "
                  "packed and unpacked once per suffix, on the CPU named):", "",
                  "| cache | files | MB | archive | MB packed | pack s | unpack s | device | commit |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in archived:
            for suffix, archive in r["archives"].items():
                lines.append(f"| `{Path(r['source']).name}` | {r['cache_files']} | {r['cache_bytes'] / 1e6:.1f} | "
                             f"{suffix} | {archive['bytes'] / 1e6:.2f} | {archive['pack_seconds']:.1f} | "
                             f"{archive['unpack_seconds']:.1f} | {device_label(r)} | `{short_commit(r['commit'])}` |")
    return lines + [""]


def _training_setup(cell: dict) -> str:
    """The pipeline a grid cell was asked for and, where recorded, what the run resolved it to."""
    runtime = cell.get("runtime")
    if not runtime:
        return cell.get("pipeline", "config")
    return (f"{cell.get('pipeline', 'config')}: {runtime['pipeline']}, amp {runtime['amp']}, "
            f"compile {runtime['compile']}")


def _grid_label_issues_table(cells: dict[tuple[str, str], dict]) -> list[str]:
    """How well each SAT cell's final targets single out its wrongly labelled training examples."""
    found = sorted((key, c) for key, c in cells.items() if c.get("label_issues"))
    if not found:
        return []
    lines = ["Wrong labels found by the SAT cells' own targets (`satlearn.find_label_issues`, default rule; one "
             "training each), against the known true labels:", "",
             "| cell | truly wrong | flagged | precision | recall | F1 | AP | AUROC |", "|---|---|---|---|---|---|---|---|"]
    for (noise, method), c in found:
        li = c["label_issues"]
        measures = " | ".join(format_measure(li[key])  # n/a where undefined (a cell that flagged nothing, say)
                              for key in ("precision", "recall", "f1", "average_precision", "auroc"))
        lines.append(f"| {method}-{noise} | {li['truly_wrong']} | {li['flagged']} | {measures} |")
    # a cell recorded before cells were scored has no row; say so, or the table reads as every SAT cell's
    unscored = [f"{method}-{noise}" for (noise, method), c in sorted(cells.items())
                if method != "ce" and not c.get("label_issues")]
    if unscored:
        lines += ["", f"Recorded without this score: {', '.join(unscored)}."]
    return lines + [""]


# two records of one noise draw differ only past float32's digits (a run's summary keeps its rate as a float32)
SAME_NOISE_RATE = 1e-6


def _cell_seeds(cell: dict) -> tuple[int, int | None]:
    """(run seed, noise seed) a grid cell trained with; the noise seed is None where a label file gave the noise. A
    cell recorded before cells kept their seeds trained with the configs' own."""
    from label_noise import CONFIG_SEED, NOISES

    if cell.get("seeds"):
        return cell["seeds"]["run"], cell["seeds"]["noise"]
    from_file = "data.noise.kind=file" in NOISES.get(cell["noise"], [])
    return CONFIG_SEED, None if from_file else CONFIG_SEED


def _seed_words(run: int, noise: int | None) -> str:
    return f"run seed {run}, " + ("labels from a file" if noise is None else f"noise seed {noise}")


def _unpaired(sat: dict, ce: dict) -> str | None:
    """How a SAT cell and a CE cell of one row differ in what their accuracies depend on besides the method (None
    where they do not): their difference would not be SAT's gain over CE."""
    differences = []
    if sat["epochs"] != ce["epochs"]:
        differences.append(f"epochs {sat['epochs']} against {ce['epochs']}")
    if _cell_seeds(sat) != _cell_seeds(ce):
        differences.append(f"{_seed_words(*_cell_seeds(sat))} against {_seed_words(*_cell_seeds(ce))}")
    if abs(sat["actual_noise_rate"] - ce["actual_noise_rate"]) > SAME_NOISE_RATE:
        differences.append(f"actual noise {_pct(sat['actual_noise_rate'])} % against "
                           f"{_pct(ce['actual_noise_rate'])} %")
    sat_settings, ce_settings = _settings_that_change_the_maths(sat), _settings_that_change_the_maths(ce)
    for key in sorted(sat_settings.keys() | ce_settings.keys()):
        if sat_settings.get(key) != ce_settings.get(key):
            differences.append(" against ".join(f"{key}={settings[key]}" if key in settings else "the config's"
                                                for settings in (sat_settings, ce_settings)))
    return "; ".join(differences) or None


def _settings_that_change_the_maths(r: dict) -> dict[str, str]:
    """A grid cell's settings beyond the grid's own (``--set model.width=32``, say) that change what it trains, by
    key: not its method's own options (SAT's ``method.momentum``), nor those that change only how it runs (a thread
    count or any pipeline's settings, as the grid's cells may differ in them)."""
    from satlearn.engine.trainer import RESUME_FREE_KEYS
    from speed import PIPELINES

    how_it_runs = RESUME_FREE_KEYS | {o.split("=", 1)[0] for overrides in PIPELINES.values() for o in overrides}
    settings = override_settings(_settings_beyond_the_grid(r))
    return {key: value for key, value in settings.items()
            if key not in how_it_runs and not key.startswith("method.")}


def _actual_noise(row: list[dict | None]) -> str:
    """A row's actual noise rate: one figure where its cells trained on one draw, else each cell's."""
    rates = [c["actual_noise_rate"] for c in row if c]
    if not rates:
        return "—"
    if max(rates) - min(rates) <= SAME_NOISE_RATE:
        return _pct(rates[0])
    return ", ".join("—" if c is None else _pct(c["actual_noise_rate"]) for c in row)


def _epochs_words(cells: dict[tuple[str, str], dict]) -> str:
    """The epochs a table's cells trained for: one number where they share it, else each number's cells."""
    by_epochs: dict[int, list[str]] = {}
    for (noise, method), c in sorted(cells.items()):
        by_epochs.setdefault(c["epochs"], []).append(f"{method}-{noise}")
    if len(by_epochs) == 1:
        return str(next(iter(by_epochs)))
    return ", ".join(f"{epochs} ({', '.join(names)})" for epochs, names in sorted(by_epochs.items()))


def _seeds_sentence(cells: dict[tuple[str, str], dict]) -> str:
    """What seeds a table's cells trained with: nothing for the configs' own, one sentence where every cell shares
    them, and each cell's where they differ."""
    from label_noise import CONFIG_SEED

    by_seeds: dict[tuple[int, int | None], list[str]] = {}
    for (noise, method), c in sorted(cells.items()):
        by_seeds.setdefault(_cell_seeds(c), []).append(f"{method}-{noise}")
    runs = {run for run, _ in by_seeds}
    drawn = {noise for _, noise in by_seeds if noise is not None}  # (a label file's noise is drawn by no seed)
    if len(runs) == 1 and drawn <= runs:
        seed = runs.pop()
        return "" if seed == CONFIG_SEED else f" Seed {seed}, for the run and for the synthetic noise's draw."
    if len(runs) == 1 and len(drawn) == 1:
        return f" Run seed {runs.pop()}, noise seed {drawn.pop()}."
    return " Seeds differ between the cells: " + "; ".join(
        f"{', '.join(names)}: {_seed_words(*seeds)}" for seeds, names in sorted(
            by_seeds.items(), key=lambda item: (item[0][0], -1 if item[0][1] is None else item[0][1]))) + "."


def _grid_models(runs: list[dict]) -> str:
    """The models the grid's cells trained: the recipes' ResNet-34, unless a cell was given another."""
    models = {override_settings(r.get("overrides", [])).get("model.name", "resnet34") for r in runs}
    return "ResNet-34" if models == {"resnet34"} else "models " + ", ".join(f"`{m}`" for m in sorted(models))


def _beyond_the_recipe(cells: dict[tuple[str, str], dict]) -> str:
    """A sentence naming the cells trained with settings beyond their recipe's (a ``--set model.width=16``), which
    the table would otherwise show as the recipe's; nothing where there are none."""
    given = [f"{method}-{noise}: " + ", ".join(f"`{s}`" for s in settings)
             for (noise, method), c in sorted(cells.items()) if (settings := _settings_beyond_the_grid(c))]
    return f" Settings beyond the recipe: {'; '.join(given)}." if given else ""


def label_noise_section() -> list[str]:
    runs = _load("label_noise/*/*.json")
    if not runs:
        return []
    lines = [f"## Label-noise grid (CIFAR-10 JPEG, {_grid_models(runs)})", "",
             "Test accuracy % at the last epoch (best epoch in brackets). Run time per method: seconds of training "
             "and evaluation epochs; in brackets the whole run (set-up, compilation, checkpoints) when it was not "
             "resumed; ×K when up to K trainings shared the GPU. Per-cell files in "
             f"`{_shown('label_noise/<recipe>/')}`.",
             ""]
    for recipe, tag in sorted({(r["recipe"], r.get("tag")) for r in runs}, key=lambda k: (k[0], k[1] or "")):
        cells = {(r["noise"], r["method"]): r for r in runs if r["recipe"] == recipe and r.get("tag") == tag}
        methods = [m for m in ("ce", "sat", "sat_sce") if any(k[1] == m for k in cells)]
        noises = sorted({k[0] for k in cells}, key=lambda n: (not n.startswith("sym"), n))
        lines += [f"### recipe `{recipe}`" + (f", cells trained again as `{tag}`" if tag else ""), ""]
        if recipe == "fast" and not tag:  # a grid to complete: every cell of it is listed, recorded or not
            from label_noise import METHODS, NOISES

            methods, noises = list(METHODS), list(NOISES)
            size = len(methods) * len(noises)
            lines += [f"All {size} of the grid's cells recorded." if len(cells) >= size else
                      f"{len(cells)} of the grid's {size} cells recorded; *not run* marks the others.", ""]
        gain = "sat" in methods and "ce" in methods
        lines += ["| noise | actual noise % | " + " | ".join(methods) + (" | SAT − CE (last) |" if gain else " |")
                  + " run time (s) |",
                  "|---|---|" + "---|" * len(methods) + ("---|" if gain else "") + "---|"]
        unpaired = []
        for noise in noises:
            row = [cells.get((noise, m)) for m in methods]
            accs = " | ".join("*not run*" if c is None else
                              f"{100 * c['last_test_accuracy']:.2f} ({100 * c['best_test_accuracy']:.2f})" for c in row)
            difference = ""
            if gain:
                sat, ce = cells.get((noise, "sat")), cells.get((noise, "ce"))
                apart = _unpaired(sat, ce) if sat and ce else None
                if apart:
                    unpaired.append(f"{noise} ({apart})")
                difference = (f" {100 * (sat['last_test_accuracy'] - ce['last_test_accuracy']):+.2f} |"
                              if sat and ce and not apart else " — |")
            seconds = ", ".join("—" if c is None else _cell_time(c) for c in row)
            lines.append(f"| {noise} | {_actual_noise(row)} | {accs} |{difference} {seconds} |")
        if unpaired:
            lines += ["", "No SAT − CE where the SAT cell and the CE cell differ in more than the method: "
                      + "; ".join(unpaired) + "."]
        # cells of one grid may come from different machines and pipelines, whose run times do not compare
        setups: dict[tuple[str, str], list[str]] = {}
        for (noise, method), c in sorted(cells.items()):
            setups.setdefault((device_label(c), _training_setup(c)), []).append(f"{method}-{noise}")
        commits = sorted({short_commit(c["commit"]) for c in cells.values()})
        lines += ["", f"Epochs {_epochs_words(cells)}.{_seeds_sentence(cells)}{_beyond_the_recipe(cells)} "
                  "Device and training pipeline: "
                  + "; ".join(f"{device}, `{setup}` ({_count(len(names), 'cell')}: {', '.join(names)})"
                              for (device, setup), names in sorted(setups.items()))
                  + ". Commit " + ", ".join(f"`{c}`" for c in commits) + ".", ""]
        figure = ROOT / "benchmarks" / "figures" / f"label_noise_{recipe}.png"
        lines += _grid_label_issues_table(cells)
        if not tag and figure.exists() and OUT.parent == ROOT / "benchmarks":
            lines += [f"![learning curves, recipe {recipe}](figures/{figure.name})", "",
                      "Learning curves drawn by `python benchmarks/curves.py` from the runs' per-epoch metrics.", ""]
    return lines


def main(argv: list[str] | None = None) -> None:
    import argparse

    global RESULTS_DIR, OUT
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results-dir", type=path_option, default=RESULTS,
                        help="the JSON results to report (default: benchmarks/results/)")
    parser.add_argument("--out", type=path_option, default=OUT,
                        help="the report to write (default: benchmarks/RESULTS.md)")
    args = parser.parse_args(argv)
    problem = missing_dir_problem(args.results_dir)
    if problem:  # a mistyped directory would otherwise overwrite the report with an empty one
        parser.error(f"--results-dir {args.results_dir}: {problem}")
    if args.out.is_dir():
        parser.error(f"--out {args.out}: is a directory; expected the file to write (say RESULTS.md)")
    if not args.out.resolve().parent.is_dir():
        parser.error(f"--out {args.out}: no directory {args.out.resolve().parent} to write it in")
    RESULTS_DIR, OUT = args.results_dir, args.out.resolve()  # resolved: compared with the checkout's folders
    sections = [demo_section(), label_issues_section(), targets_section(), speed_section(), step_ops_section(),
                checkpoint_section(), compile_cache_section(), label_noise_section()]
    body = [line for section in sections for line in section]
    if (ROOT / "benchmarks" / "SELECTIVE.md").exists() and OUT.parent == ROOT / "benchmarks":
        body += ["## Selective classification", "",
                 "See `benchmarks/SELECTIVE.md` (generated by `benchmarks/selective.py` from "
                 "`benchmarks/results/selective/`).", ""]
    text = "\n".join(["# Benchmark results", "",
                      f"Generated by `python benchmarks/report.py` from `{_shown('*.json')}`; do not edit.", "",
                      *body])
    atomic_write_text(OUT, text.rstrip() + "\n")  # grids that finish cells at once may regenerate it together
    print(f"wrote {OUT}")


if __name__ == "__main__":
    run_main(main)
