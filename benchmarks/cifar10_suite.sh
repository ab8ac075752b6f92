#!/usr/bin/env bash
# The CIFAR-10 benchmarks on one GPU machine, ordered so that an interrupted suite has measured what matters most:
#   1. prepare   benchmarks/data/cifar-10-batches-py from the JPEG archive (skipped when present)
#   2. speed     ResNet-34, fast path (eager, CUDA graphs) vs the DataLoader reference, CE vs SAT; CUDA kernels
#                per step (step_ops.py), the cost of a checkpoint (checkpoint_cost.py). A measurement already
#                recorded on this kind of device (say, committed from an earlier machine) is not repeated
#                (SPEED_REDO=1 repeats it; a table that lacks a cell it asks for, its run stopped part-way, is
#                measured again, whole); for the speed tables that means the same GPU model: where speed.json
#                holds an H200's rows, an H100 writes its own to speed_h100-80gb-hbm3.json (likewise every
#                speed_*.json step below).
#   3. profile   (CUDA) how busy the CUDA-graph path keeps the GPU in a step, CE and SAT (speed.py --profile-steps;
#                speed_profile.json): whether the step waits for its kernels or for the host. It also fills the
#                compiler's cache that the trainings after it reuse.
#   4. paper     SAT on 40 % symmetric noise, 200 epochs, alone on the device (its wall time is the recipe's); where
#                the recorded cell was trained on another GPU model, this one trains it again for its own wall time,
#                into label_noise/paper_<model>/ (as the speed tables do)
#   5. paper-ce  CE on that cell, alone too: with step 4, the paper's headline comparison
#   6. grid      the `fast` grid, GRID_JOBS cells at once
#   7. autotune  other kernels for the CUDA-graph path, SAT, profiled: cuDNN choosing among all its convolution
#                algorithms, not torch's default 10 (speed_cudnn_all.json, a process of its own: cuDNN keeps its
#                choices for the process); then, against the CUDA-graph path (speed_tuned.json), the generated
#                kernels tuned (fast+tuned)
#   8. issues    CIFAR rows of benchmarks/label_issues.py, when cleanlab can be imported
#   9. report    benchmarks/RESULTS.md and the learning curves in benchmarks/figures/ (every time)
# Steps only run when named in STEPS:
#      paper-both  SAT and CE on the paper cell at once, for a machine whose time is short (each result records
#                  that two trainings shared the device)
#      speed18     ResNet-18's speed rows, on SPEED_PIPELINES (speed_resnet18.json)
#      maxautotune torch.compile's max-autotune against the CUDA-graph path, SAT, profiled (speed_max_autotune.json;
#                  its compilation takes minutes: a lease of its own, or one with little else to do)
#      stepgraph   the whole training step in one CUDA graph (benchmarks/step_graph.py, eager and compiled model)
#                  against the CUDA-graph path, CE and SAT, profiled (speed_step_graph.json)
# The trainings use the pipeline that the speed measurement found quickest for them (TRAIN_PIPELINE=fastest,
# compilation counted once per grid; see label_noise.py --pipeline). Every step resumes or skips what is done, recorded
# cells included, so the suite can be started again after an interruption, on the same machine or on another one
# that has the committed results; a step that fails is reported and the next one runs. A finished step is not
# started again, except the grid when its cells change (GRID_RECIPE, GRID_SEED, GRID_NOISE, GRID_METHODS, RUN_SET):
# then it trains what the new grid has not recorded, and until it has finished (not after it failed) --status does
# not list the grid as finished; started again with the earlier settings, it finds their cells recorded and skips
# them. Start it detached and look in from time to time:
#
#   mkdir -p benchmarks/runs && setsid nohup bash benchmarks/cifar10_suite.sh > benchmarks/runs/suite.log 2>&1 &
#   bash benchmarks/cifar10_suite.sh --status            # whether it runs, finished steps, each step log's latest
#                                                        # attempt (when it started, its last lines), unfinished
#                                                        # cells (training, or stopped), GPU use
#   bash benchmarks/cifar10_suite.sh --pack results.tgz  # results, logs and metrics (no checkpoints) in one file
#   bash benchmarks/cifar10_suite.sh --stop              # ends the running suite and its trainings; it says which
#                                                        # step it cut off: started again, a training step (paper,
#                                                        # paper-ce, paper-both, grid) resumes from its last
#                                                        # checkpoint, any other step starts again from scratch
#   bash benchmarks/cifar10_suite.sh --run-for 470       # starts it detached (unless it runs already), returns when
#                                                        # it ends or after 470 s, with its new log lines and status
#   bash benchmarks/cifar10_suite.sh --pack-cache cache.tar.xz  # torch.compile's cache, for the next machine
#                                                        # (.tar.xz or .txz: about 8x smaller than .tgz or
#                                                        # .tar.gz, slower to pack; no other suffix)
#
# Compilation: torch.compile keeps what it compiled in TORCHINDUCTOR_CACHE_DIR (default here $SUITE_RUNS/compile_cache),
# which every training of the suite shares; a new machine compiles again unless it gets that cache: started with
# an empty cache directory, the suite fills it from the archive COMPILE_CACHE (default
# benchmarks/data/compile_cache.tar.xz, or compile_cache.tgz there where only that one exists; written by --pack-cache
# on an earlier machine) where one exists (the log says where a COMPILE_CACHE named is not there). Entries made by
# another torch, Triton or GPU are not used (torch keys them by these), so a stale archive costs only its unpacking.
#
# Inputs: cifar10-jpeg.tar.xz and cifar10n_labels.npz in benchmarks/data/ (or ../shared/data/). Settings, from the
# environment: PYTHON (python3), GRID_JOBS (1), SPEED_ARGS (extra speed.py arguments), SPEED_PIPELINES, SPEED_REDO,
# TRAIN_PIPELINE (fastest, or a label_noise.py --pipeline name),
# RUN_SET (extra `--set key=value` arguments for every training), GRID_NOISE and GRID_METHODS (the grid's cells),
# GRID_RECIPE (fast; `paper` trains other cells on the 200-epoch recipe, say GRID_NOISE=sym80 GRID_METHODS=sat),
# GRID_SEED (the grid's cells again with this seed, recorded apart in label_noise/<recipe>_seed<N>/; 0, the configs'
# own seed, means the recipe's own cells),
# SUITE_RESULTS (results directory; where it is not set, the one that the last suite under the same SUITE_RUNS
# recorded into, so that a suite started again, by --run-for too, goes on recording there and --status and --pack
# look there; with no such suite, benchmarks/results), SUITE_RUNS (default benchmarks/runs),
# SUITE_REPORT (default benchmarks/RESULTS.md), DATA_ROOT (default benchmarks/data/cifar-10-batches-py; for the
# prepare step to write it, its last part must be cifar-10-batches-py; these paths, relative, are taken from the
# directory the suite is started in, and a leading ~ or ~user, quoted too, is that home directory, as in --pack,
# --pack-cache and COMPILE_CACHE), STEPS (default: the nine numbered above, in order), BENCH_COMMIT (the commit
# every result records, where set: a copy of the tree may have no .git, or an older one's; it wins over git's HEAD,
# and the log warns where the two differ. Without either, the commit that the last start under the same SUITE_RUNS
# recorded, which the log says). STEPS, GRID_SEED,
# GRID_JOBS, GRID_RECIPE, GRID_NOISE, GRID_METHODS, TRAIN_PIPELINE and RUN_SET are checked before any step runs
# (the names against label_noise.py's, RUN_SET against the configs of the cells it goes to); a wrong one stops the
# suite with exit status 2, as do a SUITE_RESULTS or SUITE_RUNS that cannot be made or written in, and, where a step
# that writes the report runs (paper, paper-ce, paper-both, grid, report), a SUITE_REPORT that is a folder or whose
# folder cannot be made (a missing one is made).
{  # bash reads a script as it runs it: the whole of it in one block, read before any of it runs, so that the
   # tree copied again under a running suite (an edit, a newer checkout) cannot change what it does next
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BENCH="$ROOT/benchmarks"
PYTHON="${PYTHON:-python3}"
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
RESULTS="${SUITE_RESULTS:-$BENCH/results}"
RUNS="${SUITE_RUNS:-$BENCH/runs}"
DATA_ROOT="${DATA_ROOT:-$BENCH/data/cifar-10-batches-py}"
export TORCHINDUCTOR_CACHE_DIR="${TORCHINDUCTOR_CACHE_DIR:-$RUNS/compile_cache}"
COMPILE_CACHE_GIVEN="${COMPILE_CACHE:-}"  # (a default archive may well be absent; one named should be there)
if [ -z "${COMPILE_CACHE:-}" ]; then  # compile_cache.tar.xz, or compile_cache.tgz where only that one exists
    COMPILE_CACHE="$BENCH/data/compile_cache.tar.xz"
    [ -f "$COMPILE_CACHE" ] || [ ! -f "$BENCH/data/compile_cache.tgz" ] || COMPILE_CACHE="$BENCH/data/compile_cache.tgz"
fi
# One cell at a time: on an H200, three cells sharing the GPU took 268-271 s each and one alone 88-90 s (fast
# recipe, ResNet-34), so sharing gains nothing, and a machine taken back mid-grid loses one unfinished cell, not three.
GRID_JOBS="${GRID_JOBS:-1}"
SPEED_PIPELINES="${SPEED_PIPELINES:-fast fast+cudagraphs reference}"
GRID_RECIPE="${GRID_RECIPE:-fast}"
GRID_NOISE="${GRID_NOISE:-sym40 sym80 c10n-worst sym20 sym60 pair40 c10n-aggre c10n-random1}"
GRID_METHODS="${GRID_METHODS:-ce sat sat_sce}"
TRAIN_PIPELINE="${TRAIN_PIPELINE:-fastest}"
ALL_STEPS="prepare speed profile paper paper-ce grid autotune issues report"  # the default order
KNOWN_STEPS="prepare speed profile paper paper-ce paper-both speed18 autotune maxautotune stepgraph grid issues report"
# the trainings, whose cells label_noise.py resumes from their last checkpoint; every other step, stopped part-way,
# starts again from scratch
RESUMING_STEPS="paper paper-ce paper-both grid"
# the steps that write the report (label_noise.py regenerates it after each cell it records)
REPORT_STEPS="paper paper-ce paper-both grid report"
# opens each attempt of a step in its log, which every attempt appends to: --status reads the latest attempt only
ATTEMPT_HEADER="### cifar10_suite.sh: attempt started"
REPORT="${SUITE_REPORT:-$BENCH/RESULTS.md}"
home_path() {  # home_path PATH: PATH as the benchmark scripts read a path (common.path_option): a leading ~ or ~user
    # is that home directory also where no shell expanded it (SUITE_RESULTS='~/results', say); a ~user of no such
    # user is left as it is
    local path="$1" user home
    case "$path" in
        "~" | "~/"*) home=~; path="$home${path#"~"}" ;;
        "~"*)
            user="${path%%/*}" user="${user#"~"}"
            # a user name only, so that eval expands nothing else: not ~N, ~-N or ~-, which bash reads as entries of
            # its directory stack ($PWD, $OLDPWD), where Python's expanduser looks for a user of that name
            if [[ "$user" =~ ^[A-Za-z0-9._-]+$ && ! "$user" =~ ^-?[0-9]*$ ]]; then
                eval "home=~$user"
                [ "$home" = "~$user" ] || path="$home${path#"~$user"}"
            fi ;;
    esac
    printf '%s\n' "$path"
}
absolute() { local path; path="$(home_path "$1")"; case "$path" in /*) ;; *) path="$PWD/$path" ;; esac
    printf '%s\n' "$path"; }
# paths given relative to where the suite was started: --pack and the steps read them from other directories
RESULTS="$(absolute "$RESULTS")" RUNS="$(absolute "$RUNS")" REPORT="$(absolute "$REPORT")"
DATA_ROOT="$(absolute "$DATA_ROOT")" COMPILE_CACHE="$(absolute "$COMPILE_CACHE")" STATE="$RUNS/suite"
TORCHINDUCTOR_CACHE_DIR="$(absolute "$TORCHINDUCTOR_CACHE_DIR")"
read -r -a RUN_SET_ARGS <<< "${RUN_SET:-}"
read -r -a SPEED_EXTRA <<< "${SPEED_ARGS:-}"
REMEMBERED_RESULTS=""
if [ -z "${SUITE_RESULTS:-}" ] && [ -s "$STATE/results_dir" ]; then
    # the last suite under these runs recorded there: a restart without SUITE_RESULTS (say --run-for after a
    # --stop) must go on there, not fill the checked-in results with some cells and abandon its half-trained one
    REMEMBERED_RESULTS="$(cat "$STATE/results_dir")"
    RESULTS="$REMEMBERED_RESULTS"
fi

pack() {
    local dest="$1" list errors status=0 files gone
    if [ -d "$dest" ]; then
        echo "cifar10_suite.sh --pack: $dest: is a directory; expected the archive's file name (say results.tgz)" >&2
        return 2
    fi
    if [ ! -d "$(dirname "$dest")" ]; then
        echo "cifar10_suite.sh --pack: $dest: no directory $(dirname "$dest") to write it in" >&2
        return 2
    fi
    list="$(mktemp)"
    (cd "$ROOT" && {
        find "${RESULTS#"$ROOT"/}" -type f 2>/dev/null
        find "${RUNS#"$ROOT"/}" -type f \( -name '*.log' -o -name 'metrics.jsonl' -o -name 'summary.json' \
            -o -name 'config.yaml' -o -name '*.done' \) 2>/dev/null
        ls "${REPORT#"$ROOT"/}" benchmarks/*.log 2>/dev/null
    } | sort -u > "$list")
    files="$(wc -l < "$list")"
    # written under another name and renamed once whole: a pack that fails leaves no archive that reads as complete
    # --ignore-failed-read: a listed file that a running suite removed meanwhile (a write's temporary file, say) is
    # left out with a warning, not the whole archive
    errors="$(LC_ALL=C tar -czf "$dest.partial" --ignore-failed-read -C "$ROOT" -T "$list" 2>&1)" || status=$?
    rm -f "$list"
    if [ "$status" -gt 1 ]; then  # GNU tar: 1 is "a file changed as it was read" (a running suite), 2 a failure
        rm -f "$dest.partial" 2> /dev/null
        echo "cifar10_suite.sh --pack: $dest: not written ($(grep -v '^tar: Removing leading' <<< "$errors" \
            | head -n 1))" >&2
        return 1
    fi
    mv -f "$dest.partial" "$dest" || return 1
    [ "$status" -eq 0 ] || echo "some files changed while they were packed (the suite is running); packed as read"
    gone="$(grep -c 'Cannot stat\|Cannot open' <<< "$errors")"
    [ "$gone" -eq 0 ] || echo "$gone of the files went away or could not be read before they were packed (the" \
        "suite is running, say): $(grep -m 1 'Cannot stat\|Cannot open' <<< "$errors")"
    echo "packed $((files - gone)) files into $dest"
}

status() {
    local name finished="" pid
    for name in $KNOWN_STEPS; do [ -f "$STATE/$name.done" ] && finished+="$name "; done
    echo "finished steps: $finished"
    pid="$(suite_pid)"
    if [ -n "$pid" ]; then echo "the suite is running (process $pid)"; else echo "the suite is not running"; fi
    for log in "$STATE"/*.log; do
        [ -f "$log" ] && { echo "== $(basename "$log")"; latest_attempt "$log" 3 | cut -c1-200; }
    done
    "$PYTHON" - "$RUNS" "$pid" <<'PY'
import json
import sys
from pathlib import Path

# unfinished cells: epochs done, the latest test accuracy and epoch time. A cell trains while the process whose id
# label_noise.py wrote into its lock file lives (read, never locked here: a grid would take that lock for a rival's)
running = bool(sys.argv[2])


def in_training(run_dir):
    try:
        pid = int((run_dir.parent / f".{run_dir.name}.lock").read_text().split()[0])
        return b"label_noise.py" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):  # no lock file, no id in it, no such process
        return False


for metrics in sorted(Path(sys.argv[1]).glob("*/*/metrics.jsonl")):
    if (metrics.parent / "summary.json").exists():
        continue
    # parsed here, not with satlearn.compare.read_metrics: --status must work with a python that lacks torch
    rows, bad = [], None
    try:
        lines = metrics.read_text(errors="replace").splitlines()
    except OSError as error:
        print(f"unreadable: {metrics}: {error.strerror or error}")
        continue
    for number, line in enumerate(lines, start=1):
        try:
            row = json.loads(line) if line.strip() else {}
        except ValueError:
            row = None
        if not isinstance(row, dict):  # not JSON, or JSON that is no row (an epoch's object)
            bad = number
            break
        rows.append(row) if row else None
    if bad is not None:  # a damaged or half-copied runs folder: said, and the rest shown
        print(f"unreadable: {metrics}: line {bad} is not an epoch's JSON object")
        continue
    if rows:
        last, cell = rows[-1], f"{metrics.parent.parent.name}/{metrics.parent.name}"
        epoch = last["epoch"]
        training = running and in_training(metrics.parent)
        state = f"training {cell}: epoch {epoch}" if training else f"stopped in {cell} after epoch {epoch}"
        accuracy = f", test accuracy {100 * last['test_accuracy']:.2f} %" if "test_accuracy" in last else ""
        print(f"{state}{accuracy}, {last['epoch_seconds']:.2f} s/epoch")
PY
    if command -v nvidia-smi > /dev/null; then
        nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
    fi
    return 0
}

