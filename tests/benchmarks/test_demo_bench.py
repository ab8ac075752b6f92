"""benchmarks/demo.py refuses bad seeds and results folders before it runs the demo, and records where it is told."""

import json
import subprocess
import sys

import pytest

from fixtures import load_benchmark


def test_a_negative_seed_is_refused_before_the_shipped_demo_runs(monkeypatch, capsys):
    demo = load_benchmark("demo")
    monkeypatch.setattr(demo, "run_once", lambda seed: pytest.fail(f"ran the demo (seed {seed}) before the bad seed "
                                                                  "was found"))
    monkeypatch.setattr(sys, "argv", ["demo.py", "--seeds", "1", "-1"])
    with pytest.raises(SystemExit) as stopped:
        demo.main()
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == ("demo.py: error: --seeds 1 -1: expected "
                                                                "non-negative integers")


def a_run(seed):
    return {"seed": 0 if seed is None else seed, "command_wall_seconds": 30.0, "sat_minus_ce_points": 10.0,
            "ce_final": 0.76, "sat_final": 0.86, "run_devices": ["cpu"]}


def test_the_demo_is_recorded_in_the_results_folder_given(tmp_path, monkeypatch):
    demo = load_benchmark("demo")
    monkeypatch.setattr(demo, "run_once", a_run)
    monkeypatch.setattr(sys, "argv", ["demo.py", "--results-dir", str(tmp_path / "results")])
    demo.main()
    assert json.loads((tmp_path / "results" / "demo.json").read_text())["shipped_demo"]["seed"] == 0


def test_a_results_folder_that_is_a_file_is_refused_before_the_demo_runs(tmp_path, monkeypatch, capsys):
    demo = load_benchmark("demo")
    monkeypatch.setattr(demo, "run_once", lambda seed: pytest.fail("ran the demo before the folder was checked"))
    (tmp_path / "file").write_text("")
    monkeypatch.setattr(sys, "argv", ["demo.py", "--results-dir", str(tmp_path / "file")])
    with pytest.raises(SystemExit) as stopped:
        demo.run_main(demo.main)
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"demo.py: error: --results-dir {tmp_path / 'file'}: {tmp_path / 'file'} is not a directory; expected a "
        "directory this process can write in"]


@pytest.mark.parametrize("stop", [KeyboardInterrupt, subprocess.CompletedProcess([], 2, stdout="")])
def test_a_demo_stopped_or_failed_leaves_no_folder_behind_and_records_nothing(stop, tmp_path, monkeypatch, capsys):
    demo = load_benchmark("demo")
    scratch = tmp_path / "demo-bench"

    def make_scratch(prefix):
        scratch.mkdir()
        return str(scratch)

    monkeypatch.setattr(demo.tempfile, "mkdtemp", make_scratch)

    def run(command, **options):  # the demo part-way: its data generated, its run started
        (scratch / "cache").mkdir()
        if isinstance(stop, type):
            raise stop
        return stop

    monkeypatch.setattr(demo.subprocess, "run", run)
    monkeypatch.setattr(sys, "argv", ["demo.py", "--results-dir", str(tmp_path / "results")])
    with pytest.raises(SystemExit) as stopped:
        demo.run_main(demo.main)
    assert not scratch.exists() and not (tmp_path / "results" / "demo.json").exists()
    if isinstance(stop, type):
        assert stopped.value.code == 130
    else:
        assert stopped.value.code == "demo.py: error: `satlearn demo` (shipped) exited with status 2; nothing recorded"
