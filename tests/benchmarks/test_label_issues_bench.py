"""benchmarks/label_issues.py runs its CIFAR rows end to end on tiny CIFAR-format data (cleanlab permitting)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fixtures import load_benchmark, run_script_here, write_fake_cifar10

pytest.importorskip("cleanlab", reason="cleanlab is an optional benchmark dependency")
SCRIPT = Path(__file__).parents[2] / "benchmarks" / "label_issues.py"


def test_cifar10n_row_on_tiny_data(tmp_path):
    root = write_fake_cifar10(tmp_path, per_batch=8)
    np.savez(tmp_path / "c10n.npz", worst=np.random.default_rng(0).integers(0, 10, 40).astype(np.uint8))
    # one CPU thread: two on a busy 2-core machine turn each tiny step into seconds (the row records no time checked)
    tiny = [f"--set={o}" for o in ("model.width=2", "data.batch_size=16", "run.epochs=2", "method.start_epoch=1",
                                   "run.device=cpu", "run.threads=1")]
    # in this process: the row is checked by the file it records, and a new process would import torch and cleanlab
    run_script_here(str(SCRIPT), "--datasets", "cifar10n-worst", "--folds", "2", "--data-root",
                    str(root), "--cifar10n", str(tmp_path / "c10n.npz"), "--results-dir", str(tmp_path / "out"),
                    *tiny)
    result = json.loads((tmp_path / "out" / "label_issues" / "cifar10n-worst-seed0.json").read_text())
    assert result["satlearn"]["trainings"] == 1 and result["cleanlab"]["trainings"] == 2
    assert 0 < result["actual_noise_rate"] < 1


def test_the_report_names_the_machine_and_command_of_each_row(tmp_path):
    import shutil

    committed = Path(__file__).parents[2] / "benchmarks" / "results" / "label_issues"
    results = tmp_path / "results" / "label_issues"
    shutil.copytree(committed, results)
    cpu_rows = sorted(json.loads(p.read_text())["dataset"] for p in results.glob("*.json"))
    gpu_row = json.loads(next(results.glob("*.json")).read_text())  # made into a CIFAR row measured on a GPU
    # the row's own settings, with the paths of its data: where they lie is not another setting of the row
    own = [*load_benchmark("label_issues").DATASETS["cifar10n-worst"][1], "data.root=/data/cifar-10-batches-py",
           "data.noise.file=/data/c10n.npz"]
    gpu_row.update(dataset="cifar10n-worst", seed=0, commit="feedc0de" * 5, command="python3 label_issues.py --gpu",
                   device={**gpu_row["device"], "gpu": "NVIDIA H100 80GB HBM3"}, overrides=own)
    gpu_row["cleanlab"]["trainings"] = 4
    (results / "cifar10n-worst-seed0.json").write_text(json.dumps(gpu_row))
    run_script_here(str(SCRIPT.parent / "report.py"), "--results-dir", str(tmp_path / "results"), "--out",
                    str(tmp_path / "R.md"))
    report = (tmp_path / "R.md").read_text()
    assert ("- cifar10n-worst seed 0: Device: NVIDIA H100 80GB HBM3; commit `feedc0defeed`; cleanlab "
            f"{gpu_row['cleanlab']['version']}; command `python3 label_issues.py --gpu`.") in report
    cpu_line = next(line for line in report.splitlines() if line.startswith("- mnist1d"))
    assert "NVIDIA" not in cpu_line and cpu_line.count(" seed ") == len(cpu_rows)
    assert "| cifar10n-worst | " in report and "| cleanlab | 4 |" in report


def test_run_threads_given_to_the_benchmark_is_the_count_its_predictions_and_record_run_with(tmp_path, monkeypatch):
    # the folds' predictions run between trainings, outside fit, which applies run.threads only while it trains;
    # the record's device says how many threads its wall times are for
    bench = load_benchmark("label_issues")
    before = torch.get_num_threads()
    asked = before + 1  # a count other than the process's own, whatever that is
    predicted_with = []
    predict_probs = bench.predict_probs

    def observed(*args, **kwargs):
        predicted_with.append(torch.get_num_threads())
        return predict_probs(*args, **kwargs)

    monkeypatch.setattr(bench, "predict_probs", observed)
    tiny = [f"--set={o}" for o in ("data.num_samples=400", "model.width=4", "run.epochs=2", "method.start_epoch=1",
                                   "run.device=cpu", f"run.threads={asked}")]
    monkeypatch.setattr(sys, "argv", ["label_issues.py", "--datasets", "mnist1d-sym40", "--folds", "2",
                                      "--results-dir", str(tmp_path / "out"), *tiny])
    bench.main()
    assert predicted_with == [asked, asked]
    result = json.loads((tmp_path / "out" / "label_issues" / "mnist1d-sym40-seed0.json").read_text())
    assert result["device"]["torch_threads"] == asked
    assert torch.get_num_threads() == before  # the process is left as it was found, as a training leaves it


@pytest.mark.parametrize("datasets, given, message", [
    (["cifar10-sym40", "cifar10n-worst"], {"--cifar10n": "nope.npz"},
     "--cifar10n {tmp}/nope.npz: no such file, and the rows cifar10n-worst seed 0 read it; expected the CIFAR-10N "
     "label file (.npz)"),
    (["mnist1d-sym40", "cifar10-sym40"], {"--data-root": "nowhere"}, "data.root {tmp}/nowhere: no CIFAR-10 batches "
                                                                     "there"),
    (["cifar10-sym40", "cifar10n-worst"], {"--cifar10n": "aggre_only.npz"},
     "--cifar10n {tmp}/aggre_only.npz: the rows cifar10n-worst seed 0 cannot read their labels there ({tmp}/"
     "aggre_only.npz: no array 'worst'; arrays: aggre); expected the CIFAR-10N label file (.npz)"),
])
def test_a_later_rows_missing_input_stops_the_benchmark_before_the_first_row_trains(tmp_path, datasets, given,
                                                                                   message):
    import subprocess

    root = write_fake_cifar10(tmp_path, per_batch=8)
    options = {"--data-root": str(root), "--cifar10n": str(tmp_path / "c10n.npz"),
               **{option: str(tmp_path / value) for option, value in given.items()}}
    np.savez(tmp_path / "c10n.npz", worst=np.zeros(40, dtype=np.uint8))
    np.savez(tmp_path / "aggre_only.npz", aggre=np.zeros(40, dtype=np.uint8))
    done = subprocess.run([sys.executable, str(SCRIPT), "--datasets", *datasets, "--folds", "2",
                           *[word for option in options.items() for word in option],
                           "--results-dir", str(tmp_path / "out"), "--set", "model.width=2", "--set", "run.epochs=1",
                           "--set", "method.start_epoch=0", "--set", "run.device=cpu"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0, done.stderr
    assert done.stderr.startswith(f"label_issues.py: error: {message.format(tmp=tmp_path)}"), done.stderr
    assert not (tmp_path / "out").exists()  # no row trained or recorded


def test_a_results_folder_that_cannot_be_made_stops_the_benchmark_before_any_training(tmp_path):
    import subprocess

    root = write_fake_cifar10(tmp_path, per_batch=8)
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    done = subprocess.run([sys.executable, str(SCRIPT), "--datasets", "cifar10-sym40", "--folds", "2", "--data-root",
                           str(root), "--results-dir", str(a_file / "results"), "--set", "model.width=2",
                           "--set", "run.epochs=1", "--set", "method.start_epoch=0", "--set", "run.device=cpu"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip() == (f"label_issues.py: error: --results-dir {a_file / 'results'}: {a_file} is not a "
                                   "directory; expected a directory this process can write in"), done.stderr


def test_without_cleanlab_the_benchmark_says_how_to_install_it_before_anything_trains(tmp_path, monkeypatch):
    label_issues = load_benchmark("label_issues")
    monkeypatch.setitem(sys.modules, "cleanlab", None)  # as where it is not installed: importing it fails
    monkeypatch.setattr(sys, "argv", ["label_issues.py", "--datasets", "mnist1d-sym40", "--results-dir",
                                      str(tmp_path / "out")])
    with pytest.raises(SystemExit) as stopped:
        label_issues.main()
    assert str(stopped.value).startswith("label_issues.py: error: cleanlab cannot be imported (")
    assert str(stopped.value).endswith('install it with pip install -e ".[bench]"')
    assert not (tmp_path / "out").exists()


def test_a_validation_split_is_refused_before_any_training(tmp_path):
    import subprocess

    # SAT's training would hold it out (fit) and the cross-validated side would not (prepare_data): the two would
    # score different labels
    done = subprocess.run([sys.executable, str(SCRIPT), "--folds", "2", "--results-dir", str(tmp_path / "out"),
                           "--set", "data.val_size=10", "--set", "run.device=cpu"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.strip() == (
        "label_issues.py: error: --set data.val_size=10: label_issues.py compares SAT with cleanlab on the whole "
        "training split; a validation split is for satlearn train"), done.stderr
    assert not (tmp_path / "out").exists()