latest_attempt() {  # latest_attempt LOG COUNT: the line that opened LOG's latest attempt and the last COUNT lines
    # written since (the whole log's where no line opened one: a log from before these lines were written). Progress
    # bars redraw with carriage returns: their latest state only
    tr '\r' '\n' < "$1" | awk -v header="$ATTEMPT_HEADER" -v count="$2" '
        index($0, header) == 1 { opening = $0; written = 0; next }
        NF > 0 { last[written++ % count] = $0 }
        END {
            if (opening != "") print opening
            if (opening != "" && written == 0) print "(nothing written since)"
            for (i = (written > count ? written - count : 0); i < written; i++) print last[i % count]
        }'
}

process_tree() {  # process_tree PID: PID and its descendants, parents first (read from /proc)
    "$PYTHON" - "$1" <<'PY'
import sys
from pathlib import Path

children = {}
for stat in Path("/proc").glob("[0-9]*/stat"):
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (name)": state, ppid, ...
    except (OSError, IndexError):
        continue  # ended meanwhile
    children.setdefault(fields[1], []).append(stat.parent.name)
pending, tree = [sys.argv[1]], []
while pending:
    tree.append(pending.pop(0))
    pending += children.get(tree[-1], [])
print(" ".join(tree))
PY
}

process_state() {  # process_state PID: "COMMAND, state S" from /proc/PID/stat (Z: ended, not yet waited for)
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || { echo "gone"; return; }
    local command="${stat#*(}" state="${stat##*) }"
    echo "${command%)*}, state ${state%% *}"
}

