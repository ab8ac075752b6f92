"""satlearn.compare: runs side by side, a table and one plot, from the files every run writes."""

import json
import re
import shutil
from pathlib import Path

import pytest
import torch

from fixtures import (
    contrast_on_white, drawn_figures, legend_below, legend_texts, legends_cover_no_axes, tiny_overrides,
)
from satlearn.cli import main
from satlearn.compare import compare_runs, format_table, name_order, read_run, run_names
from satlearn.config import load_config
from satlearn.engine import fit
from satlearn.errors import ConfigError, DataError


def train(tmp_path, name, *extra):
    config = load_config(None, tiny_overrides(tmp_path, "data.noise.kind=symmetric", "data.noise.rate=0.4", *extra))
    return fit(config, tmp_path / name, log=lambda message: None)


def test_a_finished_and_an_unfinished_run_side_by_side(tmp_path, capsys):
    ce = train(tmp_path, "ce", "method.name=erm")
    sat = train(tmp_path, "sat", "method.name=sat", "run.epochs=4")
    (sat.run_dir / "summary.json").unlink()  # as while it still trains
    assert main(["compare", str(ce.run_dir), str(sat.run_dir), "--out", str(tmp_path / "both.png")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["run", "method", "noise"]
    ce_row = next(line for line in lines if line.startswith("ce "))
    sat_row = next(line for line in lines if line.startswith("sat "))
    assert f"{100 * ce.summary['final_test_accuracy']:.1f}%" in ce_row and "erm" in ce_row
    assert "4/4 (unfinished)" in sat_row
    # its noise is known before its summary is written: from the labels it was given
    assert f"{100 * sat.summary['noise']['actual_rate']:.1f}%" in sat_row.split("4/4")[0]
    refined = json.loads((sat.run_dir / "metrics.jsonl").read_text().splitlines()[-1])["refined_label_accuracy"]
    assert f"{100 * refined:.1f}%" in sat_row
    assert lines[-1] == f"plot: {tmp_path / 'both.png'}"
    assert (tmp_path / "both.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # both rows time the same thing, the seconds of their epochs, finished or not
    assert lines[0].split()[-2:] == ["epochs", "s"]
    for result, row in ((ce, ce_row), (sat, sat_row)):
        assert row.split()[-1] == f"{sum(epoch['epoch_seconds'] for epoch in result.history):.1f}"


def test_sat_start_and_default_plot_place(tmp_path):
    sat = train(tmp_path, "sat", "method.name=sat", "method.start_epoch=2")
    ce = train(tmp_path, "ce", "method.name=erm")
    assert read_run(sat.run_dir).start_epoch == 2 and read_run(ce.run_dir).start_epoch is None
    # a finished run copied without its config.yaml: the method from the summary, the start from the metrics
    (sat.run_dir / "config.yaml").unlink()
    without = read_run(sat.run_dir)
    assert (without.method, without.start_epoch, without.phase_name) == ("sat", 2, "SAT")  # the method's own words
    runs, table, plot = compare_runs([sat.run_dir, ce.run_dir])
    assert plot == tmp_path / "compare.png" and plot.exists()
    assert [run.name for run in runs] == ["sat", "ce"] and "sat" in table
    # a directory that holds runs stands for all of them, in name order
    runs, _, plot = compare_runs([tmp_path], out=tmp_path / "all.png")
    assert [run.name for run in runs] == ["ce", "sat"] and plot.exists()


def test_a_folder_of_a_sweeps_runs_is_read_with_the_numbers_in_their_names_in_order(tmp_path):
    for name in ("es10", "es3", "es1", "lr0.01", "lr0.1", "lr0.003"):
        hand_written_run(tmp_path / name, HAND_ROWS)
    runs, table, _ = compare_runs([tmp_path], out=tmp_path / "c.png")
    assert [run.name for run in runs] == ["es1", "es3", "es10", "lr0.003", "lr0.01", "lr0.1"]
    assert [row.split()[0] for row in table.splitlines()[2:8]] == [run.name for run in runs]


def test_numbers_in_run_names_are_ordered_by_value_however_many_digits_they_have():
    # numbers of 17 digits or more are alike as floats, and those of 309 or more are all inf
    names = ["t" + "1" * 400, "t" + "2" * 399, "s10000000000000000000", "s9999999999999999999", "s1", "s01"]
    assert sorted(names, key=name_order) == ["s01", "s1", "s9999999999999999999", "s10000000000000000000",
                                             "t" + "2" * 399, "t" + "1" * 400]


def test_a_folder_whose_runs_lie_a_level_deeper_says_which_folders_to_give(tmp_path, capsys):
    for folder in ("a0.6", "a0.9"):
        for seed in (0, 1):
            hand_written_run(tmp_path / "sweep" / folder / f"s{seed}", HAND_ROWS)
    sweep = tmp_path / "sweep"
    assert main(["compare", str(sweep)]) == 2
    assert capsys.readouterr().err == (f"satlearn: error: {sweep}: holds no run right inside it, but its folders "
                                       f"a0.6, a0.9 hold runs; give those folders, {sweep}/*/ in a shell\n")
    assert main(["compare", f"{sweep}/a0.6/", f"{sweep}/a0.9/", "--out", str(tmp_path / "c.png")]) == 0


def test_runs_with_the_same_name_are_told_apart(tmp_path):
    assert run_names([tmp_path / "a" / "sat", tmp_path / "b" / "sat"]) == ["a/sat", "b/sat"]
    assert run_names([tmp_path / "a" / "sat", tmp_path / "b" / "ce"]) == ["sat", "ce"]


def test_a_run_given_as_the_current_directory_is_named_by_it(tmp_path, monkeypatch):
    (tmp_path / "sat").mkdir()
    monkeypatch.chdir(tmp_path / "sat")
    assert run_names([Path(".")]) == ["sat"]


def test_what_is_not_a_run_gets_one_line_naming_it(tmp_path, capsys):
    with pytest.raises(DataError, match="no such run directory"):
        read_run(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: no metrics\.jsonl — not a satlearn run directory"):
        read_run(tmp_path / "empty")
    (tmp_path / "starting").mkdir()
    (tmp_path / "starting" / "config.yaml").write_text("run:\n  epochs: 3\n")  # a run in its first epoch has
    (tmp_path / "starting" / "labels.npz").write_bytes(b"")                          # written these two
    with pytest.raises(DataError, match=r"starting: no epoch finished yet \(no metrics\.jsonl\)$"):
        read_run(tmp_path / "starting")
    run = train(tmp_path, "run", "method.name=erm")
    (run.run_dir / "metrics.jsonl").write_text('{"epoch": 1, "test_accuracy": 0.5}\nnot json\n')
    with pytest.raises(DataError, match=r"metrics\.jsonl: line 2 is not JSON"):
        read_run(run.run_dir)
    (run.run_dir / "metrics.jsonl").write_text('{"epoch": 1, "test_accuracy": 0.5}\n')
    (run.run_dir / "summary.json").write_text("{")
    with pytest.raises(DataError, match=r"summary\.json: not JSON"):
        read_run(run.run_dir)
    (run.run_dir / "summary.json").unlink()
    (run.run_dir / "checkpoint.pt").unlink()  # nothing else that tells the run's config, as config.yaml cannot
    (run.run_dir / "config.yaml").write_text("run:\n  epochs: [1\n")  # left open on its last line, begun there
    with pytest.raises(DataError, match=r"config\.yaml: cannot read the run's config \(not valid YAML at line 2 "):
        read_run(run.run_dir)
    assert main(["compare", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no metrics.jsonl" in err


def test_a_lone_run_path_instead_of_a_list_is_refused_in_one_line_not_read_letter_by_letter(tmp_path):
    for lone in (str(tmp_path / "sat"), tmp_path / "sat"):
        with pytest.raises(ConfigError, match=r"^run_dirs=.*sat'\)?; expected a list of run directories, such as \["):
            compare_runs(lone, out=tmp_path / "c.png")
    assert not (tmp_path / "c.png").exists()


# how a config.yaml that cannot be read ends its error where no checkpoint keeps the run's config either
NOR_FROM_A_CHECKPOINT = (r", and the run's config cannot be taken from its checkpoint \(.*checkpoint\.pt: no "
                         r"checkpoint here \(.*\)\); expected a readable config\.yaml or checkpoint\.pt$")


def test_a_run_config_with_a_tagged_value_that_does_not_fit_its_tag_is_named_with_its_line(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"epoch": 1, "test_accuracy": 0.5}\n')
    (run / "config.yaml").write_text("run:\n  epochs: 3\n  progress: !!bool maybe\n")
    with pytest.raises(DataError, match=r"config\.yaml: cannot read the run's config \(not valid YAML at line 3 "
                                        rf"\(!!bool maybe: expected true or false\)\){NOR_FROM_A_CHECKPOINT}"):
        read_run(run)


def test_a_run_config_that_cannot_be_read_is_named_with_why(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"epoch": 1, "test_accuracy": 0.5}\n')
    (run / "config.yaml").mkdir()  # a config.yaml that is there but no file
    with pytest.raises(DataError, match=rf"config\.yaml: cannot read the run's config \(Is a directory\)"
                                        rf"{NOR_FROM_A_CHECKPOINT}"):
        read_run(run)


@pytest.mark.parametrize("text, got", [("", "nothing"), ("- run\n", "list"), ("run\n", "str")])
def test_a_run_config_that_is_no_mapping_is_named_not_a_traceback(text, got, tmp_path):
    # an emptied or overwritten config.yaml is valid YAML that holds no sections
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"epoch": 1, "test_accuracy": 0.5}\n')
    (run / "config.yaml").write_text(text)
    with pytest.raises(DataError, match=r"config\.yaml: cannot read the run's config \(saved config: expected a "
                                        rf"mapping of sections \(data, model, \.\.\.\), got {got}\)"
                                        rf"{NOR_FROM_A_CHECKPOINT}"):
        read_run(run)


def test_an_unfinished_run_without_config_yaml_is_read_with_the_config_its_checkpoint_keeps(tmp_path, capsys):
    config = load_config(None, tiny_overrides(tmp_path, "data.noise.kind=symmetric", "data.noise.rate=0.4",
                                              "method.name=sat", "run.epochs=2"))
    run = fit(config, tmp_path / "sat", stop_after_epoch=1, log=lambda message: None).run_dir
    with_file = read_run(run)
    (run / "config.yaml").unlink()
    # the planned epochs and the phase's start are the config's alone: the metrics of one epoch do not tell them
    without_file = read_run(run)
    assert (without_file.method, without_file.epochs, without_file.start_epoch, without_file.phase_name,
            without_file.actual_noise_rate) == (with_file.method, with_file.epochs, with_file.start_epoch,
                                                with_file.phase_name, with_file.actual_noise_rate)
    assert main(["compare", str(run), "--out", str(tmp_path / "sat.png")]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("sat "))
    assert f"1/{config.run.epochs} (unfinished)" in row
    # neither a config.yaml nor a readable checkpoint (cut off, or one that keeps no config): one line naming the run
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    for damage in (lambda: (run / "checkpoint.pt").write_bytes(b"cut off"),
                   lambda: torch.save({**state, "config": None}, run / "checkpoint.pt")):
        damage()
        with pytest.raises(DataError, match=rf"^{re.escape(str(run))}: no config\.yaml, and the run's config cannot "
                                            r"be taken from its checkpoint \(.*\); expected a readable "
                                            r"config\.yaml or checkpoint\.pt$"):
            read_run(run)
    torch.save({**state, "config": {"run": {"nope": 1}}}, run / "checkpoint.pt")  # a key no satlearn has
    with pytest.raises(DataError, match=rf"^{re.escape(str(run / 'checkpoint.pt'))} \(its config\): unknown key "
                                        r"'run\.nope'"):
        read_run(run)
    (run / "checkpoint.pt").unlink()
    assert main(["compare", str(run), "--out", str(tmp_path / "sat.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"satlearn: error: {run}: no config.yaml")


@pytest.mark.parametrize("damaged", ["a: [\n", "- not a mapping\n", "run:\n  nope: 1\n", "run:\n  epochs: many\n"])
def test_a_run_whose_config_yaml_cannot_be_read_is_read_as_one_without_it(damaged, finished_sat_run, tmp_path,
                                                                           capsys):
    # as find-issues reads it: a finished run from its summary.json, an unfinished one from its checkpoint's config
    run = shutil.copytree(finished_sat_run, tmp_path / "sat")
    config_yaml = (run / "config.yaml").read_text()
    for finished in (True, False):
        if not finished:
            (run / "summary.json").unlink()  # as while it trains
        (run / "config.yaml").write_text(config_yaml)
        intact = read_run(run)
        (run / "config.yaml").write_text(damaged)
        damaged_run = read_run(run)
        for what in ("method", "epochs", "start_epoch", "phase_name", "actual_noise_rate", "summary"):
            assert getattr(damaged_run, what) == getattr(intact, what), (finished, what)
    assert main(["compare", str(run), "--out", str(tmp_path / "sat.png")]) == 0
    assert any(line.startswith("sat ") for line in capsys.readouterr().out.splitlines())


def test_a_run_of_a_method_not_registered_here_is_read_from_its_config_or_its_summary(finished_sat_run, tmp_path,
                                                                                      capsys):
    # compare needs no --import: a run of a method that only the user's module registers is read all the same
    from satlearn.config import dump_yaml
    from satlearn.engine.checkpoint import saved_config

    run = shutil.copytree(finished_sat_run, tmp_path / "run")
    intact = read_run(run)
    config = saved_config(run)
    config.method.name = "my_method"
    (run / "config.yaml").write_text(dump_yaml(config))
    assert read_run(run).method == "my_method"
    (run / "config.yaml").unlink()
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, "method": "my_method"}))
    from_summary = read_run(run)
    # the epochs trained on soft targets (a training confidence reported) tell where they began; what the method
    # calls them is its module's to say, unknown here
    assert (from_summary.method, from_summary.start_epoch, from_summary.phase_name) == (
        "my_method", intact.start_epoch, "soft targets")
    assert main(["compare", str(run), "--out", str(tmp_path / "c.png")]) == 0
    assert any(line.startswith("run ") and "my_method" in line for line in capsys.readouterr().out.splitlines())


def test_a_run_given_twice_is_shown_once_under_its_name(tmp_path, capsys):
    ce = train(tmp_path, "ce", "method.name=erm")
    assert main(["compare", str(ce.run_dir), str(ce.run_dir), "--out", str(tmp_path / "twice.png")]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith(("ce ", ". "))]
    assert len(rows) == 1 and rows[0].startswith("ce ")


def test_hand_damaged_files_of_an_unfinished_run_are_one_line_or_an_unknown_rate(tmp_path):
    run = train(tmp_path, "run", "method.name=erm")
    (run.run_dir / "summary.json").unlink()  # as while it trains: the noise rate comes from labels.npz
    metrics = run.run_dir / "metrics.jsonl"
    good = metrics.read_text()
    for row in ("null", "[1, 2]", '"epoch"'):
        metrics.write_text(good + row + "\n")
        with pytest.raises(DataError, match=r"metrics\.jsonl: line \d+ is \w+ JSON; expected an object per epoch"):
            read_run(run.run_dir)
    metrics.write_bytes(b"\xff\xfe" + good.encode())
    with pytest.raises(DataError, match=r"metrics\.jsonl: not UTF-8 text"):
        read_run(run.run_dir)
    metrics.write_text(good)
    labels = run.run_dir / "labels.npz"
    labels.write_bytes(labels.read_bytes()[:300])  # a zip cut short
    assert read_run(run.run_dir).actual_noise_rate is None
    (run.run_dir / "checkpoint.pt").unlink()  # nothing else that tells the run's config, as config.yaml cannot
    (run.run_dir / "config.yaml").write_text("run:\n  nope: 1\n")  # a key no satlearn has
    with pytest.raises(DataError, match=r"config\.yaml: cannot read the run's config \(saved config: unknown key "
                                        rf"'run\.nope'; .*\){NOR_FROM_A_CHECKPOINT}"):
        read_run(run.run_dir)


def test_a_run_without_noise_of_its_own_shows_no_noise_rate(tmp_path):
    # its labels are the source's, right or wrong: the share that is wrong is unknown, as its "labels right" column
    clean = train(tmp_path, "clean", "method.name=sat", "data.noise.kind=none", "data.noise.rate=0")
    assert read_run(clean.run_dir).actual_noise_rate is None
    summary_file = clean.run_dir / "summary.json"
    summary = json.loads(summary_file.read_text())
    summary["noise"]["actual_rate"] = 0.0  # as summaries of such runs said before
    summary_file.write_text(json.dumps(summary))
    assert read_run(clean.run_dir).actual_noise_rate is None
    row = compare_runs([clean.run_dir], out=tmp_path / "c.png")[1].splitlines()[2]
    assert row.split()[2] == "—" and "0.0%" not in row
    summary_file.unlink()  # while it trains: not from labels.npz either
    assert read_run(clean.run_dir).actual_noise_rate is None
    # noise it added at rate 0 is a known 0
    rate0 = train(tmp_path, "rate0", "method.name=sat", "data.noise.rate=0")
    assert read_run(rate0.run_dir).actual_noise_rate == 0.0
    (rate0.run_dir / "summary.json").unlink()
    assert read_run(rate0.run_dir).actual_noise_rate == 0.0


def test_the_plot_takes_its_format_from_the_suffix_or_goes_into_a_given_folder(tmp_path):
    run = train(tmp_path, "run", "method.name=erm")
    _, _, plot = compare_runs([run.run_dir], out=tmp_path / "curves.pdf")
    assert plot.read_bytes()[:5] == b"%PDF-"
    (tmp_path / "plots").mkdir()
    _, _, plot = compare_runs([run.run_dir], out=tmp_path / "plots")
    assert plot == tmp_path / "plots" / "compare.png" and plot.read_bytes()[:4] == b"\x89PNG"
    _, _, plot = compare_runs([run.run_dir], out=f"{tmp_path / 'new_folder'}/")  # a new folder, by its slash
    assert plot == tmp_path / "new_folder" / "compare.png" and plot.read_bytes()[:4] == b"\x89PNG"
    for name in ("sat_vs_ce_noise0.4", "curves.pgf"):  # a dot that names no image format, or one needing LaTeX
        _, _, plot = compare_runs([run.run_dir], out=tmp_path / name)
        assert plot == tmp_path / name and plot.read_bytes()[:4] == b"\x89PNG"


def test_a_reader_that_leaves_early_is_no_error(tmp_path):
    import subprocess
    import sys

    import os

    run = train(tmp_path, "run", "method.name=erm")
    # a pipe's output is buffered and written at exit, unless PYTHONUNBUFFERED; in an encoding other than UTF (a
    # Windows console's cp1252) the command line restores the output's own error handling, which flushes it too
    for buffered, encoding in ((True, None), (False, None), (True, "cp1252")):
        environment = {key: value for key, value in os.environ.items()
                       if key not in ("PYTHONUNBUFFERED", "PYTHONIOENCODING")}
        if not buffered:
            environment["PYTHONUNBUFFERED"] = "1"
        if encoding:
            environment["PYTHONIOENCODING"] = encoding
        # as `satlearn compare ... | head -0` would: the reader has left before the command writes (a read end closed
        # only after the start could come too late on a busy machine, the output then taken whole by the pipe)
        reader, writer = os.pipe()
        os.close(reader)
        process = subprocess.Popen([sys.executable, "-m", "satlearn.cli", "compare", str(run.run_dir), "--out",
                                    str(tmp_path / "c.png")], stdout=writer, stderr=subprocess.PIPE,
                                   env=environment)
        os.close(writer)
        assert process.wait(timeout=120) == 141, (buffered, encoding)
        assert process.stderr.read() == b"", (buffered, encoding)  # no 'error: Broken pipe', no traceback


def test_a_broken_pipe_that_is_not_stdout_is_an_error(tmp_path, capsys, monkeypatch):
    import errno

    import satlearn.compare

    def broken(*args, **kwargs):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    monkeypatch.setattr(satlearn.compare, "compare_runs", broken)
    assert main(["compare", str(tmp_path)]) == 2
    assert capsys.readouterr().err == "satlearn: error: Broken pipe\n"


def test_the_phase_line_is_named_by_the_method_and_not_drawn_past_the_last_epoch(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from satlearn.compare import draw_runs

    gamblers = read_run(train(tmp_path, "gam", "method.name=gamblers", "method.start_epoch=1").run_dir)
    assert gamblers.phase_name == "the gamblers loss"
    fig, ax = plt.subplots()
    draw_runs([gamblers], ax, styles={gamblers.name: {"color": "C0"}})
    assert [line.get_label() for line in ax.lines] == ["gam", "gam: start of the gamblers loss"]
    gamblers.start_epoch = 50  # an unfinished run that has not reached its phase: no line out there
    fig, ax = plt.subplots()
    draw_runs([gamblers], ax, styles={gamblers.name: {"color": "C0"}})
    assert [line.get_label() for line in ax.lines] == ["gam"]
    plt.close("all")


def phase_lines(run) -> list[tuple[str, list]]:
    """The labels and epochs of the phase lines :func:`draw_runs` draws for ``run`` on one accuracy axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from satlearn.compare import draw_runs

    fig, ax = plt.subplots()
    draw_runs([run], ax, styles={run.name: {"color": "C0"}})
    plt.close(fig)
    return [(line.get_label(), list(line.get_xdata())) for line in ax.lines if "start of" in line.get_label()]


def test_a_finished_gamblers_run_without_its_config_yaml_gets_its_phase_line_from_its_summary(tmp_path):
    run_dir = train(tmp_path, "gam", "method.name=gamblers", "method.start_epoch=1").run_dir
    with_config = read_run(run_dir)
    assert phase_lines(with_config) == [("gam: start of the gamblers loss", [2, 2])]
    (run_dir / "config.yaml").unlink()  # results copied without it: the gamblers loss logs no training confidence
    without = read_run(run_dir)
    assert (without.start_epoch, without.phase_name) == (with_config.start_epoch, with_config.phase_name)
    assert phase_lines(without) == phase_lines(with_config)
    summary_file = run_dir / "summary.json"
    summary = json.loads(summary_file.read_text())
    for start in ("1", -1, 1.5, True):  # hand-edited
        summary_file.write_text(json.dumps({**summary, "start_epoch": start}))
        with pytest.raises(DataError, match=rf"summary\.json: start_epoch={re.escape(repr(start))}; expected a "
                                            r"0-based epoch \(a whole number from 0\) or null$"):
            read_run(run_dir)
    del summary["start_epoch"]  # a summary written before it kept the start: no line, as the run cannot tell it
    summary_file.write_text(json.dumps(summary))
    assert read_run(run_dir).start_epoch is None and phase_lines(read_run(run_dir)) == []


def test_out_refuses_a_runs_own_files_and_an_empty_path(tmp_path, capsys):
    run = train(tmp_path, "sat", "run.epochs=2").run_dir
    kept = {name: (run / name).read_bytes() for name in ("checkpoint.pt", "metrics.csv", "config.yaml")}
    for command, name in ((["eval", str(run)], "checkpoint.pt"), (["compare", str(run)], "metrics.csv"),
                          (["eval", str(run)], "config.yaml")):
        assert main([*command, "--out", str(run / name)]) == 2
        err = capsys.readouterr().err.strip()
        assert err == (f"satlearn: error: --out {run / name}: would be written over, and it is a file of the run "
                       f"in {run}; expected another file name, or a folder")
    assert {name: (run / name).read_bytes() for name in kept} == kept
    # the same names outside a run are any file's: a command run twice writes its output again
    for _ in range(2):
        assert main(["compare", str(run), "--out", str(tmp_path / "metrics.csv")]) == 0
    capsys.readouterr()
    for command in (["eval", str(run)], ["compare", str(run)], ["selective-eval", str(run)]):
        assert main([*command, "--out", ""]) == 2  # an unset variable, say: not the current directory
        assert capsys.readouterr().err.strip() == "satlearn: error: --out is empty; expected a path"
    assert main(["eval", str(run), "--out", str(tmp_path / "eval.json")]) == 0  # another name: written
    assert json.loads((tmp_path / "eval.json").read_text())["epoch"] == 2


def test_out_refuses_a_file_that_an_unfinished_run_writes_later(tmp_path, capsys):
    # a run still training (here: stopped after its first epoch) writes its summary, curves and targets at the end:
    # a plot written there first would be taken for its summary.json, then lost under it
    config = load_config(None, tiny_overrides(tmp_path, "method.name=sat", "run.epochs=2"))
    run = fit(config, tmp_path / "sat", stop_after_epoch=1, log=lambda message: None).run_dir
    before = sorted(path.name for path in run.iterdir())
    for command, name in ((["compare", str(run)], "summary.json"), (["eval", str(run)], "soft_targets.npy")):
        assert main([*command, "--out", str(run / name)]) == 2
        assert capsys.readouterr().err.strip() == (
            f"satlearn: error: --out {run / name}: a file that the unfinished run in {run} writes once it gets "
            "there; expected another file name, or a folder")
    assert sorted(path.name for path in run.iterdir()) == before
    assert main(["compare", str(run)]) == 0  # its summary is not a plot's bytes


def test_the_epoch_axes_are_ticked_at_whole_epochs(tmp_path, monkeypatch):
    from satlearn.compare import RunCurves, plot_runs

    # 20 epochs: matplotlib's own ticks would be 2.5, 7.5, ...
    history = [{"epoch": e, "test_accuracy": e / 20, "refined_label_accuracy": e / 40} for e in range(1, 21)]
    run = RunCurves(name="short", run_dir=tmp_path, method="sat", history=history, epochs=20, start_epoch=4,
                    summary={})
    drawn = drawn_figures(monkeypatch)
    plot_runs([run], tmp_path / "short.png")
    ticks = [tick for ax in drawn[0].axes for tick in ax.get_xticks()]
    assert len(drawn[0].axes) == 2 and ticks and all(float(tick).is_integer() for tick in ticks), ticks


def test_the_epoch_axes_of_a_run_after_its_first_epoch_are_ticked_at_that_epoch(tmp_path, monkeypatch):
    from satlearn.compare import RunCurves, plot_runs

    run = RunCurves(name="first", run_dir=tmp_path, method="sat", history=[
        {"epoch": 1, "test_accuracy": 0.2, "refined_label_accuracy": 0.6}], epochs=20, start_epoch=4, summary=None)
    drawn = drawn_figures(monkeypatch)
    plot_runs([run], tmp_path / "first.png")
    for ax in drawn[0].axes:
        low, high = ax.get_xlim()
        shown = [float(tick) for tick in ax.get_xticks() if low <= tick <= high]
        assert shown == [1.0], shown


def hand_written_run(run_dir, rows, *, start_epoch=2, epochs=6, actual_rate=0.4, finished=True):
    """A run directory written by hand (no training): its config, its metrics.jsonl rows and, when finished, its
    summary, so that every number the table shows is known in advance."""
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(f"method:\n  name: sat\n  start_epoch: {start_epoch}\n"
                                         f"run:\n  epochs: {epochs}\n"
                                         "data:\n  noise:\n    kind: symmetric\n    rate: 0.4\n")
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    if finished:
        summary = {"method": "sat", "epochs": epochs, "noise": {"kind": "symmetric", "actual_rate": actual_rate}}
        (run_dir / "summary.json").write_text(json.dumps(summary))
    return run_dir


# four epochs: tested after 1, 2 and 3 only (the best, 55 %, after epoch 2; the last, 45 %, after epoch 3); target
# quality reported after each; the seconds of the epochs add up to 10.5
HAND_ROWS = [
    {"epoch": 1, "test_accuracy": 0.30, "refined_label_accuracy": 0.60, "epoch_seconds": 1.0},
    {"epoch": 2, "test_accuracy": 0.55, "refined_label_accuracy": 0.70, "epoch_seconds": 2.0},
    {"epoch": 3, "test_accuracy": 0.45, "refined_label_accuracy": 0.80, "epoch_seconds": 3.0,
     "train_confidence": 0.9},
    {"epoch": 4, "refined_label_accuracy": 0.75, "epoch_seconds": 4.5, "train_confidence": 0.9},
]


def test_the_table_shows_the_last_tested_and_best_accuracy_the_last_target_quality_and_the_epochs_seconds(tmp_path):
    run = read_run(hand_written_run(tmp_path / "sat", HAND_ROWS), name="a/sat")
    assert run.name == "a/sat"  # the name compare gives it, not its directory's
    _, _, row = format_table([run]).splitlines()
    cells = [cell.strip() for cell in row.split("  ") if cell.strip()]
    assert cells == ["a/sat", "sat", "40.0%", "4", "45.0%", "55.0% (ep 2)", "75.0%", "10.5"]


def test_a_folder_of_many_runs_is_drawn_in_styles_of_their_own_with_its_legends_below_the_curves(tmp_path,
                                                                                                monkeypatch):
    import warnings

    from matplotlib.colors import to_hex
    from PIL import Image

    from satlearn.compare import plot_runs

    # more runs than matplotlib has colours, each with a phase line, targets and given labels: long legends
    runs = [read_run(hand_written_run(tmp_path / f"run{i:02d}", HAND_ROWS)) for i in range(12)]
    drawn = drawn_figures(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one of matplotlib's (a layout it could not make) would reach the terminal
        plot_runs(runs, tmp_path / "all.png")
    (fig,) = drawn
    names = {run.name for run in runs}
    run_lines = [line for line in fig.axes[0].lines if line.get_label() in names]
    assert len(run_lines) == len(runs)
    assert len({(to_hex(line.get_color()), line.get_marker()) for line in run_lines}) == len(runs)
    renderer = fig.canvas.get_renderer()
    assert [ax.get_legend() for ax in fig.axes] == [None, None] and len(fig.legends) == 2  # none over the curves
    lowest = min(ax.get_tightbbox(renderer).y0 for ax in fig.axes)  # an axes with its tick labels and axis label
    assert all(legend.get_window_extent(renderer).y1 <= lowest for legend in fig.legends)
    assert Image.open(tmp_path / "all.png").height > fig.get_figheight() * 110  # the image takes them in


@pytest.mark.parametrize("count, name", [(2, "run{}"), (6, "run{}"),
                                         (2, "a_rather_long_run_name_from_a_sweep_lr0.1_wd5e-4_{:02d}")])
def test_a_plot_of_a_few_runs_puts_its_legends_below_the_axes_where_they_cover_no_curve(tmp_path, monkeypatch, count,
                                                                                          name):
    from PIL import Image

    from satlearn.compare import plot_runs

    # inside, at matplotlib's "best", a legend of up to ten runs lay on the curves wherever no corner was free of them
    runs = [read_run(hand_written_run(tmp_path / name.format(i),
                                      [{**row, "test_accuracy": 0.5 + i / 100} for row in HAND_ROWS]))
            for i in range(count)]
    drawn = drawn_figures(monkeypatch)
    plot_runs(runs, tmp_path / "few.png")
    (fig,) = drawn
    assert [ax.get_legend() for ax in fig.axes] == [None, None] and len(fig.legends) == 2
    assert legends_cover_no_axes(fig)
    # each run names two lines on each axes: its curve and its phase start; its targets and given labels
    assert [len(legend_texts(ax)) for ax in fig.axes] == [2 * count] * 2
    assert Image.open(tmp_path / "few.png").height > fig.get_figheight() * 110  # the image takes them in


def test_a_run_with_epochs_but_none_tested_is_not_a_run_to_compare_yet(tmp_path):
    run_dir = hand_written_run(tmp_path / "sat", [{"epoch": 1, "epoch_seconds": 1.0}], finished=False)
    with pytest.raises(DataError, match=r"metrics\.jsonl: no evaluated epoch yet"):
        read_run(run_dir)


def test_a_folder_shows_its_evaluated_runs_and_names_those_not_evaluated_yet(tmp_path):
    hand_written_run(tmp_path / "runs" / "done", HAND_ROWS)
    early = hand_written_run(tmp_path / "runs" / "early", [{"epoch": 1, "epoch_seconds": 1.0}], finished=False)
    runs, table, _ = compare_runs([tmp_path / "runs"], out=tmp_path / "c.png")
    assert [run.name for run in runs] == ["done"]
    assert table.splitlines()[-1] == "not shown, as not yet evaluated (run.eval_every): early"
    with pytest.raises(DataError, match=r"early/metrics\.jsonl: no evaluated epoch yet"):  # named on its own
        compare_runs([tmp_path / "runs", early], out=tmp_path / "c.png")
    with pytest.raises(DataError, match=r"early/metrics\.jsonl: no evaluated epoch yet"):  # also from a generator
        compare_runs((d for d in (tmp_path / "runs", early)), out=tmp_path / "c.png")
    (tmp_path / "runs" / "done" / "metrics.jsonl").unlink()  # the folder's only run now is the early one
    with pytest.raises(DataError, match=r"^no evaluated epoch yet in any of the runs \(early\)$"):
        compare_runs([tmp_path / "runs"], out=tmp_path / "c.png")


def test_the_plot_marks_the_given_labels_share_right_and_a_phase_started_in_the_last_epoch(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from satlearn.compare import draw_runs

    # start_epoch 3 (0-based) is epoch 4, the last one the run has done: the line is drawn there
    run = read_run(hand_written_run(tmp_path / "sat", HAND_ROWS, start_epoch=3))
    fig, (accuracy_ax, targets_ax) = plt.subplots(1, 2)
    draw_runs([run], accuracy_ax, targets_ax, styles={run.name: {"color": "C0"}})
    given = next(line for line in targets_ax.lines if line.get_label() == "sat given labels")
    assert list(given.get_ydata()) == [pytest.approx(60.0)] * 2  # 40 % of the labels made wrong: 60 % right
    phase = next(line for line in accuracy_ax.lines if line.get_label() == "start of SAT")
    assert list(phase.get_xdata()) == [4, 4]
    plt.close("all")


def test_a_run_tested_once_so_far_is_drawn_as_a_point(tmp_path, monkeypatch):
    from satlearn.compare import plot_runs

    # run.eval_every=2 after two epochs: one test accuracy, two target figures; a run after its first epoch: one of
    # each. A line through one point draws nothing: the run would be in the legend alone
    tested_once = [{"epoch": 1, "refined_label_accuracy": 0.60, "epoch_seconds": 1.0},
                   {"epoch": 2, "test_accuracy": 0.30, "refined_label_accuracy": 0.70, "epoch_seconds": 1.0}]
    one_epoch = [{"epoch": 1, "test_accuracy": 0.25, "refined_label_accuracy": 0.60, "epoch_seconds": 1.0}]
    once = read_run(hand_written_run(tmp_path / "once", tested_once, finished=False))
    only = read_run(hand_written_run(tmp_path / "only", one_epoch, finished=False))
    drawn = drawn_figures(monkeypatch)
    plot_runs([once, only], tmp_path / "compare.png")
    curves = {line.get_label(): line for ax in drawn[0].axes for line in ax.get_lines()}
    for label in ("once", "only", "once targets", "only targets"):
        line = curves[label]
        joined = len(line.get_xdata()) > 1 and line.get_linestyle() not in ("None", "", " ")
        assert joined or line.get_marker() not in ("None", "", " ", None), label
        # markers spaced along the axes (a run's style) mark no point of a line of no length: a lone point's is its
        # own
        assert joined or line.get_markevery() is None, label


def test_the_phase_line_of_a_run_named_after_its_phase_names_the_phase_once(tmp_path):
    run_dir = hand_written_run(tmp_path / "run", HAND_ROWS, start_epoch=1)
    # the demo names its SAT run "SAT": its legend entry does not read "SAT: start of SAT"
    assert phase_lines(read_run(run_dir, name="SAT")) == [("start of SAT", [2, 2])]
    assert phase_lines(read_run(run_dir, name="sat")) == [("start of SAT", [2, 2])]
    assert phase_lines(read_run(run_dir, name="sat20")) == [("sat20: start of SAT", [2, 2])]


def test_the_targets_axes_mark_the_phase_only_of_runs_drawn_there(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from satlearn.compare import draw_runs

    noisy = read_run(hand_written_run(tmp_path / "noisy", HAND_ROWS, start_epoch=1))
    # a run whose true labels are unknown (or a gamblers run) has no target curve: no line of its own there either
    clean_rows = [{key: value for key, value in row.items() if key != "refined_label_accuracy"} for row in HAND_ROWS]
    clean = read_run(hand_written_run(tmp_path / "clean", clean_rows, start_epoch=2))
    fig, (accuracy_ax, targets_ax) = plt.subplots(1, 2)
    draw_runs([noisy, clean], accuracy_ax, targets_ax, styles={"noisy": {"color": "C0"}, "clean": {"color": "C1"}})
    vertical = [(line.get_color(), list(line.get_xdata())) for line in targets_ax.lines
                if len(set(line.get_xdata())) == 1]
    assert vertical == [("C0", [2, 2])]
    assert [line.get_label() for line in accuracy_ax.lines] == ["noisy", "noisy: start of SAT", "clean",
                                                                 "clean: start of SAT"]
    plt.close("all")


def test_a_run_named_twice_keeps_the_first_spelling(tmp_path):
    from satlearn.compare import unique_run_dirs

    run_dir = hand_written_run(tmp_path / "sat", HAND_ROWS)
    again = tmp_path / "sat" / ".." / "sat"
    assert unique_run_dirs([run_dir, again]) == [run_dir]
    assert unique_run_dirs([again, run_dir]) == [again]


def test_runs_and_a_plot_named_from_the_home_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # a ~ left unexpanded makes its folder here, not where pytest started
    train(tmp_path, "run", "run.epochs=1", "method.start_epoch=0")
    assert read_run("~/run").run_dir == tmp_path / "run"
    runs, _, plot = compare_runs(["~/run"], out="~/plots/")
    assert [run.run_dir for run in runs] == [tmp_path / "run"]
    assert plot == tmp_path / "plots" / "compare.png" and plot.exists()
    runs, _, plot = compare_runs(["~"])  # the home directory as a folder of runs; the plot in its default place
    assert [run.run_dir for run in runs] == [tmp_path / "run"]
    assert plot == tmp_path / "run" / "compare.png" and plot.exists()


def test_a_run_whose_name_starts_with_a_tilde_in_a_folder_given_as_dot_is_that_run(tmp_path, monkeypatch):
    # pathlib writes the run ~ found in . as the path ~, which read again would be the home directory
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    train(tmp_path, "~", "run.epochs=1", "method.start_epoch=0")
    monkeypatch.chdir(tmp_path)
    runs, _, plot = compare_runs(["."])
    assert [run.run_dir for run in runs] == [tmp_path / "~"]
    assert plot == tmp_path / "~" / "compare.png" and plot.exists()


def test_a_runs_curves_repr_counts_its_epochs_instead_of_printing_every_row(tmp_path):
    # compare_runs(...) at the end of a notebook cell shows the runs it read: 200 epochs each would be pages of rows
    run = read_run(hand_written_run(tmp_path / "sat", HAND_ROWS))
    shown = repr(run)
    assert f"history=<{len(HAND_ROWS)} epochs>" in shown and f"name={run.name!r}" in shown
    run.history = run.history * 100
    assert len(repr(run)) == len(shown) + 2


def test_targets_equal_to_the_given_labels_within_rounding_draw_as_one_level_not_a_gap_across_the_axes(tmp_path,
                                                                                                     monkeypatch):
    from satlearn.compare import plot_runs

    # before the targets move, their share right is a float32 (0.6381999850...) beside the given labels' 0.6382:
    # two such runs filled the axes with that gap, ticked in millionths of a point under an offset
    rows = [{"epoch": e, "test_accuracy": 0.3 + e / 100, "refined_label_accuracy": 0.6381999850273132,
             "epoch_seconds": 1.0} for e in (1, 2, 3)]
    runs = [read_run(hand_written_run(tmp_path / f"run{i}", rows, start_epoch=1, epochs=3, actual_rate=0.3618))
            for i in range(2)]
    drawn = drawn_figures(monkeypatch)
    plot_runs(runs, tmp_path / "compare.png")
    targets_ax = drawn[0].axes[1]
    low, high = targets_ax.get_ylim()
    assert high - low >= 1 and low < 63.82 < high
    assert targets_ax.yaxis.get_offset_text().get_text() == ""


def test_accuracies_at_100_percent_are_not_drawn_under_an_axis_that_goes_past_it(tmp_path, monkeypatch):
    from satlearn.compare import plot_runs

    # data that every run gets right from the first epoch: matplotlib's margins took the axes up to 105 %
    rows = [{"epoch": e, "test_accuracy": 1.0, "refined_label_accuracy": 1.0, "epoch_seconds": 1.0} for e in (1, 2)]
    runs = [read_run(hand_written_run(tmp_path / f"run{i}", rows, start_epoch=1, epochs=2, actual_rate=0.0))
            for i in range(2)]
    drawn = drawn_figures(monkeypatch)
    plot_runs(runs, tmp_path / "compare.png")
    for ax in drawn[0].axes:
        low, high = ax.get_ylim()
        assert 100 < high < 101 and high - low >= 1, (low, high)
        assert max(tick for tick in ax.get_yticks() if low <= tick <= high) <= 100


def test_a_legend_of_a_few_runs_wider_than_its_axes_goes_below_them_not_over_their_tick_labels(tmp_path, monkeypatch):
    from satlearn.compare import plot_runs

    # names as a sweep writes them: each legend, inside its axes, reached out over the axes' tick labels
    names = ["sat_symmetric_noise0.4_alpha0.9_es2_seed0_cnn1d_width64_lr0.003_cosine",
             "sat_symmetric_noise0.4_alpha0.9_es2_seed1_cnn1d_width64_lr0.003_cosine"]
    runs = [read_run(hand_written_run(tmp_path / name, HAND_ROWS)) for name in names]
    drawn = drawn_figures(monkeypatch)
    plot_runs(runs, tmp_path / "long.png")
    (fig,) = drawn
    assert [ax.get_legend() for ax in fig.axes] == [None, None] and len(fig.legends) == 2
    renderer = fig.canvas.get_renderer()
    lowest = min(ax.get_tightbbox(renderer).y0 for ax in fig.axes)  # an axes with its tick labels and axis label
    assert all(legend.get_window_extent(renderer).y1 <= lowest for legend in fig.legends)


@pytest.mark.parametrize("title", ["cost $5 per run, $3 per eval", r"lr $\frac{1}{2$ of the recipe's"])
def test_a_title_and_run_names_with_dollar_signs_are_drawn_as_written_not_as_tex(title, tmp_path, monkeypatch):
    from matplotlib.text import Text

    # matplotlib reads what stands between two $ as TeX: the first title lost its spaces to italics, the second
    # stopped compare with a parser's traceback; a run named from an unexpanded shell variable, likewise
    name = "lr_$LR_seed_$SEED"
    run = read_run(hand_written_run(tmp_path / name, HAND_ROWS))
    drawn = drawn_figures(monkeypatch)
    compare_runs([run.run_dir], out=tmp_path / "c.png", title=title)
    (fig,) = drawn
    renderer = fig.canvas.get_renderer()

    def drawn_as_written(text, written):
        plain = Text(text=written, parse_math=False, fontproperties=text.get_fontproperties())
        plain.set_figure(fig)
        return text.get_window_extent(renderer).width == pytest.approx(plain.get_window_extent(renderer).width)

    (suptitle,) = fig.texts
    assert drawn_as_written(suptitle, title)
    texts = [text for ax in fig.axes for text in (ax.get_legend() or legend_below(ax)).get_texts()]
    assert texts and all(drawn_as_written(text, text.get_text().replace(r"\$", "$")) for text in texts)
    assert {text.get_text().replace(r"\$", "$") for text in texts} >= {name, f"{name} targets"}


def test_compares_runs_are_told_apart_by_colour_blind_safe_colours_and_by_marker(tmp_path, monkeypatch):
    # the third and fourth runs were matplotlib's green and red, both solid: one line to a red-green colour-blind reader
    from matplotlib.colors import to_hex

    from satlearn.compare import plot_runs
    from satlearn.engine.reporting import palette

    runs = [read_run(hand_written_run(tmp_path / f"run{i}", HAND_ROWS)) for i in range(4)]
    drawn = drawn_figures(monkeypatch)
    plot_runs(runs, tmp_path / "four.png")
    accuracy_ax, targets_ax = drawn[0].axes
    for ax, suffix in ((accuracy_ax, ""), (targets_ax, " targets")):
        lines = [line for line in ax.lines if line.get_label() in {f"{run.name}{suffix}" for run in runs}]
        assert [to_hex(line.get_color()) for line in lines] == [c.lower() for c in palette()[:4]]
        assert len({line.get_marker() for line in lines}) == 4
    legend_markers = [handle.get_marker() for handle in legend_below(accuracy_ax).legend_handles
                      if handle.get_label() in {run.name for run in runs}]
    assert len(set(legend_markers)) == 4 and None not in legend_markers


def test_the_plot_removes_what_a_compare_killed_as_it_wrote_the_plot_left(tmp_path):
    from satlearn.compare import plot_runs
    from satlearn.engine.checkpoint import temporary_name

    # kill -9 between the plot's temporary file and its rename left a hidden file that nothing removed
    out = tmp_path / "plots"
    out.mkdir()
    left = out / temporary_name("compare.png")
    left.write_bytes(b"half a png")
    other = out / temporary_name("risk_coverage.png")  # another command's, perhaps still being written
    other.write_bytes(b"")
    plot_runs([read_run(hand_written_run(tmp_path / "run", HAND_ROWS))], out / "compare.png")
    assert sorted(path.name for path in out.iterdir()) == sorted(["compare.png", other.name])


# HAND_ROWS with a validation split scored at each tested epoch: best (62 %) after epoch 1, where the test split's
# best is after epoch 2; a tie at 62 % after epoch 3, which the run's first best keeps
VAL_ROWS = [{**row, **val} for row, val in zip(HAND_ROWS, [{"val_accuracy": 0.62}, {"val_accuracy": 0.50},
                                                           {"val_accuracy": 0.62}, {}])]


def with_validation_summary(run_dir, **validation):
    summary = json.loads((run_dir / "summary.json").read_text())
    (run_dir / "summary.json").write_text(json.dumps({**summary, "validation": validation}))
    return run_dir


def test_the_table_shows_the_epoch_a_validation_split_picks_and_its_test_accuracy_beside_runs_without_one(tmp_path):
    plain = read_run(hand_written_run(tmp_path / "plain", HAND_ROWS))
    unfinished = read_run(hand_written_run(tmp_path / "unfinished", VAL_ROWS, finished=False))
    # a finished run: the pick its summary records
    finished = read_run(with_validation_summary(hand_written_run(tmp_path / "finished", VAL_ROWS), best_epoch=3,
                                                best_accuracy=0.62, test_accuracy_at_best_epoch=0.45))
    header, _, *rows = format_table([plain, unfinished, finished]).splitlines()
    assert re.split(r" {2,}", header) == ["run", "method", "noise (actual)", "epochs", "final test acc",
                                          "best test acc", "best val acc", "test acc at best val", "labels right",
                                          "epochs s"]
    cells = [re.split(r" {2,}", row) for row in rows]
    assert cells[0] == ["plain", "sat", "40.0%", "4", "45.0%", "55.0% (ep 2)", "no split", "—", "75.0%", "10.5"]
    assert cells[1][4:8] == ["45.0%", "55.0% (ep 2)", "62.0% (ep 1)", "30.0%"]  # its first best so far
    assert cells[2][4:8] == ["45.0%", "55.0% (ep 2)", "62.0% (ep 3)", "45.0%"]
    # runs without a split: the table they always had
    assert format_table([plain]) == format_table([read_run(hand_written_run(tmp_path / "again", HAND_ROWS),
                                                           name="plain")])
    assert "val" not in format_table([plain])


def test_the_plot_draws_the_validation_accuracy_of_runs_with_a_split_in_a_panel_of_its_own(tmp_path, monkeypatch):
    from matplotlib.colors import to_hex

    from satlearn.compare import plot_runs

    runs = [read_run(hand_written_run(tmp_path / name, rows))
            for name, rows in (("plain", HAND_ROWS), ("split", VAL_ROWS))]
    drawn = drawn_figures(monkeypatch)
    plot_runs(runs, tmp_path / "mixed.png")
    plot_runs(runs[:1], tmp_path / "plain.png")
    mixed, plain = drawn
    # runs without a split are drawn as they always were: test accuracy and targets, side by side
    assert [ax.get_ylabel() for ax in plain.axes] == ["test accuracy (%)", "training labels right (%)"]
    assert tuple(plain.get_size_inches()) == (12, 4.5)
    test_ax, val_ax, targets_ax = mixed.axes
    assert [ax.get_ylabel() for ax in mixed.axes] == ["test accuracy (%)", "validation accuracy, given labels (%)",
                                                      "training labels right (%)"]
    assert tuple(mixed.get_size_inches()) == (16, 4.5)
    # only the run with a split there, in its own colour and marker, at its evaluated epochs
    (curve,) = [line for line in val_ax.lines if line.get_label() in {"plain", "split"}]
    (test_curve,) = [line for line in test_ax.lines if line.get_label() == "split"]
    assert curve.get_label() == "split"
    assert (to_hex(curve.get_color()), curve.get_marker()) == (to_hex(test_curve.get_color()), test_curve.get_marker())
    assert list(curve.get_xdata()) == [1, 2, 3] and list(curve.get_ydata()) == pytest.approx([62, 50, 62])
    assert legend_texts(val_ax) == ["split"]
    # its phase line is marked there too, named once, in the test panel's legend
    assert [line.get_xdata()[0] for line in val_ax.lines if line.get_linestyle() == ":"] == [3]


def test_the_given_labels_line_of_a_run_with_a_validation_split_is_over_the_labels_its_targets_cover(tmp_path,
                                                                                                      monkeypatch):
    import numpy as np

    from satlearn.compare import plot_runs

    # ten labels, four wrong (40 %), two of them among the two held out: of the eight trained on, two are wrong, and
    # the targets, which cover those eight alone, start at 75 % right, not at the 60 % of all ten
    run_dir = hand_written_run(tmp_path / "split", VAL_ROWS, actual_rate=0.4)
    clean = np.arange(10) % 3
    labels = clean.copy()
    labels[[0, 1, 8, 9]] = (clean[[0, 1, 8, 9]] + 1) % 3
    np.savez(run_dir / "labels.npz", labels=labels, clean_labels=clean, train_index=np.arange(8),
             val_index=np.array([8, 9]))
    run = read_run(run_dir)
    assert (run.actual_noise_rate, run.trained_noise_rate) == (0.4, 0.25)
    drawn = drawn_figures(monkeypatch)
    plot_runs([run], tmp_path / "split.png")
    (given,) = [line for line in drawn[0].axes[-1].lines if line.get_label() == "split given labels"]
    assert list(given.get_ydata()) == [75.0, 75.0]
    # one whose labels.npz cannot tell: the rate over every label, as before
    (run_dir / "labels.npz").write_bytes(b"not an archive")
    assert read_run(run_dir).trained_noise_rate is None


def seed_run(run_dir, rows, *overrides, actual_rate=0.4, finished=True):
    """A run written by hand (as :func:`hand_written_run`), its config.yaml a whole config with ``overrides``."""
    from satlearn.config import dump_yaml

    config = load_config(None, ["data.noise.kind=symmetric", "data.noise.rate=0.4", "method.start_epoch=2",
                                "run.epochs=4", *overrides])
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(dump_yaml(config))
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    if finished:
        summary = {"method": "sat", "epochs": 4, "noise": {"kind": "symmetric", "actual_rate": actual_rate}}
        (run_dir / "summary.json").write_text(json.dumps(summary))
    return run_dir


def seed_rows(final, best, refined, seconds):
    """Four epochs, tested after each: the best (``best``) after epoch 2 or 3, ``final`` after epoch 4."""
    best_epoch = 2 if best < 0.58 else 3
    tests = {1: 0.2, 2: 0.3, 3: 0.3, 4: final, best_epoch: best}
    return [{"epoch": e, "test_accuracy": tests[e], "refined_label_accuracy": refined - (4 - e) / 100,
             "epoch_seconds": seconds / 4} for e in (1, 2, 3, 4)]


# three seeds of one SAT run, each figure set so that its mean and sample std are round: final 45 ± 5 %, best
# 55 ± 5 % (after epoch 2, 2 and 3), labels right 75 ± 5 %, seconds 12 ± 2, noise 40 ± 2 %
SEEDS = [(0, seed_rows(0.40, 0.50, 0.70, 10.0), 0.38), (1, seed_rows(0.45, 0.55, 0.75, 12.0), 0.40),
         (2, seed_rows(0.50, 0.60, 0.80, 14.0), 0.42)]


def test_runs_that_differ_only_in_their_seeds_and_how_they_ran_are_one_row_of_mean_and_sample_std(tmp_path, capsys):
    # the third seed ran elsewhere: another device, thread count and data workers, without progress bars
    how = [[], [], ["run.device=cuda", "run.threads=2", "data.workers=4", "run.progress=false"]]
    for (seed, rows, rate), elsewhere in zip(SEEDS, how):
        seed_run(tmp_path / "runs" / f"sat-s{seed}", rows, f"run.seed={seed}", f"data.noise.seed={seed}",
                 *elsewhere, actual_rate=rate)
    # another learning rate: another experiment, a row of its own as before, after the group it sorts behind
    seed_run(tmp_path / "runs" / "sat-lr0.1", SEEDS[0][1], "optim.lr=0.1")
    assert main(["compare", str(tmp_path / "runs"), "--out", str(tmp_path / "c.png")]) == 0
    header, rule, *rows = capsys.readouterr().out.splitlines()
    assert re.split(r" {2,}", header)[0] == "run"
    cells = [re.split(r" {2,}", row) for row in rows]
    assert re.split(r" {2,}", header)[2] == "optim.lr"  # the setting in which the rows differ
    assert cells[0] == ["sat-lr0.1", "sat", "0.1", "40.0%", "4", "40.0%", "50.0% (ep 2)", "70.0%", "10.0"]
    assert cells[1] == ["sat (seeds 0, 1, 2)", "sat", "0.003", "40.0 ± 2.0%", "4", "45.0 ± 5.0%",
                        "55.0 ± 5.0% (ep 2–3)", "75.0 ± 5.0%", "12.0 ± 2.0"]
    assert rows[2:] == [
        "runs averaged over their seeds (mean ± sample standard deviation; plotted: the mean, shaded from the "
        "lowest to the highest run):",
        "  sat (seeds 0, 1, 2): sat-s0, sat-s1, sat-s2",
        f"plot: {tmp_path / 'c.png'}"]


def test_a_group_is_drawn_as_its_mean_shaded_from_its_lowest_to_its_highest_run(tmp_path, monkeypatch):
    from matplotlib.collections import PolyCollection

    for seed, rows, rate in SEEDS:
        seed_run(tmp_path / f"sat-s{seed}", rows, f"run.seed={seed}", actual_rate=rate)
    drawn = drawn_figures(monkeypatch)
    runs, _, _ = compare_runs([tmp_path], out=tmp_path / "c.png")
    assert [run.name for run in runs] == ["sat-s0", "sat-s1", "sat-s2"]  # every run read, grouped or not
    accuracy_ax, targets_ax = drawn[0].axes
    (mean,) = [line for line in accuracy_ax.lines if line.get_label() == "sat (seeds 0, 1, 2)"]
    assert list(mean.get_xdata()) == [1, 2, 3, 4]
    assert list(mean.get_ydata()) == pytest.approx([20, 100 * (0.5 + 0.55 + 0.3) / 3, 100 * (0.3 + 0.3 + 0.6) / 3, 45])
    band, key = [c for c in accuracy_ax.collections if isinstance(c, PolyCollection)]
    assert band.get_paths()[0].vertices[:, 1].max() == pytest.approx(60)  # the highest run at its best
    legend = legend_texts(accuracy_ax)
    assert legend == ["sat (seeds 0, 1, 2)", "sat (seeds 0, 1, 2): start of SAT",
                      "shaded: lowest to highest run of a group"]
    # the targets of the group, and its given labels at their mean share right
    (given,) = [line for line in targets_ax.lines if line.get_label() == "sat (seeds 0, 1, 2) given labels"]
    assert list(given.get_ydata()) == pytest.approx([60, 60])


def test_per_run_gives_a_row_and_a_curve_for_each_run_as_runs_that_group_with_no_other_always_get(tmp_path, capsys,
                                                                                                  monkeypatch):
    from matplotlib.collections import PolyCollection

    for seed, rows, rate in SEEDS[:2]:
        seed_run(tmp_path / f"sat-s{seed}", rows, f"run.seed={seed}", actual_rate=rate)
    seed_run(tmp_path / "sat-lr0.1", SEEDS[0][1], "optim.lr=0.1")
    runs = [read_run(tmp_path / name) for name in ("sat-lr0.1", "sat-s0", "sat-s1")]
    drawn = drawn_figures(monkeypatch)
    out = tmp_path / "plots"
    assert main(["compare", str(tmp_path), "--per-run", "--out", f"{out}/"]) == 0
    assert capsys.readouterr().out == f"{format_table(runs)}\nplot: {out / 'compare.png'}\n"
    accuracy_ax = drawn[-1].axes[0]
    assert [line.get_label() for line in accuracy_ax.lines if "start of" not in line.get_label()] == [
        "sat-lr0.1: optim.lr=0.1", "sat-s0: optim.lr=0.003", "sat-s1: optim.lr=0.003"]
    assert not [c for c in accuracy_ax.collections if isinstance(c, PolyCollection)]  # no band
    # runs that group with no other (here: one config twice with the same seeds, told apart, not averaged) are
    # compared as with --per-run, byte for byte
    config = tmp_path / "sat-s1" / "config.yaml"
    config.write_text(config.read_text().replace("  seed: 1\n", "  seed: 0\n"))
    assert read_run(tmp_path / "sat-s1").config.run.seed == 0
    for group in (True, False):
        _, table, _ = compare_runs([tmp_path], out=tmp_path / f"{group}.png", group=group)
        assert table == format_table(runs)
    assert (tmp_path / "True.png").read_bytes() == (tmp_path / "False.png").read_bytes()


def test_a_group_whose_runs_trained_unequally_far_is_summarised_over_the_epochs_all_have_and_says_so(tmp_path,
                                                                                                      monkeypatch):
    for seed, rows, rate in SEEDS[:2]:
        seed_run(tmp_path / f"sat-s{seed}", rows, f"run.seed={seed}", actual_rate=rate)
    seed_run(tmp_path / "sat-s2", SEEDS[2][1][:2], "run.seed=2", finished=False)  # still in its third epoch
    drawn = drawn_figures(monkeypatch)
    _, table, _ = compare_runs([tmp_path], out=tmp_path / "c.png")
    header, _, row, *notes = table.splitlines()
    # the figures of epochs 1 and 2: final 50, 55 and 30 %, best likewise (all after epoch 2), labels right 68, 73
    # and 78 %, seconds 5, 6 and 7; the unfinished run's noise is unknown (it has no labels.npz)
    assert re.split(r" {2,}", row) == ["sat (seeds 0, 1, 2)", "sat", "—", "2/4 (runs at 2–4)", "45.0 ± 13.2%",
                                       "45.0 ± 13.2% (ep 2)", "73.0 ± 5.0%", "6.0 ± 1.0"]
    assert notes[-1] == ("  sat (seeds 0, 1, 2): sat-s0, sat-s1, sat-s2; over the first 2 epochs, which all have "
                         "trained (sat-s0 4, sat-s1 4, sat-s2 2 of 4)")
    (mean,) = [line for line in drawn[0].axes[0].lines if line.get_label().startswith("sat (seeds")]
    assert mean.get_label() == "sat (seeds 0, 1, 2), to epoch 2 (its shortest run)"
    assert list(mean.get_xdata()) == [1, 2]
    # its phase (after epoch 2) not yet reached by all: not drawn
    assert not [line for line in drawn[0].axes[0].lines if "start of" in line.get_label()]


@pytest.mark.parametrize("other, grouped", [
    (["data.noise.seed=1"], "sat (noise seeds 0, 1)"),  # another draw of the noisy labels: a seed
    (["run.seed=1", "data.noise.seed=1"], "sat (seeds 0, 1)"),  # as the benchmarks draw another seed
    (["run.seed=1", "data.noise.seed=5"], "sat (run/noise seeds 0/0, 1/5)"),
    (["run.seed=1", "data.data_seed=1"], None),  # other data (MNIST-1D's, a drawn test split)
    (["run.seed=1", "data.root=elsewhere"], None),  # nothing tells that two folders hold the same data
    (["run.seed=1", "method.momentum=0.8"], None),
    (["run.seed=1", "run.eval_every=2"], None),  # which epochs are tested (and so picked as best) is no detail
])
def test_runs_group_only_where_they_differ_in_their_seeds_and_how_they_ran_alone(other, grouped, tmp_path):
    from satlearn.compare import group_runs

    runs = [read_run(seed_run(tmp_path / "sat-a", HAND_ROWS)), read_run(seed_run(tmp_path / "sat-b", HAND_ROWS,
                                                                                   *other))]
    compared = group_runs(runs)
    if grouped is None:
        assert compared == runs
    else:
        (group,) = compared
        assert group.label == grouped and group.runs == runs


def test_a_run_whose_settings_only_its_summary_tells_groups_with_none(tmp_path):
    from satlearn.compare import group_runs

    runs = [seed_run(tmp_path / f"sat-s{seed}", rows, f"run.seed={seed}") for seed, rows, _ in SEEDS]
    (runs[1] / "config.yaml").unlink()  # results copied without it: the seed is unknown
    compared = group_runs([read_run(run) for run in runs])
    assert [getattr(entry, "label", None) or entry.name for entry in compared] == ["sat (seeds 0, 2)", "sat-s1"]


@pytest.mark.parametrize("names, seeds, expected", [
    (["sat-s1", "sat-s2", "sat-s3"], [(1, 0), (2, 0), (3, 0)], "sat"),
    (["sat_seed0_lr0.1", "sat_seed1_lr0.1"], [(0, 0), (1, 1)], "sat_lr0.1"),  # both seeds, named once
    (["sat-s1-lr0.1", "sat-s2-lr0.1"], [(1, 0), (2, 0)], "sat-lr0.1"),  # not the 1 of 0.1
    (["cnn1d-s1", "cnn1d-s2"], [(1, 0), (2, 0)], "cnn1d"),  # nor of a word
    (["a/sat-s1", "a/sat-s2"], [(1, 1), (2, 2)], "a/sat"),
    (["a0.6/s0", "a0.6/s1"], [(0, 0), (1, 0)], "a0.6"),  # a sweep's folder of seeds: not "a0.6/"
    (["a0.6/0", "a0.6/1"], [(0, 0), (1, 0)], "a0.6"),
    (["sat-20261124-101500", "sat-20261124-112210"], [(0, 0), (1, 1)], "sat-20261124"),  # no seed in the names
    (["ours", "theirs"], [(0, 0), (1, 1)], "ours"),
])
def test_a_group_is_named_after_its_runs_without_their_seeds(names, seeds, expected):
    from satlearn.compare import group_name

    assert group_name(names, seeds) == expected


@pytest.mark.parametrize("count, words", [(5, "seeds 0, 1, 2, 3, 4"), (6, "6 seeds")])
def test_a_groups_seeds_are_named_up_to_five_and_counted_past_that(count, words):
    from satlearn.compare import seed_words

    assert seed_words([(seed, seed) for seed in reversed(range(count))]) == words


def test_three_groups_named_alike_are_each_told_apart(tmp_path):
    from satlearn.compare import group_runs

    # each group's style is drawn by its name: a third "sat" must not take the second's
    runs = [read_run(seed_run(tmp_path / f"sat{spelling}{seed}", HAND_ROWS, f"run.seed={seed}", *other))
            for spelling, other in (("-s", []), ("_seed", ["optim.lr=0.1"]), (".s", ["optim.lr=0.2"]))
            for seed in (0, 1)]
    assert [group.label for group in group_runs(runs)] == ["sat (seeds 0, 1)", "sat-2 (seeds 0, 1)",
                                                           "sat-3 (seeds 0, 1)"]


def test_seeds_of_one_config_tested_at_no_common_epoch_are_compared_as_runs_not_a_traceback(tmp_path, capsys):
    # metrics edited by hand: the runs share no tested epoch, so there is no figure to average
    seed_run(tmp_path / "sat-s0", HAND_ROWS[:2], "run.seed=0", finished=False)
    seed_run(tmp_path / "sat-s1", [{**row, "epoch": row["epoch"] + 2} for row in HAND_ROWS[:2]], "run.seed=1",
             finished=False)
    assert main(["compare", str(tmp_path), "--out", str(tmp_path / "c.png")]) == 0
    rows = capsys.readouterr().out.splitlines()[2:]
    assert [re.split(r" {2,}", row)[0] for row in rows[:2]] == ["sat-s0", "sat-s1"]
    assert not [row for row in rows if "averaged" in row]


def test_a_group_of_trained_runs_reads_an_unfinished_runs_seed_from_its_checkpoint(tmp_path, capsys):
    finished = [train(tmp_path, f"sat-s{seed}", "method.name=sat", f"run.seed={seed}", f"data.noise.seed={seed}",
                      "data.val_size=40") for seed in (0, 1)]
    config = load_config(None, tiny_overrides(tmp_path, "data.noise.kind=symmetric", "data.noise.rate=0.4",
                                              "method.name=sat", "run.seed=2", "data.noise.seed=2",
                                              "data.val_size=40"))
    unfinished = fit(config, tmp_path / "sat-s2", stop_after_epoch=2, log=lambda message: None).run_dir
    (unfinished / "config.yaml").unlink()  # its checkpoint still keeps its config
    assert main(["compare", str(tmp_path), "--out", str(tmp_path / "c.png")]) == 0
    header, _, row, *_ = capsys.readouterr().out.splitlines()
    cells = re.split(r" {2,}", row)
    assert cells[:2] == ["sat (seeds 0, 1, 2)", "sat"] and cells[3] == "2/3 (runs at 2–3)"
    finals = [next(r for r in result.history if r["epoch"] == 2)["test_accuracy"] for result in finished]
    finals.append(json.loads((unfinished / "metrics.jsonl").read_text().splitlines()[-1])["test_accuracy"])
    import statistics

    assert cells[4] == f"{100 * statistics.fmean(finals):.1f} ± {100 * statistics.stdev(finals):.1f}%"
    # the validation split's pick, each run's over the epochs all have: "± std% (ep a–b)", then its test accuracy
    assert re.fullmatch(r"\d+\.\d ± \d+\.\d% \(ep [12](–2)?\)", cells[6]) and "±" in cells[7]


def test_two_groups_named_alike_are_told_apart(tmp_path):
    from satlearn.compare import group_runs

    runs = [read_run(seed_run(tmp_path / f"sat{spelling}{seed}", HAND_ROWS, f"run.seed={seed}", *other))
            for spelling, other in (("-s", []), ("_seed", ["optim.lr=0.1"])) for seed in (0, 1)]
    assert [group.label for group in group_runs(runs)] == ["sat (seeds 0, 1)", "sat-2 (seeds 0, 1)"]


def test_a_sweep_groups_by_the_settings_it_varies_and_shows_them_in_the_table_and_the_legend(tmp_path, capsys,
                                                                                             monkeypatch):
    # a sweep of method.momentum and method.start_epoch over two seeds, in time-stamped folders that tell nothing
    settings = [("0.6", 1), ("0.6", 2), ("0.9", 1)]
    for index, ((momentum, start), seed) in enumerate((each, seed) for each in settings for seed in (0, 1)):
        seed_run(tmp_path / "runs" / f"sat-mnist1d-20261128-1000{index:02d}", SEEDS[seed][1], f"run.seed={seed}",
                 f"data.noise.seed={seed}", f"method.momentum={momentum}", f"method.start_epoch={start}",
                 # how it ran is no setting of the sweep
                 f"run.threads={seed + 1}")
    drawn = drawn_figures(monkeypatch)
    assert main(["compare", str(tmp_path / "runs"), "--out", str(tmp_path / "c.png")]) == 0
    header, _, *rows = capsys.readouterr().out.splitlines()
    assert re.split(r" {2,}", header)[:5] == ["run", "method", "method.momentum", "method.start_epoch",
                                              "noise (actual)"]
    cells = [re.split(r" {2,}", row) for row in rows[:3]]
    assert [row[2:4] for row in cells] == [["0.6", "1"], ["0.6", "2"], ["0.9", "1"]]
    assert [row[0] for row in cells] == ["sat-mnist1d-20261128 (seeds 0, 1)", "sat-mnist1d-20261128-2 (seeds 0, 1)",
                                         "sat-mnist1d-20261128-3 (seeds 0, 1)"]
    legend = legend_texts(drawn[0].axes[0])
    assert "sat-mnist1d-20261128-2 (seeds 0, 1): method.momentum=0.6, method.start_epoch=2" in legend
    assert "sat-mnist1d-20261128-2 (seeds 0, 1) targets: method.momentum=0.6, method.start_epoch=2" in legend_texts(
        drawn[0].axes[1])
    # each run on its own: the same columns
    _, table, _ = compare_runs([tmp_path / "runs"], out=tmp_path / "each.png", group=False)
    assert [re.split(r" {2,}", row)[2:4] for row in table.splitlines()[2:]] == [
        ["0.6", "1"], ["0.6", "1"], ["0.6", "2"], ["0.6", "2"], ["0.9", "1"], ["0.9", "1"]]


def test_csv_gives_each_run_with_its_seeds_and_the_settings_the_runs_differ_in(tmp_path, capsys):
    import csv

    seed_run(tmp_path / "runs" / "ce", HAND_ROWS, "method.name=erm", finished=False)  # still training
    for momentum in ("0.6", "0.9"):
        for seed, rows, rate in SEEDS[:2]:
            seed_run(tmp_path / "runs" / f"sat-a{momentum}-s{seed}", rows, f"run.seed={seed}",
                     f"method.momentum={momentum}", actual_rate=rate)
    table = tmp_path / "tables" / "sweep.csv"
    assert main(["compare", str(tmp_path / "runs"), "--out", str(tmp_path / "c.png"), "--csv", str(table)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-2:] == [f"plot: {tmp_path / 'c.png'}", f"csv: {table}"]
    assert "sat-a0.6 (seeds 0, 1)" in out[3]  # the table groups them as before
    rows = list(csv.DictReader(table.open()))
    assert list(rows[0]) == ["run", "run_dir", "method", "run.seed", "data.noise.seed", "method.momentum",
                             "finished", "epochs", "last_epoch", "noise_actual", "final_test_accuracy",
                             "best_test_accuracy", "best_epoch", "best_val_accuracy", "best_val_epoch",
                             "test_accuracy_at_best_val", "labels_right", "epochs_seconds"]
    assert [(row["run"], row["method"], row["run.seed"], row["method.momentum"], row["finished"]) for row in rows] == [
        ("ce", "erm", "0", "", "false"), ("sat-a0.6-s0", "sat", "0", "0.6", "true"),
        ("sat-a0.6-s1", "sat", "1", "0.6", "true"), ("sat-a0.9-s0", "sat", "0", "0.9", "true"),
        ("sat-a0.9-s1", "sat", "1", "0.9", "true")]
    one = rows[2]  # SEEDS[1]: final 45 %, best 55 % after epoch 2, labels right 75 %, 12 s, noise 40 %
    assert (float(one["final_test_accuracy"]), float(one["best_test_accuracy"]), one["best_epoch"],
            float(one["labels_right"]), float(one["epochs_seconds"]), float(one["noise_actual"])) == (
        0.45, 0.55, "2", pytest.approx(0.75), pytest.approx(12.0), 0.40)
    assert rows[0]["last_epoch"] == "4" and rows[0]["best_val_accuracy"] == ""
    assert Path(rows[1]["run_dir"]) == tmp_path / "runs" / "sat-a0.6-s0"
    # a folder takes compare.csv; the plot's own file, or a run's, is refused before anything is written
    assert main(["compare", str(tmp_path / "runs"), "--out", str(tmp_path / "c.png"), "--csv", f"{tmp_path}/"]) == 0
    assert (tmp_path / "compare.csv").read_text() == table.read_text()
    capsys.readouterr()
    for refused in (tmp_path / "c.png", tmp_path / "runs" / "ce" / "metrics.jsonl"):
        assert main(["compare", str(tmp_path / "runs"), "--out", str(tmp_path / "c.png"), "--csv", str(refused)]) == 2
        assert capsys.readouterr().err.startswith(f"satlearn: error: --csv {refused}: ")


def test_a_setting_counts_only_for_the_runs_whose_method_reads_it(tmp_path):
    # cross-entropy beside SAT: its method.momentum and start_epoch are read by no one
    seed_run(tmp_path / "ce", HAND_ROWS, "method.name=erm", "method.start_epoch=0")  # and method.momentum 0.9
    seed_run(tmp_path / "sat", HAND_ROWS, "method.momentum=0.6")
    _, alone, _ = compare_runs([tmp_path / "ce", tmp_path / "sat"], out=tmp_path / "c.png")
    assert alone.splitlines()[0].split()[:3] == ["run", "method", "noise"]  # no setting differs
    seed_run(tmp_path / "sat-0.9", HAND_ROWS, "method.momentum=0.9")
    _, table, _ = compare_runs([tmp_path / "ce", tmp_path / "sat", tmp_path / "sat-0.9"], out=tmp_path / "c.png")
    assert [re.split(r" {2,}", row)[:3] for row in table.splitlines()[::2]] == [
        ["run", "method", "method.momentum"], ["ce", "erm", "—"], ["sat-0.9", "sat", "0.9"]]
    assert re.split(r" {2,}", table.splitlines()[3])[:3] == ["sat", "sat", "0.6"]


def test_the_legend_names_no_setting_that_a_run_does_not_read(tmp_path, monkeypatch):
    # the table's '—' for a CE run's method.momentum, in the legend, would read as its value
    seed_run(tmp_path / "ce", HAND_ROWS, "method.name=erm")
    for momentum in ("0.6", "0.9"):
        seed_run(tmp_path / f"sat-{momentum}", HAND_ROWS, f"method.momentum={momentum}")
    drawn = drawn_figures(monkeypatch)
    compare_runs([tmp_path / "ce", tmp_path / "sat-0.6", tmp_path / "sat-0.9"], out=tmp_path / "c.png")
    legend = legend_texts(drawn[0].axes[0])
    assert "ce" in legend and "sat-0.6: method.momentum=0.6" in legend
    assert not [text for text in legend if "—" in text]


def test_runs_that_differ_in_more_settings_than_fit_as_columns_are_told_apart_under_the_table(tmp_path):
    from satlearn.compare import MAX_SETTING_COLUMNS

    many = ["optim.lr=0.1", "optim.name=sgd", "optim.weight_decay=0.0005", "model.name=mlp", "data.batch_size=64"]
    assert len(many) > MAX_SETTING_COLUMNS
    seed_run(tmp_path / "a", HAND_ROWS)
    seed_run(tmp_path / "b", HAND_ROWS, *many)
    _, table, _ = compare_runs([tmp_path / "a", tmp_path / "b"], out=tmp_path / "c.png")
    assert table.splitlines()[0].split()[:3] == ["run", "method", "noise"]  # no column of them
    assert table.splitlines()[4:] == [
        "settings in which the runs differ (5, too many for columns):",
        "  a: data.batch_size=256, model.name=cnn1d, optim.name=adam, optim.lr=0.003, optim.weight_decay=0.0",
        "  b: data.batch_size=64, model.name=mlp, optim.name=sgd, optim.lr=0.1, optim.weight_decay=0.0005"]


def keeping_best(run_dir, **summary):
    """``run_dir`` as a run with ``run.keep_best: true`` leaves it; ``summary``: what its summary.json says besides."""
    config = run_dir / "config.yaml"
    config.write_text(config.read_text().replace("run:\n", "run:\n  keep_best: true\n"))
    if summary:
        kept = json.loads((run_dir / "summary.json").read_text())
        (run_dir / "summary.json").write_text(json.dumps({**kept, **summary}))
    return run_dir


def test_the_plot_rings_the_epoch_a_run_keeps_on_the_curve_of_the_split_that_picked_it(tmp_path, monkeypatch):
    from matplotlib.colors import to_hex

    from satlearn.compare import plot_runs

    # validation accuracy is best after epochs 1 and 3 (the first is kept), test accuracy after epoch 2
    pick = {"best_epoch": 1, "best_accuracy": 0.62, "test_accuracy_at_best_epoch": 0.30}
    runs = [read_run(run_dir) for run_dir in (
        keeping_best(hand_written_run(tmp_path / "split", VAL_ROWS), best_by="val", best_epoch=2, validation=pick),
        keeping_best(hand_written_run(tmp_path / "plain", HAND_ROWS), best_by="test", best_epoch=2),
        keeping_best(hand_written_run(tmp_path / "training", VAL_ROWS, finished=False)),  # the first best so far
        hand_written_run(tmp_path / "none", VAL_ROWS))]  # keeps no weights: nothing picked
    assert [run.kept_epoch for run in runs] == [(1, "val"), (2, "test"), (1, "val"), None]
    drawn = drawn_figures(monkeypatch)
    plot_runs(runs, tmp_path / "kept.png")
    test_ax, val_ax, _ = drawn[0].axes

    def rings(ax):
        return {line.get_label(): (list(line.get_xdata()), pytest.approx(list(line.get_ydata())),
                                   to_hex(line.get_markeredgecolor())) for line in ax.lines if "kept" in line.get_label()}

    # (each run's curve is named with the setting in which the runs differ: "plain: run.keep_best=true")
    colour = {line.get_label().partition(":")[0]: to_hex(line.get_color()) for line in test_ax.lines
              if "run.keep_best=" in line.get_label()}
    assert rings(test_ax) == {"plain: kept epoch 2 (best test acc)": ([2], [55.0], colour["plain"])}
    assert rings(val_ax) == {"split: kept epoch 1 (best val acc)": ([1], [62.0], colour["split"]),
                             "training: kept epoch 1 (best val acc)": ([1], [62.0], colour["training"])}
    assert "plain: kept epoch 2 (best test acc)" in legend_texts(test_ax)
    assert "split: kept epoch 1 (best val acc)" in legend_texts(val_ax)


def test_a_run_whose_config_is_gone_keeps_the_epoch_its_best_weights_say_it_kept(tmp_path):
    run_dir = keeping_best(hand_written_run(tmp_path / "copied", HAND_ROWS), best_by="test", best_epoch=2)
    (run_dir / "config.yaml").unlink()
    assert read_run(run_dir).kept_epoch is None  # no config, no weights: results copied without them
    (run_dir / "best_model.pt").write_bytes(b"weights")
    assert read_run(run_dir).kept_epoch == (2, "test")


def test_a_group_of_runs_that_keep_their_best_epochs_gets_no_ring_and_a_run_beside_it_keeps_its_own(tmp_path,
                                                                                                     monkeypatch):
    # each seed kept an epoch of its own: a ring on their mean would stand for no weights anyone kept
    for seed, rows, rate in SEEDS:
        run_dir = seed_run(tmp_path / f"sat-s{seed}", rows, f"run.seed={seed}", "run.keep_best=true", actual_rate=rate)
        summary = json.loads((run_dir / "summary.json").read_text())
        (run_dir / "summary.json").write_text(json.dumps({**summary, "best_by": "test", "best_epoch": 3}))
    alone = seed_run(tmp_path / "lr", SEEDS[0][1], "optim.lr=0.1", "run.keep_best=true")
    summary = json.loads((alone / "summary.json").read_text())
    (alone / "summary.json").write_text(json.dumps({**summary, "best_by": "test", "best_epoch": 3}))
    drawn = drawn_figures(monkeypatch)
    compare_runs([tmp_path], out=tmp_path / "c.png")
    rings = [line.get_label() for ax in drawn[0].axes for line in ax.lines if "kept" in line.get_label()]
    assert rings == ["lr: kept epoch 3 (best test acc)"]


def test_a_group_whose_run_reports_a_nan_figure_shows_it_as_a_run_of_its_own_would(tmp_path, capsys):
    # statistics.stdev raises on a NaN: compare ended in a traceback where --per-run printed the run's "nan%"
    rows = [dict(row) for row in SEEDS[1][1]]
    rows[-1]["test_accuracy"] = float("nan")  # (json writes it as NaN, and reads it back)
    seed_run(tmp_path / "sat-s0", SEEDS[0][1], "run.seed=0")
    seed_run(tmp_path / "sat-s1", rows, "run.seed=1")
    assert main(["compare", str(tmp_path), "--per-run", "--out", str(tmp_path / "p.png")]) == 0
    assert "nan%" in capsys.readouterr().out
    assert main(["compare", str(tmp_path), "--out", str(tmp_path / "c.png")]) == 0
    cells = re.split(r" {2,}", capsys.readouterr().out.splitlines()[2])
    assert cells[0] == "sat (seeds 0, 1)" and cells[4] == "nan ± nan%"
    assert cells[6] == "72.5 ± 3.5%"  # the other figures as before


def test_a_group_whose_runs_trained_unequally_far_picks_each_runs_validation_epoch_up_to_the_last_all_have(
        tmp_path, capsys):
    # validation accuracy best at epoch 2 of the first two, where the third run has got to; at 3 past it
    val = {1: 0.50, 2: 0.60, 3: 0.70, 4: 0.10}
    rows = [{**row, "val_accuracy": val[row["epoch"]]} for row in SEEDS[1][1]]
    seed_run(tmp_path / "sat-s0", rows, "run.seed=0")
    seed_run(tmp_path / "sat-s1", rows, "run.seed=1")
    seed_run(tmp_path / "sat-s2", rows[:2], "run.seed=2", finished=False)
    assert main(["compare", str(tmp_path), "--out", str(tmp_path / "c.png")]) == 0
    cells = re.split(r" {2,}", capsys.readouterr().out.splitlines()[2])
    assert cells[0] == "sat (seeds 0, 1, 2)" and cells[3] == "2/4 (runs at 2–4)"
    assert cells[6:8] == ["60.0 ± 0.0% (ep 2)", "55.0 ± 0.0%"]  # epoch 2's, in every run


def test_a_group_with_an_unfinished_run_is_unfinished_though_all_have_trained_as_far(tmp_path, capsys):
    seed_run(tmp_path / "sat-s0", SEEDS[0][1], "run.seed=0")
    seed_run(tmp_path / "sat-s1", SEEDS[1][1], "run.seed=1", finished=False)  # its last epoch ran, no summary yet
    assert main(["compare", str(tmp_path), "--out", str(tmp_path / "c.png")]) == 0
    cells = re.split(r" {2,}", capsys.readouterr().out.splitlines()[2])
    assert cells[0] == "sat (seeds 0, 1)" and cells[3] == "4/4 (unfinished)"


def test_a_group_draws_no_given_labels_line_where_a_run_of_it_cannot_tell_its_noise(tmp_path, monkeypatch):
    # the unfinished run has no labels.npz: a line at the others' mean would stand for runs it does not cover
    seed_run(tmp_path / "sat-s0", SEEDS[0][1], "run.seed=0", actual_rate=0.38)
    seed_run(tmp_path / "sat-s1", SEEDS[1][1], "run.seed=1", finished=False)
    drawn = drawn_figures(monkeypatch)
    _, table, _ = compare_runs([tmp_path], out=tmp_path / "c.png")
    assert re.split(r" {2,}", table.splitlines()[2])[2] == "—"
    targets_ax = drawn[0].axes[-1]
    assert [line.get_label() for line in targets_ax.lines if "targets" in line.get_label()]
    assert not [line for line in targets_ax.lines if "given labels" in line.get_label()]


def test_a_group_tested_at_one_epoch_shows_its_runs_spread_there(tmp_path, monkeypatch):
    # a band between the lowest and highest run over one epoch has no width: a group of one-epoch runs (or of runs
    # evaluated once, run.eval_every) was drawn as its mean's dot alone, though its legend said it was shaded
    from matplotlib.collections import LineCollection

    for seed, accuracy in ((0, 0.2), (1, 0.3)):
        seed_run(tmp_path / f"ce-s{seed}", [{"epoch": 1, "test_accuracy": accuracy, "epoch_seconds": 1.0}],
                 f"run.seed={seed}", "run.epochs=1", "method.name=erm")
    drawn = drawn_figures(monkeypatch)
    compare_runs([tmp_path], out=tmp_path / "c.png")
    (bar,) = [c for c in drawn[0].axes[0].collections if isinstance(c, LineCollection)]
    assert [list(point) for point in bar.get_segments()[0]] == [[1, 20], [1, 30]]


def test_every_curve_band_and_ring_of_a_plot_of_ten_runs_reads_on_white(tmp_path, monkeypatch):
    # the third run was drawn pale grey (2.3:1 against white), the eighth light blue (1.7:1), the ninth and tenth
    # light orange and lighter grey: curves, bands and rings faint on white
    from matplotlib.collections import PolyCollection

    for seed, rows, rate in SEEDS:  # one group of three seeds, shaded
        seed_run(tmp_path / f"sat-s{seed}", rows, f"run.seed={seed}", actual_rate=rate)
    for i in range(9):  # and nine runs of their own, each ringed at the epoch it keeps
        run_dir = seed_run(tmp_path / f"lr{i}", SEEDS[0][1], f"optim.lr={0.01 * (i + 1)}", "run.keep_best=true")
        summary = json.loads((run_dir / "summary.json").read_text())
        (run_dir / "summary.json").write_text(json.dumps({**summary, "best_by": "test", "best_epoch": 3}))
    drawn = drawn_figures(monkeypatch)
    compare_runs([tmp_path], out=tmp_path / "c.png")
    lines = [line for ax in drawn[0].axes for line in ax.lines]
    assert sum("kept" in line.get_label() for line in lines) == 9
    colours = {line.get_color() for line in lines} | {line.get_markeredgecolor() for line in lines}
    bands = [band for ax in drawn[0].axes for band in ax.collections if isinstance(band, PolyCollection)]
    colours |= {tuple(colour[:3]) for band in bands for colour in band.get_facecolor()}
    assert bands and all(contrast_on_white(colour) >= 3 for colour in colours), [
        colour for colour in colours if contrast_on_white(colour) < 3]
