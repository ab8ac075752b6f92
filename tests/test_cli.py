import json

from fixtures import tiny_overrides
from satlearn.cli import main


def sets(values):
    return [arg for value in values for arg in ("--set", value)]


def test_demo_runs_end_to_end_in_reduced_form(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(["demo", "--out", str(out), "--no-progress",
                 *sets(["data.num_samples=400", "model.width=8", "run.epochs=3", "method.start_epoch=1"])])
    assert code == 0
    printed = capsys.readouterr().out
    assert "final test acc" in printed and "SAT" in printed and "CE" in printed
    summary = json.loads((out / "demo_summary.json").read_text())
    assert set(summary["runs"]) == {"CE", "SAT"}
    assert summary["runs"]["SAT"]["label_issues"]["flagged"] >= 0
    assert (out / "demo_accuracy.png").stat().st_size > 1000
    assert (out / "sat" / "refined_labels.csv").exists()


def test_train_resume_and_eval(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("data:\n  noise:\n    kind: symmetric\n    rate: 0.2\n")
    run = tmp_path / "run"
    assert main(["train", "--config", str(config), "--run-dir", str(run), *sets(tiny_overrides(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "final test accuracy" in out
    assert "time: set-up " in out and "(checkpoints " in out  # where the wall time went
    assert main(["eval", str(run)]) == 0
    assert json.loads(capsys.readouterr().out)["epoch"] == 3
    # resuming a finished run continues nothing and changes nothing
    assert main(["train", "--resume", str(run)]) == 0
    assert "time (this process): set-up " in capsys.readouterr().out


def test_bad_input_gives_one_line_and_status_2(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("run:\n  epochz: 3\n")
    assert main(["train", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown key 'run.epochz'" in err and str(config) in err
    assert main(["eval", str(tmp_path / "nowhere")]) == 2
    assert "no checkpoint here" in capsys.readouterr().err
    assert main(["train", *sets(tiny_overrides(tmp_path, "data.source=npz", f"data.root={tmp_path / 'x.npz'}"))]) == 2
    assert "x.npz" in capsys.readouterr().err


def test_several_processes_started_together_are_stopped_before_writing(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    train = ["train", "--run-dir", str(run), *sets(tiny_overrides(tmp_path))]
    monkeypatch.setenv("WORLD_SIZE", "2")
    for command in (train, ["demo", "--out", str(tmp_path / "demo")], ["find-issues", "--config", "x.yaml"]):
        assert main(command) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "WORLD_SIZE=2" in err and "torchrun" in err
    assert not run.exists() and not (tmp_path / "demo").exists()
    assert main(["compare", str(tmp_path / "nowhere")]) == 2  # a command that trains nothing is not stopped by it
    assert "WORLD_SIZE" not in capsys.readouterr().err
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert main(train) == 0