gone_within() {  # gone_within TRIES PID...: waits, half a second a try, until none of the processes is there
    local tries="$1"
    shift
    for _ in $(seq 1 "$tries"); do
        kill -0 "$@" 2>/dev/null || return 0
        sleep 0.5
    done
    return 1
}

stop() {  # the suite that runs under these runs, its steps and their trainings; matched by process id, not by
    # name, so that the command that asks for the stop is never among them
    local pid tree step
    pid="$(suite_pid)"
    if [ -z "$pid" ]; then
        echo "no suite is running under $RUNS"
        return 0
    fi
    step="$(cat "$STATE/running_step" 2>/dev/null)"
    tree="$(process_tree "$pid")"  # read whole before any signal: a training whose parent has ended is not under it
    # shellcheck disable=SC2086  # process ids are words
    kill -TERM $tree 2>/dev/null
    # shellcheck disable=SC2086
    gone_within 20 $tree
    # shellcheck disable=SC2086
    kill -KILL $tree 2>/dev/null
    # a killed process is there until it has ended and its parent (init, for the orphans of the suite) has taken note,
    # seconds on some machines: the stop is over once they have gone, not once they were told to
    local left="" alive
    # shellcheck disable=SC2086
    if ! gone_within 20 $tree; then  # stuck in the kernel (uninterruptible I/O, a GPU driver's teardown), say
        for alive in $tree; do
            kill -0 "$alive" 2>/dev/null && left+="${left:+, }process $alive ($(process_state "$alive"))"
        done
    fi
    rm -f "$STATE/suite.pid" "$STATE/running_step"
    if [ -n "$left" ]; then
        echo "cifar10_suite.sh --stop: still there 10 s after SIGKILL: $left; the suite (process $pid) was told to" \
            "stop$(how_it_goes_on "$step"); what is still there may yet write its files: a --pack now may" \
            "catch them part-written" >&2
        return 1
    fi
    local under=$(($(wc -w <<< "$tree") - 1))
    echo "stopped the suite (process $pid) and $under process$([ "$under" -eq 1 ] || echo es) under it$(how_it_goes_on \
        "$step")"
}

how_it_goes_on() {  # how_it_goes_on STEP: what the step a stop cut off (none: empty) does when the suite starts again
    if [ -z "$1" ]; then
        echo ", before or between its steps: started again, it goes on with the first step it has not finished"
    elif [[ " $RESUMING_STEPS " == *" $1 "* ]]; then
        echo ", in step $1: its unfinished training resumes from its last checkpoint when the suite is started again"
    else
        echo ", in step $1, which keeps no checkpoint: it starts again from scratch when the suite is started again"
    fi
}

compiler_cache() {  # compiler_cache pack|unpack ARCHIVE: benchmarks/common.py's helpers on the cache directory
    "$PYTHON" - "$1" "$2" "$TORCHINDUCTOR_CACHE_DIR" "$BENCH" <<'PY'
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[4])
from common import cache_archive_mode, count_files, pack_compiler_cache, unpack_compiler_cache
action, archive, directory = sys.argv[1:4]
if action == "pack":
    try:
        cache_archive_mode(archive)  # the name first: an empty cache must not hide a name that no pack would take
        if not count_files(Path(directory)):
            sys.exit(f"cifar10_suite.sh --pack-cache: the compiler cache {directory} is empty: nothing to pack")
        print(pack_compiler_cache(directory, archive))  # files packed
    except ValueError as error:
        sys.exit(f"cifar10_suite.sh --pack-cache: {error}")
    except OSError as error:  # no folder to write in, say; the archive is whole or absent (pack_compiler_cache)
        sys.exit(f"cifar10_suite.sh --pack-cache: {archive}: not written ({error.strerror})")
else:
    print(unpack_compiler_cache(archive, directory))  # files unpacked
PY
}

pack_cache() {  # pack_cache FILE: the compiler's cache directory in one archive
    local dest="$1" files
    files="$(compiler_cache pack "$dest")" \
        && echo "packed the compiler cache ($files files) into $dest: $(du -h "$dest" | cut -f1)"
}

restore_cache() {  # an empty cache directory is filled from $COMPILE_CACHE, when that archive exists
    local files
    mkdir -p "$TORCHINDUCTOR_CACHE_DIR"
    if [ -n "$(find "$TORCHINDUCTOR_CACHE_DIR" -type f -print -quit)" ]; then
        echo "compiler cache: $TORCHINDUCTOR_CACHE_DIR ($(find "$TORCHINDUCTOR_CACHE_DIR" -type f | wc -l) files)"
    elif [ -f "$COMPILE_CACHE" ]; then
        if files="$(compiler_cache unpack "$COMPILE_CACHE" 2>&1)"; then
            echo "compiler cache: $files files from $COMPILE_CACHE"
        else
            echo "compiler cache: $COMPILE_CACHE could not be unpacked ($(tail -n 1 <<< "$files")); compiling" \
                "from scratch"
        fi
    elif [ -n "$COMPILE_CACHE_GIVEN" ]; then
        echo "compiler cache: empty, and COMPILE_CACHE=$COMPILE_CACHE is no file (mistyped?); the first compilation" \
            "of each model starts from scratch"
    else
        echo "compiler cache: empty; the first compilation of each model starts from scratch"
    fi
}

suite_pid() {  # the process id of the suite running under these runs, if one is
    local pid
    pid="$(cat "$STATE/suite.pid" 2>/dev/null)"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q cifar10_suite "/proc/$pid/cmdline" 2>/dev/null \
        && echo "$pid"
}

check_inputs() {  # before anything runs: every name in STEPS is a step, GRID_SEED a number, PYTHON has torch, and
    # the grid's and trainings' settings are label_noise.py's: a typo there would otherwise surface only when its
    # step runs, after hours of the steps before it. Sets MACHINE (python, torch and device, for the log), GPU_NAME
    # (empty without CUDA) and GPU_MODEL (model_slug of GPU_NAME), read here once: each python that imports torch
    # again to ask would take seconds
    local name errors errors_file machine status=0
    for name in ${STEPS:-$ALL_STEPS}; do
        case " $KNOWN_STEPS " in *" $name "*) ;; *)
            echo "cifar10_suite.sh: unknown step '$name' in STEPS; expected some of: $KNOWN_STEPS" >&2; return 2 ;;
        esac
    done
    case "${GRID_SEED:-0}" in *[!0-9]*)
        echo "cifar10_suite.sh: GRID_SEED='$GRID_SEED' is not a non-negative integer" >&2; return 2 ;;
    esac
    if [[ ! "$GRID_JOBS" =~ ^[0-9]+$ ]] || [ "$((10#$GRID_JOBS))" -lt 1 ]; then  # label_noise.py --jobs
        echo "cifar10_suite.sh: GRID_JOBS='$GRID_JOBS' is not a positive number of cells at once" >&2; return 2
    fi
    # label_noise.py imports torch anyway, so its names cost little more than the torch check itself
    errors_file="$(mktemp)"
    machine="$("$PYTHON" - "$BENCH" "$GRID_RECIPE" "$GRID_NOISE" "$GRID_METHODS" "$TRAIN_PIPELINE" "$DATA_ROOT" \
        "${STEPS:-$ALL_STEPS}" ${RUN_SET_ARGS[@]+"${RUN_SET_ARGS[@]}"} 2> "$errors_file" <<'PY'
import platform
import sys
try:
    import torch
except Exception:
    sys.exit(3)
sys.path.insert(0, sys.argv[1])
from common import device_model_slug
from label_noise import METHODS, NOISES, RECIPES, cell_overrides, method_name
from speed import PIPELINES

from satlearn.config import load_config, overrides_for_method
from satlearn.errors import ConfigError

recipe, noise, methods, pipeline, data_root, steps, *run_set = sys.argv[2:]
for variable, what, values, choices in [
        ("GRID_RECIPE", "recipe", [recipe], list(RECIPES)), ("GRID_NOISE", "noise", noise.split(), list(NOISES)),
        ("GRID_METHODS", "method", methods.split(), list(METHODS)),
        ("TRAIN_PIPELINE", "pipeline", [pipeline], ["config", *PIPELINES, "fastest"])]:
    for value in values:
        if value not in choices:
            expected = "some" if variable in ("GRID_NOISE", "GRID_METHODS") else "one"
            print(f"cifar10_suite.sh: unknown {what} '{value}' in {variable}; expected {expected} of: "
                  f"{' '.join(choices)}", file=sys.stderr)
            sys.exit(2)
# RUN_SET goes to every training as label_noise.py's --set: its keys and values are checked here as each
# label_noise.py that STEPS runs takes them, with its own methods (a method option none of them reads stops it) and
# against each of its cells' configs; a step that STEPS leaves out has no say
if run_set[0::2] != ["--set"] * len(run_set[1::2]) or len(run_set) % 2:
    print(f"cifar10_suite.sh: RUN_SET='{' '.join(run_set)}': expected --set key=value pairs", file=sys.stderr)
    sys.exit(2)
extra = run_set[1::2]
trainings = {"paper": ("paper", ["sat"], ["sym40"]), "paper-ce": ("paper", ["ce"], ["sym40"]),
             "paper-both": ("paper", ["sat", "ce"], ["sym40"]), "grid": (recipe, methods.split(), noise.split())}
try:
    for step in dict.fromkeys(steps.split()):
        if step not in trainings:
            continue
        cell_recipe, step_methods, step_noises = trainings[step]
        overrides_for_method(extra, method_name(step_methods[0]),
                             shared_by=[method_name(method) for method in step_methods])
        for method in step_methods:
            for cell_noise in step_noises:
                load_config(*cell_overrides(cell_recipe, method, cell_noise, data_root=data_root,
                                            cifar10n="labels.npz", extra=extra))
except ConfigError as error:
    print(f"cifar10_suite.sh: RUN_SET: {error}", file=sys.stderr)
    sys.exit(2)
# the machine, as its last three lines: what the log says of it, the GPU's name (empty: none) and its model
try:
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else ""
except Exception as error:  # a GPU that torch sees but cannot name: no step would measure on it as it should
    print(f"cifar10_suite.sh: the CUDA device cannot be read: {(str(error).strip().splitlines() or [''])[0]}",
          file=sys.stderr)
    sys.exit(2)
print(f"python {platform.python_version()} | torch {torch.__version__} | {gpu or 'no CUDA device'}")
print(gpu)
print(device_model_slug(gpu))
PY
)" || status=$?
    errors="$(cat "$errors_file")"
    rm -f "$errors_file"
    case "$status" in
        0) ;;
        2) echo "$errors" >&2; return 2 ;;
        3|126|127)
            echo "cifar10_suite.sh: PYTHON=$PYTHON cannot import torch; point PYTHON at an environment that has it" >&2
            return 2 ;;
        *) echo "cifar10_suite.sh: the settings could not be checked against label_noise.py:" \
               "$(tail -n 1 <<< "$errors")" >&2; return 2 ;;
    esac
    { read -r MACHINE; read -r GPU_NAME; read -r GPU_MODEL; } <<< "$(tail -n 3 <<< "$machine")"
}

folder_problem() {  # folder_problem FOLDER: why FOLDER, made here where missing, cannot take files (nothing: it can)
    local error
    if [ -e "$1" ] && [ ! -d "$1" ]; then
        echo "is a file, not a directory"
    elif ! error="$(mkdir -p "$1" 2>&1)"; then
        echo "cannot be made (${error##*: })"
    elif [ ! -w "$1" ]; then
        echo "cannot be written by this process"
    fi
}

writes_report() {  # whether STEPS holds a step that writes $REPORT: steps that write none have no use for it
    local name
    for name in ${STEPS:-$ALL_STEPS}; do [[ " $REPORT_STEPS " == *" $name "* ]] && return 0; done
    return 1
}

check_folders() {  # before any step runs: the folders that the steps write in (the results and runs folders, made
    # where missing) and the report's. Where one is a file, say, every step would fail in turn, the report last
    local name problem
    for name in RESULTS RUNS; do
        problem="$(folder_problem "${!name}")"
        [ -z "$problem" ] && continue
        echo "cifar10_suite.sh: SUITE_$name=${!name}: $problem; expected a directory this process can write in" >&2
        return 2
    done
    writes_report || return 0
    if [ -d "$REPORT" ]; then
        echo "cifar10_suite.sh: SUITE_REPORT=$REPORT: is a directory; expected the report's file (say RESULTS.md)" >&2
        return 2
    fi
    # its folder is made here, as the results folder is: a report in a folder of its own that no step has made yet
    # (the report step's figures made it before the report was written) is where the grid writes it too
    problem="$(folder_problem "$(dirname "$REPORT")")"
    if [ -n "$problem" ]; then
        echo "cifar10_suite.sh: SUITE_REPORT=$REPORT: its directory $(dirname "$REPORT") $problem; expected a" \
            "directory this process can write in" >&2
        return 2
    fi
}

run_for() {  # run_for SECONDS: the suite, detached from this shell (it outlives it), watched for up to SECONDS
    local limit="$1" log="$RUNS/suite.log" offset=0 started=$SECONDS
    case "$limit" in ''|*[!0-9]*)
        echo "cifar10_suite.sh --run-for: '$limit' is not a number of seconds" >&2; return 2 ;;
    esac
    check_inputs && check_folders || return 2
    mkdir -p "$STATE"
    [ -f "$log" ] && offset="$(wc -c < "$log")"
    if [ -n "$(suite_pid)" ]; then
        echo "a suite is running already (process $(suite_pid)); watching it"
    else
        rm -f "$STATE/suite.pid"
        setsid nohup bash "$0" >> "$log" 2>&1 < /dev/null &
        local launched=$!
        # the suite names itself only once its own checks pass, the checks this shell has just passed (they import
        # torch: seconds, more on a cold machine); until then the process started here is the one to wait for
        while [ -z "$(suite_pid)" ] && kill -0 "$launched" 2>/dev/null; do sleep 0.2; done
        echo "started the suite (process $(suite_pid || echo "$launched")), log $log"
    fi
    while [ -n "$(suite_pid)" ] && [ $((SECONDS - started)) -lt "$limit" ]; do sleep 2; done
    tail -c +"$((offset + 1))" "$log" 2>/dev/null
    [ -n "$(suite_pid)" ] && echo "after $((SECONDS - started)) s the suite is still running; it goes on detached"
    status
}

needs_value() {  # needs_value OPTION [VALUE] WHAT: exits (status 2) in one line where the option has no value
    if [ "$#" -lt 3 ] || [ -z "$2" ]; then
        echo "cifar10_suite.sh: $1 needs a value: cifar10_suite.sh $1 ${*: -1}" >&2
        exit 2
    fi
}

case "${1:-}" in
    --pack) needs_value "$@" FILE.tgz; pack "$(home_path "$2")"; exit $? ;;
    --pack-cache) needs_value "$@" FILE.tar.xz; pack_cache "$(home_path "$2")"; exit $? ;;
    --status) status; exit 0 ;;
    --stop) stop; exit $? ;;
    --run-for) needs_value "$@" SECONDS; run_for "$2"; exit $? ;;
    -h|--help) sed -n '2,/^set -/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;  # the header comment is the manual
    "") ;;
    *) echo "cifar10_suite.sh: unknown argument '$1'; expected nothing, --status, --pack FILE, --pack-cache FILE," \
           "--run-for SECONDS, --stop or --help" >&2; exit 2 ;;
esac

step() {  # step [--key SETTINGS] NAME COMMAND...: runs once (once per SETTINGS); its output goes to $STATE/NAME.log
    local key=""
    if [ "$1" = "--key" ]; then key="$2"; shift 2; fi
    local name="$1"; shift
    local marker="$STATE/$name.done"
    if [ -f "$marker" ] && [ "$(cat "$marker")" = "$key" ]; then echo "[$name] done earlier"; return 0; fi
    # a step done with other settings (another grid, say) runs again; what it recorded already is skipped. Its
    # marker goes: until this attempt succeeds, the step is not finished under the settings it now runs with
    if [ -f "$marker" ]; then
        echo "[$name] done earlier as '$(cat "$marker")'; now as '$key'"
        rm -f "$marker"
    fi
    echo "[$name] started $(date -u +%H:%M:%S)"
    # an attempt cut off mid-line (a progress bar when it was killed) leaves the log without its last newline: the
    # line that opens this attempt must begin a line, or --status would take the earlier attempt's lines for this one's
    if [ -s "$STATE/$name.log" ] && [ -n "$(tail -c 1 "$STATE/$name.log")" ]; then echo >> "$STATE/$name.log"; fi
    echo "$ATTEMPT_HEADER $(date -u '+%Y-%m-%d %H:%M:%S UTC') (suite process $$)" >> "$STATE/$name.log"
    local started=$SECONDS status=0
    echo "$name" > "$STATE/running_step"  # for --stop: what it cut off
    "$@" >> "$STATE/$name.log" 2>&1 || status=$?
    rm -f "$STATE/running_step"
    if [ "$status" -eq 0 ]; then
        printf '%s' "$key" > "$marker"
        echo "[$name] finished in $((SECONDS - started)) s"
    else
        echo "[$name] FAILED after $((SECONDS - started)) s; last lines of $STATE/$name.log:"
        latest_attempt "$STATE/$name.log" 15 | sed 's/^/    /'
    fi
}

grid() {  # label_noise.py with the suite's directories; the report follows each recorded cell
    "$PYTHON" "$BENCH/label_noise.py" --data-root "$DATA_ROOT" --runs-dir "$RUNS" --results-dir "$RESULTS" \
        --report "$REPORT" --pipeline "$TRAIN_PIPELINE" "$@" ${RUN_SET_ARGS[@]+"${RUN_SET_ARGS[@]}"}
}

recorded_here() {  # recorded_here FILE [FIELD [SAME [SPEED.PY-ARGUMENTS...]]]: FILE holds a measurement made on
    # this kind of device (GPU or CPU; with SAME=model, on a GPU of this model), with FIELD in its cells where given
    # (a field added since, say, makes it measure again), and, where speed.py's arguments are given, a cell for each
    # model, pipeline and method that they ask for (a table whose run was stopped part-way measures again)
    [ -z "${SPEED_REDO:-}" ] && "$PYTHON" - "$BENCH" "$GPU_NAME" "$1" "${2:-}" "${3:-kind}" "${@:4}" <<'PY'
import json, sys
try:
    result = json.load(open(sys.argv[3]))
except (OSError, ValueError):
    sys.exit(1)
field, same, speed_arguments = sys.argv[4], sys.argv[5], sys.argv[6:]
there = result.get("device", {}).get("gpu")
here = sys.argv[2] or None  # GPU_NAME
alike = there == here if same == "model" else (there is None) == (here is None)
# a table's fields are in its cells; a single measurement's (checkpoint_cost.json) at its top level
cells = result.get("cells", [result])
measured = any("error" not in cell and (not field or field in cell) for cell in cells)
if speed_arguments:
    sys.path.insert(0, sys.argv[1])
    from speed import build_parser, requested_cells
    found = {(cell.get("model"), cell.get("pipeline"), cell.get("method")) for cell in cells}
    try:
        requested = requested_cells(build_parser().parse_args(speed_arguments))
    except SystemExit:  # --help, or arguments speed.py refuses: it will say so itself when it runs
        sys.exit(1)
    measured = measured and requested <= found
sys.exit(0 if measured and alike else 1)
PY
}

model_slug() {  # a GPU's name as a file-name part ("NVIDIA H100 80GB HBM3" -> h100-80gb-hbm3; none -> cpu)
    "$PYTHON" -c "import sys; sys.path.insert(0, sys.argv[2]); from common import device_model_slug
print(device_model_slug(sys.argv[1]))" "$1" "$BENCH"
}

gpu_model() {  # this machine's GPU model (model_slug)
    printf '%s\n' "$GPU_MODEL"
}

another_gpu_model() {  # another_gpu_model HERE THERE: THERE is a GPU model (model_slug), and HERE another or the CPU
    # (a CPU's figures never replace a GPU's, which a suite tried out on a laptop would otherwise overwrite in the
    # results it shares with the repository; a GPU's replace a CPU's)
    [ -n "$2" ] && [ "$2" != cpu ] && [ "$2" != "$1" ]
}

measured_on() {  # measured_on FILE: the GPU model (model_slug) of a recorded measurement; nothing where none is
    [ -f "$1" ] && model_slug "$("$PYTHON" -c "import json, sys
print(json.load(open(sys.argv[1])).get('device', {}).get('gpu', ''))" "$1" 2>/dev/null)"
}

prepare() {
    if [ -d "$DATA_ROOT" ]; then echo "$DATA_ROOT exists"; return 0; fi
    # prepare_cifar10.py writes the standard folder name into the folder it is given
    if [ "$(basename "$DATA_ROOT")" != cifar-10-batches-py ]; then
        echo "[prepare] DATA_ROOT=$DATA_ROOT does not exist, and prepare_cifar10.py writes a folder named" \
             "cifar-10-batches-py: end DATA_ROOT in that name, or prepare the data there yourself" >&2
        return 2
    fi
    "$PYTHON" "$BENCH/prepare_cifar10.py" --out "$(dirname "$DATA_ROOT")"
}

speed() {
    local status=0
    # shellcheck disable=SC2086  # the pipeline names are words
    speed_file speed "" --models resnet34 --pipelines $SPEED_PIPELINES || status=1
    if on_cuda; then  # kernels per step
        recorded_here "$RESULTS/step_ops_cuda.json" cuda_kernel_ms || "$PYTHON" "$BENCH/step_ops.py" --device cuda \
            --width 64 --batch-size 256 --steps 5 --name step_ops_cuda --results-dir "$RESULTS" || status=1
        recorded_here "$RESULTS/checkpoint_cost.json" snapshot_exact || "$PYTHON" "$BENCH/checkpoint_cost.py" \
            --device cuda --dir "$RUNS" --results-dir "$RESULTS" || status=1
    fi
    return $status
}

speed_file() {  # speed_file NAME FIELD SPEED.PY-ARGUMENTS...: one more speed.py measurement into NAME.json, unless
    # recorded on this GPU model (or on a CPU, here without one) already, with FIELD in its cells where FIELD is not
    # empty. Where NAME.json holds another GPU model's figures, this one's go to NAME_<model>.json beside it.
    local name="$1" field="$2" here there; shift 2
    here="$(gpu_model)"
    there="$(measured_on "$RESULTS/$name.json")"
    if [ -z "${SPEED_REDO:-}" ] && another_gpu_model "$here" "$there"; then
        echo "$RESULTS/$name.json holds the figures of another GPU model ($there): this one's go to ${name}_$here.json"
        name="${name}_$here"
    fi
    if recorded_here "$RESULTS/$name.json" "$field" model "$@" ${SPEED_EXTRA[@]+"${SPEED_EXTRA[@]}"}; then
        echo "$RESULTS/$name.json already measured on this kind of device, $here (SPEED_REDO=1 measures again)"
        return 0
    fi
    "$PYTHON" "$BENCH/speed.py" --data-root "$DATA_ROOT" --results-dir "$RESULTS" --name "$name" "$@" \
        ${SPEED_EXTRA[@]+"${SPEED_EXTRA[@]}"}
}

on_cuda() {
    [ -n "$GPU_NAME" ]
}

profile() {
    if ! on_cuda; then echo "no CUDA device: there is no GPU to profile"; return 0; fi
    speed_file speed_profile profile --models resnet34 --pipelines fast+cudagraphs --epochs 2 --profile-steps 20
}

autotune() {
    local status=0
    speed_file speed_cudnn_all profile --models resnet34 --methods sat --pipelines fast+cudagraphs --epochs 2 \
        --profile-steps 20 --set run.cudnn_benchmark_limit=0 || status=1
    speed_file speed_tuned profile --models resnet34 --methods sat --pipelines fast+cudagraphs fast+tuned \
        --epochs 2 --profile-steps 20 || status=1
    return $status
}

max_autotune() {
    speed_file speed_max_autotune profile --models resnet34 --methods sat \
        --pipelines fast+cudagraphs fast+max-autotune --epochs 2 --profile-steps 20
}

paper_timing() {  # the paper recipe's SAT cell, once per GPU model: the recipe's wall time is a speed target
    local here there
    here="$(gpu_model)"
    there="$(measured_on "$RESULTS/label_noise/paper/sat-sym40.json")"
    if another_gpu_model "$here" "$there"; then
        echo "label_noise/paper/sat-sym40.json was trained on another GPU model ($there): this one's run goes to" \
            "label_noise/paper_$here/"
        grid --recipe paper --methods sat --noise sym40 --tag "$here"
    else
        grid --recipe paper --methods sat --noise sym40
    fi
}

# what makes one grid another: a finished grid step runs again when these change
GRID_SETTINGS="recipe $GRID_RECIPE, seed ${GRID_SEED:-0}, noise $GRID_NOISE, methods $GRID_METHODS"
GRID_SETTINGS+="${RUN_SET:+, $RUN_SET}"

grid_step() {
    # shellcheck disable=SC2086  # the noise and method names are words
    grid --recipe "$GRID_RECIPE" --jobs "$GRID_JOBS" --noise $GRID_NOISE --methods $GRID_METHODS \
        ${GRID_SEED:+--seed "$GRID_SEED"}
}

label_issues() {
    if ! "$PYTHON" -c "import cleanlab" 2> /dev/null; then
        echo "cleanlab cannot be imported here: the label-issue rows are left for a machine that has it"
        return 1
    fi
    "$PYTHON" "$BENCH/label_issues.py" --datasets cifar10-sym40 cifar10n-worst cifar10n-aggre \
        --results-dir "$RESULTS" --data-root "$DATA_ROOT" ${RUN_SET_ARGS[@]+"${RUN_SET_ARGS[@]}"}
}

report() {  # learning curves beside the report (benchmarks/figures/), then the report
    "$PYTHON" "$BENCH/curves.py" --results-dir "$RESULTS" --runs-dir "$RUNS" --out-dir "$(dirname "$REPORT")/figures" \
        > "$STATE/curves.log" 2>&1 || echo "curves.py failed; see $STATE/curves.log"
    "$PYTHON" "$BENCH/report.py" --results-dir "$RESULTS" --out "$REPORT"
}

choose_commit() {  # the commit every result records (benchmarks/common.py's git_commit), said in the log and kept
    # in $STATE/commit: a copy of the tree without .git, started again without BENCH_COMMIT (--run-for after a
    # --stop, say), records the one that an earlier start under these runs knew, not "unknown"
    local head named commit
    head="$(git -C "$ROOT" rev-parse --verify -q HEAD 2>/dev/null)"
    if [ -n "${BENCH_COMMIT:-}" ] && [ -n "$head" ]; then
        named="$(git -C "$ROOT" rev-parse --verify -q "${BENCH_COMMIT%-dirty}^{commit}" 2>/dev/null)"
        [ "$named" = "$head" ] || echo "warning: BENCH_COMMIT=$BENCH_COMMIT is not git's HEAD here ($head); the" \
            "results record BENCH_COMMIT, which wins"
    elif [ -z "${BENCH_COMMIT:-}" ] && [ -z "$head" ] && [ -s "$STATE/commit" ]; then
        BENCH_COMMIT="$(cat "$STATE/commit")"
        export BENCH_COMMIT
        echo "commit $BENCH_COMMIT: remembered from an earlier start under $RUNS (BENCH_COMMIT is not set and there" \
            "is no git here)"
    fi
    commit="$("$PYTHON" -c 'import sys; sys.path.insert(0, sys.argv[1]); from common import git_commit
print(git_commit())' "$BENCH")"
    echo "suite at $commit, $(date -u)"
    if [ "$commit" = unknown ]; then
        echo "the results record commit 'unknown': no BENCH_COMMIT, no git here and none remembered under $RUNS;" \
            "start the suite with BENCH_COMMIT=<full hash>"
    elif [ -n "$commit" ]; then
        echo "$commit" > "$STATE/commit"
    fi
}

check_inputs && check_folders || exit 2
mkdir -p "$RESULTS" "$STATE"
echo "$RESULTS" > "$STATE/results_dir"
echo "$$" > "$STATE/suite.pid"  # for --stop
rm -f "$STATE/running_step"  # left by a suite that was killed: no step runs yet
choose_commit
if [ -n "$REMEMBERED_RESULTS" ] && [ "$REMEMBERED_RESULTS" != "$BENCH/results" ]; then
    echo "results: $RESULTS, where the last suite under $RUNS recorded (SUITE_RESULTS is not set; set it to" \
        "record elsewhere)"
fi
echo "$MACHINE"
restore_cache
for name in ${STEPS:-$ALL_STEPS}; do
    case "$name" in
        prepare)  # its marker alone is no proof: a runs folder unpacked from --pack on a machine without the data
            if [ -f "$STATE/prepare.done" ] && [ ! -d "$DATA_ROOT" ]; then
                rm -f "$STATE/prepare.done"
                echo "[prepare] marked done, but $DATA_ROOT is missing: prepared again"
            fi
            step prepare prepare ;;
        speed) step speed speed ;;
        profile) step profile profile ;;
        # shellcheck disable=SC2086  # the pipeline names are words
        speed18) step speed18 speed_file speed_resnet18 "" --models resnet18 --pipelines $SPEED_PIPELINES ;;
        autotune) step autotune autotune ;;
        maxautotune) step maxautotune max_autotune ;;
        stepgraph) step stepgraph speed_file speed_step_graph profile --models resnet34 \
            --pipelines fast+cudagraphs fast+stepgraph fast+compile+stepgraph --epochs 2 --profile-steps 20 ;;
        paper) step paper paper_timing ;;
        paper-ce) step paper-ce grid --recipe paper --methods ce --noise sym40 ;;
        paper-both) step paper-both grid --recipe paper --methods sat ce --noise sym40 --jobs 2 ;;
        grid) step --key "$GRID_SETTINGS" grid grid_step ;;
        issues) step issues label_issues ;;
        report)  # always: the results may have grown
            echo report > "$STATE/running_step"
            echo "[report] $(report 2>&1 | tail -n 1)"
            rm -f "$STATE/running_step" ;;
        *) echo "cifar10_suite.sh: unknown step '$name' in STEPS" >&2; exit 2 ;;  # check_inputs stops it earlier
    esac
done
rm -f "$STATE/suite.pid"
echo "suite ended $(date -u)"
exit
}
