"""The README and the reference pages under docs/ match the code: the README's Python snippets run as written (with a
tiny model and loader standing in for the user's), the configuration reference lists every setting with its default
and values, the tables of a run's files name what a run writes, and the links between the pages lead somewhere."""

import re
from pathlib import Path

import pytest
import torch
from torch import nn

README = Path(__file__).parents[1] / "README.md"
DOCS = README.parent / "docs"
RUNS_DOC, CONFIG_DOC, SELECTIVE_DOC = DOCS / "runs.md", DOCS / "configuration.md", DOCS / "selective.md"


def all_pages() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def all_text() -> str:
    return "\n\n".join(page.read_text() for page in all_pages())


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_training_loop_snippet_runs():
    blocks = [b for b in python_blocks() if "SoftTargets(" in b]
    assert blocks, "README has no training-loop example"
    torch.manual_seed(0)
    x, labels = torch.randn(64, 5), torch.randint(0, 10, (64,))
    model = nn.Linear(5, 10)
    namespace = {
        "train_labels": labels,
        "model": model,
        "optimizer": torch.optim.SGD(model.parameters(), lr=0.1),
        "loader": [(x[i:i + 16], labels[i:i + 16], torch.arange(i, i + 16)) for i in range(0, 64, 16)],
        "epochs": 3,
        "start_epoch": 1,
    }
    exec(compile(blocks[0], str(README), "exec"), namespace)
    assert namespace["refined_label"].shape == (64,)
    assert (namespace["targets"].targets.max(dim=1).values < 1).all()


def test_readme_label_issue_snippet_runs(tmp_path, capsys):
    from fixtures import tiny_overrides
    from satlearn.config import load_config
    from satlearn.engine import fit

    (block,) = [b for b in python_blocks() if "find_label_issues" in b]
    run_dir = tmp_path / "sat"
    fit(load_config(None, tiny_overrides(tmp_path, "data.noise.kind=symmetric", "data.noise.rate=0.4")), run_dir)
    namespace: dict = {}
    exec(compile(block.replace("runs/demo-20261124-101500/sat", str(run_dir)), str(README), "exec"), namespace)
    assert namespace["issues"].probs.shape == (320, 10)
    (header,) = re.findall(r"It writes `label_issues.csv` \(`([a-z_,]+)`", README.read_text())
    assert namespace["csv_text"].splitlines()[0] == header


def test_readme_selective_predictor_snippet_runs(tmp_path):
    from fixtures import tiny_overrides
    from satlearn.config import load_config
    from satlearn.data import load_dataset
    from satlearn.engine import fit
    from satlearn.errors import DataError

    (block,) = [b for b in python_blocks() if "SelectivePredictor.from_run(" in b]
    config = load_config(None, tiny_overrides(tmp_path, "method.name=selective_sat"))
    run_dir = fit(config, tmp_path / "sel-sat", log=lambda message: None).run_dir
    x_test = load_dataset(config.data).x_test
    namespace = {"x": x_test}
    exec(compile(block.replace("runs/sel-sat", str(run_dir)), str(README), "exec"), namespace)
    classes, abstain = namespace["classes"], namespace["abstain"]
    assert classes.shape == abstain.shape == (len(x_test),)
    assert namespace["accepted"].shape == (int((~abstain).sum()),) and namespace["predictor"].coverage == 0.9
    # raw=True undoes what a CSV or .npz source did to its file; MNIST-1D's inputs have no file of the user's
    readme = " ".join(README.read_text().split())
    assert "For a run on a CSV or `.npz` file, `predictor.predict(x, raw=True)`" in readme
    with pytest.raises(DataError, match="raw=True: the mnist1d source does not standardise"):
        namespace["predictor"].predict(x_test, raw=True)


def test_readme_own_method_and_model_train_from_python_and_through_the_cli(tmp_path, monkeypatch):
    import shlex
    import subprocess
    import sys

    import numpy as np

    from fixtures import tiny_overrides
    from satlearn.yaml_text import read_yaml, write_yaml
    from satlearn.methods import METHODS
    from satlearn.models import MODELS

    (module,) = [b for b in python_blocks() if "@METHODS.register(" in b]
    (usage,) = [b for b in python_blocks() if "import my_methods" in b]
    (command,) = re.findall(r"^satlearn --import my_methods .*$", README.read_text(), flags=re.M)
    (tmp_path / "my_methods.py").write_text(module)
    # the snippet registers into the global registries: this test's registrations end with it
    monkeypatch.setattr(METHODS, "_entries", dict(METHODS._entries))
    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(README.parent)  # the snippet's configs/ path is the repository's
    listed = '"model.name=tiny_mlp"]'
    assert listed in usage
    namespace = {"tiny": tiny_overrides(tmp_path / "runs")}
    try:
        exec(compile(usage.replace(listed, '"model.name=tiny_mlp", *tiny]'), str(README), "exec"), namespace)
    finally:
        sys.modules.pop("my_methods", None)
    result = namespace["result"]
    assert result.summary["method"] == "bootstrap" and result.summary["model"] == "tiny_mlp"
    assert (np.load(result.run_dir / "soft_targets.npy").max(axis=1) < 1).any()  # the targets moved
    # the run records the setting it trained with, its default here
    default_beta = METHODS.get("bootstrap").Settings().beta
    assert read_yaml((result.run_dir / "config.yaml").read_text())["method"]["settings"] == {"beta": default_beta}

    config = {"method": {"name": "bootstrap"}, "model": {"name": "tiny_mlp"}}
    (tmp_path / "my.yaml").write_text(write_yaml(config))
    parts = shlex.split(command)
    assert parts[0] == "satlearn" and parts[4:6] == ["--config", "my.yaml"]
    (beta_set,) = [part for part in parts if part.startswith("method.settings.beta=")]
    beta = read_yaml(beta_set.split("=", 1)[1])
    assert beta != default_beta  # the command changes it from its default
    sets = [f"--set={override}" for override in tiny_overrides(tmp_path / "cli-runs", "run.name=bootstrap")]
    # as the installed script starts: the current directory is not on sys.path, as it is for python -c or -m
    script = "import sys; sys.path.remove(''); from satlearn.cli import main; sys.exit(main())"
    done = subprocess.run([sys.executable, "-c", script, *parts[1:], *sets], cwd=tmp_path, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    run_dir = tmp_path / "cli-runs" / "bootstrap"
    assert (run_dir / "soft_targets.npy").exists()
    saved = read_yaml((run_dir / "config.yaml").read_text())["method"]["settings"]
    assert saved == {"beta": beta} and isinstance(saved["beta"], float)


MY_SOURCE = '''
import torch
import satlearn

@satlearn.data.SOURCES.register("my_source")
def my_source(config):
    x, y = torch.randn(120, 6, generator=torch.Generator().manual_seed(0)), torch.arange(120) % 3
    return satlearn.data.DatasetSplits(x_train=x[:90], y_train=y[:90], x_test=x[90:], y_test=y[90:], num_classes=3,
                                       class_names=["a", "b", "c"], kind="tabular", name="mine")
'''


def test_readme_a_data_source_of_ones_own_reaches_the_command_line_with_import(tmp_path, monkeypatch, capsys):
    import sys

    from fixtures import tiny_overrides
    from satlearn.cli import main
    from satlearn.data import SOURCES

    readme = " ".join(README.read_text().split())
    assert ('a data source of your own, registered with `@satlearn.data.SOURCES.register("my_source")`, lets a run '
            "load its data by itself instead, also on the command line with `--import`") in readme
    (tmp_path / "my_source.py").write_text(MY_SOURCE)
    monkeypatch.setattr(SOURCES, "_entries", dict(SOURCES._entries))  # this test's registration ends with it
    monkeypatch.syspath_prepend(str(tmp_path))
    sets = [f"--set={o}" for o in tiny_overrides(tmp_path, "data.source=my_source", "model.name=mlp", "run.name=r")]
    try:
        assert main(["--import", "my_source", "train", *sets]) == 0
        SOURCES._entries.pop("my_source")  # as in a new process
        sys.modules.pop("my_source")
        assert main(["eval", str(tmp_path / "r")]) == 2
        assert "satlearn --import MODULE" in capsys.readouterr().err
        assert main(["--import", "my_source", "eval", str(tmp_path / "r")]) == 0
    finally:
        sys.modules.pop("my_source", None)


def key_table() -> str:
    """docs/configuration.md's table of every key, up to the next section."""
    return CONFIG_DOC.read_text().split("\n## Every key\n")[1].split("\n## ")[0]


def test_the_configuration_reference_lists_every_key_with_its_default():
    """Each row names one key or several (`data.url`, `data.sha256`), and gives their defaults in the same order."""
    from satlearn.config import Config, to_dict
    from satlearn.yaml_text import read_yaml

    section = key_table()
    documented = {}
    for row in (line for line in section.splitlines() if line.startswith("| `")):
        key_cell, default_cell = (cell.strip() for cell in row.strip("|").split("|")[:2])
        keys = re.findall(r"`([a-z_]+\.[a-z0-9_.]+)`", key_cell)
        defaults = re.findall(r"`([^`]*)`", default_cell)
        for i, key in enumerate(keys):
            documented[key] = defaults[i] if len(defaults) == len(keys) else defaults[0]

    def leaves(tree, prefix=""):
        for name, value in tree.items():
            if isinstance(value, dict) and value:  # an empty mapping (method.settings) is one setting
                yield from leaves(value, f"{prefix}{name}.")
            else:
                yield f"{prefix}{name}", value

    defaults = dict(leaves(to_dict(Config())))
    assert sorted(set(defaults) - set(documented)) == []  # every setting is documented
    assert sorted(set(documented) - set(defaults)) == []  # and nothing else
    wrong = {key: (documented[key], value) for key, value in defaults.items() if read_yaml(documented[key]) != value}
    assert wrong == {}


def reference_meanings() -> dict[str, str]:
    """The default and meaning cells of each key of the configuration reference, as one text (a row of several keys
    gives each the same; a default such as `float32` is one of the values a setting takes)."""
    section = key_table()
    meanings = {}
    for row in (line for line in section.splitlines() if line.startswith("| `")):
        key_cell, default, meaning = (cell.strip() for cell in row.strip("|").split("|")[:3])
        meanings.update(dict.fromkeys(re.findall(r"`([a-z_]+\.[a-z0-9_.]+)`", key_cell), f"{default} | {meaning}"))
    return meanings


def test_readme_refuses_only_what_load_config_refuses_of_a_setting_switched_off():
    from satlearn.config import load_config
    from satlearn.errors import ConfigError

    readme = " ".join(README.read_text().split())
    (example,) = re.findall(r"other than its default \(`--set (data\.noise\.rate=[\d.]+)` without label noise",
                            readme)
    with pytest.raises(ConfigError, match="has no effect with data.noise.kind=none"):
        load_config(None, [example])
    load_config(None, ["data.noise.rate=0.0"])  # its default, which changes nothing, passes


def test_the_configuration_reference_lists_every_value_a_setting_takes():
    from satlearn.config import _CHOICES, named_registries
    from satlearn.methods import METHODS

    meanings = reference_meanings()
    choices = {**_CHOICES, **{key: registry.names() for key, registry in named_registries()}}
    unlisted = {key: [value for value in values if f"`{value}`" not in meanings[key]]
                for key, values in choices.items()}
    assert {key: values for key, values in unlisted.items() if values} == {}
    # method.loss: "`erm`: `ce`, `sce` (...); `sat`: ..." gives each built-in method's own losses
    listed = {}
    for part in meanings["method.loss"].split(" | ", 1)[1].split(";"):
        methods, losses = part.split(":", 1)
        listed.update(dict.fromkeys(re.findall(r"`([^`]+)`", methods), re.findall(r"`([^`]+)`", losses)))
    assert listed == {name: list(METHODS.get(name).losses) for name in METHODS.names()}


def test_the_configuration_reference_gives_each_models_default_width():
    # "`mlp`: 256 hidden units; ...; `wrn28_10`: its widen factor, 10": a model built with the width given is the
    # model its default builds
    from satlearn.models import MODELS, create_model

    listed = {}
    for part in reference_meanings()["model.width"].split(" | ", 1)[1].split(":", 1)[1].split(";"):
        names, meaning = part.split(":", 1)
        listed.update(dict.fromkeys(re.findall(r"`([^`]+)`", names), int(re.search(r"\d+", meaning).group())))
    assert sorted(listed) == sorted(MODELS.names())
    for name, width in listed.items():
        shape = (40,) if name in ("mlp", "cnn1d") else (3, 32, 32)
        sizes = [sum(p.numel() for p in create_model(name, 10, input_shape=shape, width=w).parameters())
                 for w in (None, width)]
        assert sizes[0] == sizes[1], f"model.width of {name}: the README gives {width}"


def test_the_demo_table_shown_is_the_one_benchmarks_demo_py_recorded():
    # the README's sample output is a recorded run's, not typed: benchmarks/demo.py keeps what the demo printed
    import json

    shown = re.search(r"The demo prints a table like this.*?```\n(.*?)```", README.read_text(), re.S).group(1)
    recorded = json.loads((README.parent / "benchmarks" / "results" / "demo.json").read_text())["shipped_demo"]
    assert "printed" in recorded, "benchmarks/results/demo.json predates the printed table: run benchmarks/demo.py"
    assert [line.rstrip() for line in shown.splitlines() if line.strip()] == recorded["printed"]


def test_the_files_that_out_refuses_are_listed_as_the_code_has_them():
    from satlearn.engine.checkpoint import RUN_FILES

    text = " ".join(RUNS_DOC.read_text().split())
    listed = re.search(r"except the files training writes in a run directory \((.*?)\), which they refuse", text)
    assert listed and re.findall(r"`([^`]+)`", listed.group(1)) == list(RUN_FILES)


def run_directory_table() -> dict[str, str]:
    """File name → what docs/runs.md's table of a run directory says of it (a row of several files gives each the
    same)."""
    text = RUNS_DOC.read_text()
    table = text[text.index("## What a run directory holds"):].split("\n\n")[1]
    rows = {}
    for row in table.splitlines()[2:]:
        files, what = (cell.strip() for cell in row.strip("|").split("|"))
        rows.update(dict.fromkeys(re.findall(r"`([^`]+)`", files), what))
    return rows


def test_the_run_directory_table_lists_the_files_and_fields_a_run_writes(finished_sat_run):
    import csv
    import json

    import numpy as np

    from satlearn.engine.checkpoint import RUN_FILES

    rows = run_directory_table()
    assert sorted(rows) == sorted(RUN_FILES)
    # all but best_model.pt, which a run keeps with run.keep_best only (the table says so)
    assert sorted(path.name for path in finished_sat_run.iterdir()) == sorted(set(RUN_FILES) - {"best_model.pt"})
    assert rows["best_model.pt"].startswith("only with `run.keep_best: true`")
    (header,) = re.findall(r"`(index,[a-z_,]+)`", rows["refined_labels.csv"])
    with open(finished_sat_run / "refined_labels.csv", newline="") as f:
        assert next(csv.reader(f)) == header.split(",")
    named = re.findall(r"`([a-z_]+)`", rows["labels.npz"])
    with_a_validation_split = {"train_index", "val_index"}  # (a run without one, as this, has neither)
    assert with_a_validation_split <= set(named)
    assert sorted(np.load(finished_sat_run / "labels.npz").files) == sorted(set(named) - with_a_validation_split)
    summary = json.loads((finished_sat_run / "summary.json").read_text())
    introduced = re.findall(r"`([a-z_]+)`: ", rows["summary.json"])  # "(`label_issues`: how many ..."
    assert introduced and sorted(set(introduced) - set(summary)) == []
    runtime_text = rows["summary.json"].split("`runtime`: ")[1].split("`timing`")[0]
    assert sorted(set(summary["runtime"]) - set(re.findall(r"`([a-z_]+)`", runtime_text))) == []


def test_readme_names_the_files_of_a_run_in_training_and_those_it_writes_once_finished(finished_sat_run, tmp_path,
                                                                                      monkeypatch):
    # a run looked at while it trains (or after Ctrl-C) has no curves.png or targets yet: they come with summary.json
    from fixtures import interrupt_sat_in, tiny_overrides
    from satlearn.config import load_config
    from satlearn.engine import fit

    readme, runs_doc = (" ".join(page.read_text().split()) for page in (README, RUNS_DOC))
    said = [re.search(r"While it trains it holds (.*?); once finished also (.*?)\. ", readme),
            re.search(r"A run still training, or stopped, holds (.*?); it writes (.*?) once it has finished",
                      runs_doc)]
    assert all(said), "README or docs/runs.md no longer says which files a run holds before it has finished"
    interrupt_sat_in(monkeypatch, 1)
    config = load_config(None, tiny_overrides(tmp_path, "method.name=sat", "run.name=stopped"))
    with pytest.raises(KeyboardInterrupt):
        fit(config, log=lambda message: None)
    in_training = {path.name for path in (tmp_path / "stopped").iterdir()}
    for listed in said:
        training, finished = (set(re.findall(r"`([a-z_]+\.[a-z]+)`", part)) for part in listed.groups())
        assert in_training == training
        assert {path.name for path in finished_sat_run.iterdir()} == training | finished


def test_the_metrics_columns_are_listed_in_the_order_a_run_writes_them(finished_sat_run):
    import csv

    listed_part = run_directory_table()["metrics.csv"].split("in that column order")[0]
    listed = [name for name in re.findall(r"`([^`]+)`", listed_part) if re.fullmatch(r"[a-z_]+", name)]
    with open(finished_sat_run / "metrics.csv", newline="") as f:
        header = next(csv.reader(f))
    # every column is named, or is one of the method's training metrics (train_*)
    assert [c for c in header if c not in listed and not c.startswith("train_")] == []
    assert [c for c in listed if c in header] == [c for c in header if c in listed]


def test_the_keys_of_eval_json_are_the_ones_listed(finished_sat_run, tmp_path):
    from satlearn.engine import evaluate_run

    text = " ".join(RUNS_DOC.read_text().split())
    sentence = text[text.index("`eval.json` holds"):].split("; for an unfinished run")[0]
    listed = [name for name in re.findall(r"`([^`]+)`", sentence) if name != "eval.json"]
    assert sorted(listed) == sorted(evaluate_run(finished_sat_run, out=tmp_path / "eval.json"))


def test_the_keys_of_eval_val_json_are_the_ones_listed(tmp_path):
    from fixtures import tiny_overrides
    from satlearn.config import load_config
    from satlearn.engine import evaluate_run, fit

    text = " ".join(RUNS_DOC.read_text().split())
    sentence = text[text.index("`eval_val.json` (with `--best`"):].split("; a run that held out none")[0]
    listed = [name for name in re.findall(r"`([^`]+)`", sentence.split("which holds")[1])]
    config = load_config(None, tiny_overrides(tmp_path, "data.noise.kind=symmetric", "data.noise.rate=0.4",
                                              "data.val_size=40"))
    fit(config, tmp_path / "run", log=lambda message: None)
    assert sorted(listed) == sorted(evaluate_run(tmp_path / "run", split="val"))

def test_readme_splits_of_ones_own_train_and_evaluate_from_python(tmp_path, monkeypatch):
    from fixtures import tiny_overrides

    (block,) = [b for b in python_blocks() if "DatasetSplits(" in b]
    listed = '"data.noise.rate=0.2"]'
    assert listed in block
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(120, 6, generator=generator), torch.arange(120) % 3
    namespace = {"x_train": x[:90], "y_train": y[:90], "x_test": x[90:], "y_test": y[90:],
                 "tiny": tiny_overrides(tmp_path / "unused")[1:]}  # all but data.source, which the splits replace
    monkeypatch.chdir(tmp_path)
    exec(compile(block.replace(listed, f'{listed[:-1]}, *tiny]'), str(README), "exec"), namespace)
    result = namespace["result"]
    assert result.summary["data"] == "my table" and result.summary["data_given"] is True
    assert result.run_dir == Path("runs/my-table") and (tmp_path / "runs" / "my-table" / "eval.json").exists()



def test_readme_choosing_a_model_without_the_test_set_runs_as_shown(tmp_path, monkeypatch, capsys):
    import json
    import shlex

    from fixtures import tiny_overrides
    from satlearn.cli import main

    text = README.read_text()
    section = text[text.index("### Choosing a model without the test set"):text.index("## Finding wrong labels")]
    (block,) = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    lines = [line for line in block.splitlines() if line.startswith("satlearn ")]
    assert [shlex.split(line, comments=True)[1] for line in lines] == ["train", "train", "compare", "eval", "eval"]
    monkeypatch.chdir(tmp_path)
    # the recipes as shown, made tiny; the split of 1000 shrunk to fit the tiny training split
    tiny = [f"--set={override}" for override in tiny_overrides(tmp_path / "unused", "data.val_size=40")]
    outputs = []
    for line in lines:
        args = shlex.split(line.replace("configs/", f"{README.parent / 'configs'}/"), comments=True)[1:]
        assert main(args + tiny if args[0] == "train" else args) == 0, line
        outputs.append(capsys.readouterr().out)
    header = outputs[2].splitlines()[0]
    for column in re.findall(r"'([a-z ]+)'", lines[2].split("#")[1]):
        assert column in header
    run_dir = tmp_path / "runs" / "sat-val"
    validation = json.loads((run_dir / "summary.json").read_text())["validation"]
    for key in re.findall(r"`validation\.([a-z_]+)`", " ".join(section.split())):
        assert key in validation
    # the line the run ends with, as the section shows it, with this run's figures
    (shown,) = re.findall(r"`(best validation accuracy [^`]*)`", " ".join(section.split()))
    figures = iter([f"{100 * validation['best_accuracy']:.2f}", str(validation["best_epoch"]),
                    f"{100 * validation['test_accuracy_at_best_epoch']:.2f}"])
    assert re.sub(r"\d+(\.\d+)?", lambda number: next(figures), shown) in outputs[1].splitlines()
    picked = json.loads((run_dir / "eval_best.json").read_text())
    assert (picked["epoch"], picked["best_by"]) == (validation["best_epoch"], "val")
    assert picked["test_accuracy"] == pytest.approx(validation["test_accuracy_at_best_epoch"])
    scored = json.loads((run_dir / "eval_val_best.json").read_text())
    assert scored["epoch"] == validation["best_epoch"]
    assert scored["val_accuracy"] == pytest.approx(validation["best_accuracy"])

def test_readme_several_seeds_runs_as_shown(tmp_path, monkeypatch, capsys):
    import shlex

    from fixtures import tiny_overrides
    from satlearn.cli import main

    text = README.read_text()
    section = text[text.index("### Several seeds"):text.index("### Choosing a model without the test set")]
    (block,) = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    lines = [line.strip() for line in block.splitlines()]
    trains, compares = ([line for line in lines if line.startswith(f"satlearn {command}")]
                        for command in ("train", "compare"))
    seeds = re.search(r"^for seed in ([\d ]+);", block).group(1).split()
    monkeypatch.chdir(tmp_path)
    tiny = [f"--set={override}" for override in tiny_overrides(tmp_path / "unused")]
    for seed in seeds:
        for line in trains:
            assert main(shlex.split(line.replace("$seed", seed))[1:] + tiny) == 0, line
    capsys.readouterr()
    outputs = []
    for line in compares:
        assert main(shlex.split(line, comments=True)[1:]) == 0, line
        outputs.append(capsys.readouterr().out)
    grouped, per_run = ([line.split("  ")[0] for line in output.splitlines()[2:]] for output in outputs)
    named = re.findall(r"'([^']+)'", compares[0].split("#")[1])
    assert grouped[:len(named)] == named and len(per_run) >= 2 * len(seeds) + 1
    assert per_run[:2 * len(seeds)] == [f"{method}-s{seed}" for method in ("ce", "sat") for seed in seeds]


def test_the_selective_coverages_listed_are_the_ones_evaluated():
    from satlearn.evaluation.selective import PAPER_COVERAGES

    text = " ".join(SELECTIVE_DOC.read_text().split())
    listed = re.search(r"for each coverage in ([0-9, ]+) %", text)
    assert listed and [int(c) for c in listed.group(1).split(",")] == list(PAPER_COVERAGES)


def test_the_selective_split_sizes_given_are_the_ones_drawn():
    from satlearn.selective import paper_split

    readme, doc = (" ".join(page.read_text().split()) for page in (README, SELECTIVE_DOC))
    said = [re.search(r"a validation part \(([\d,]+) examples, or half of a test set of at most ([\d,]+)\)", readme),
            re.search(r"the first ([\d,]+) examples are a validation part .*?"
                      r"a test split of at most ([\d,]+) is halved", doc)]
    assert all(said), "README or docs/selective.md no longer gives the validation part's size"
    for listed in said:
        size, halved_up_to = (int(number.replace(",", "")) for number in listed.groups())
        assert len(paper_split(halved_up_to + 1)[0]) == size
        assert len(paper_split(halved_up_to)[0]) == halved_up_to // 2


def test_the_plot_names_selective_eval_refuses_as_out_are_listed():
    from satlearn.selective import _PLOT_SUFFIXES

    text = " ".join(SELECTIVE_DOC.read_text().split())
    listed = re.search(r"`--out` is a folder, so a name ending in (.*?) is refused", text)
    assert listed and re.findall(r"`([^`]+)`", listed.group(1)) == list(_PLOT_SUFFIXES)


def readme_command_lines() -> list[str]:
    """The ``satlearn ...`` lines of the shell examples in README and docs/, each as written (its trailing comment
    included)."""
    blocks = re.findall(r"```bash\n(.*?)```", all_text(), flags=re.S)
    return [line for block in blocks for line in block.splitlines() if line.startswith("satlearn ")]


def test_readme_command_examples_are_command_lines_satlearn_takes():
    import shlex

    from satlearn.cli import build_parser

    lines = readme_command_lines()
    assert len(lines) >= 10
    refused = []
    for line in lines:
        try:
            build_parser().parse_args(shlex.split(line, comments=True)[1:])
        except SystemExit:
            refused.append(line)
    assert refused == []


def test_the_batch_job_command_starts_or_resumes_one_named_run():
    # run again after a preemption or requeue, the job's one command must name the same run each time
    import shlex

    from satlearn.cli import build_parser

    (line,) = [line for line in readme_command_lines() if "$SLURM_ARRAY_TASK_ID" in line]
    args = build_parser().parse_args(shlex.split(line.replace("$SLURM_ARRAY_TASK_ID", "3"))[1:])
    assert (args.command, args.resume_existing, args.run_dir) == ("train", True, "runs/sat-seed3")
    assert args.overrides == ["run.seed=3"]


def test_every_option_of_every_command_is_documented():
    from satlearn.cli import build_parser

    text = all_text()
    commands = next(a for a in build_parser()._actions if a.dest == "command").choices
    options = {option for command in commands.values() for action in command._actions
               for option in action.option_strings if option.startswith("--") and option != "--help"}
    assert sorted(o for o in options if not re.search(rf"`[^`]*{re.escape(o)}(?![\w-])[^`]*`", text)) == []


def test_the_exit_statuses_given_are_the_ones_the_command_exits_with():
    import signal

    from satlearn import cli

    text = " ".join(RUNS_DOC.read_text().split())
    given = text[text.index("Every command exits with status"):].partition(" as shell tools do.")[0]
    assert "status 0 once" in given and "; 2 where it stops" in given
    assert f"{cli.INTERRUPTED} on Ctrl-C" in given and f"{cli.READER_LEFT} where the reader" in given
    for signum in cli.STOPPING_SIGNALS:  # as main ends on them
        assert f"{128 + signum} on {signal.Signals(signum).name}" in given
    readme = " ".join(README.read_text().split())
    assert (f"Exit statuses: 0 done, 2 an error (one line on stderr), {cli.INTERRUPTED} Ctrl-C, "
            f"{128 + signal.SIGTERM} SIGTERM, {128 + signal.SIGUSR1} SIGUSR1, {cli.READER_LEFT} a reader") in readme


def test_the_layout_lists_the_package_modules_that_exist():
    text = README.read_text()
    tree = re.search(r"## Layout\n\n```\n(.*?)```", text, flags=re.S).group(1)
    package = README.parent / "src" / "satlearn"
    listed, current = {}, None
    for line in tree.splitlines():
        entry, _, what = line.strip().partition("  ")
        if re.match(r"  \S", line):  # a module or subpackage of src/satlearn/
            for name in entry.split(", "):
                listed[name] = what
            current = entry
        elif line.startswith(" ") and current:  # the description of the entry above goes on
            listed[current] += " " + what.strip()
        elif entry:  # a folder of the repository
            assert (README.parent / entry).is_dir(), entry
    modules = {p.name for p in package.glob("*.py") if p.name != "__init__.py"}
    packages = {f"{p.parent.name}/" for p in package.glob("*/__init__.py")}
    assert sorted(listed) == sorted(modules | packages)
    for name, what in listed.items():
        folder = package / name if name.endswith("/") else package
        missing = [file for file in re.findall(r"\b([a-z_0-9]+\.py)\b", what) if not (folder / file).is_file()]
        assert missing == [], name


def heading_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation other than - and _ dropped, spaces as -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_relative_link_between_the_pages_leads_to_a_file_and_heading():
    pages = [*all_pages(), README.parent / "benchmarks" / "README.md"]
    anchors = {page.resolve(): {heading_anchor(h) for h in re.findall(r"^#+ (.+)$", page.read_text(), flags=re.M)}
               for page in pages}
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target):  # a web address
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page.resolve()
            if not file.exists() or (anchor and anchor not in anchors.get(file, set())):
                broken.append(f"{page.name}: {target}")
    assert broken == []
    # every reference page is reached from the README
    linked = {(README.parent / target.partition("#")[0]).resolve()
              for target in re.findall(r"\]\((docs/[^)\s]+)\)", README.read_text())}
    assert sorted(p.name for p in DOCS.glob("*.md") if p.resolve() not in linked) == []


def test_runs_doc_names_every_key_a_run_saved_before_it_existed_resumes_without():
    import yaml

    from satlearn.engine.trainer import KEYS_ADDED_SINCE

    text = " ".join(RUNS_DOC.read_text().split())
    said = re.search(r"A run saved before a key existed resumes where the key's value does what runs did before it "
                     r"\(([^)]*)\)", text)
    assert said, "docs/runs.md no longer says which keys a run saved before them resumes without"
    for key, value in KEYS_ADDED_SINCE.items():
        shown = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
        assert f"`{key}: {shown}`" in said.group(1), key


def own_loop_block() -> str:
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", (DOCS / "extending.md").read_text(), flags=re.S)
                if "class WithIndex(" in b]
    return block


def test_the_own_loop_of_the_extending_page_trains_and_resumes_bit_for_bit(tmp_path, monkeypatch):
    # int32 labels, as a dataset of NumPy's may hold them; 100 examples in batches of 16 with the last 4 dropped, and
    # gradients accumulated over 4 batches: the epoch's 6th batch steps with the 2 before it
    from torch.utils.data import TensorDataset

    monkeypatch.chdir(tmp_path)
    block = compile(own_loop_block(), str(DOCS / "extending.md"), "exec")
    x = torch.randn(100, 5, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(100, dtype=torch.int32) % 10

    def run(epochs, resume=False):
        torch.manual_seed(1)
        model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 10))
        namespace = {"train_set": TensorDataset(x, labels), "train_labels": labels, "model": model,
                     "optimizer": torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                     "device": torch.device("cpu"), "epochs": epochs, "start_epoch": 1, "seed": 7, "accumulate": 4,
                     "resume": resume}
        exec(block, namespace)
        return model, namespace["targets"]

    model, targets = run(4)
    assert (targets.table().max(dim=1).values < 1).sum() >= 90  # the rows of every batch moved
    run(2)
    resumed_model, resumed_targets = run(4, resume=True)
    assert torch.equal(resumed_targets.targets, targets.targets)
    assert all(torch.equal(a, b) for a, b in zip(resumed_model.state_dict().values(), model.state_dict().values()))


def test_the_readme_loop_fed_the_batches_of_fit_trains_as_fit_does(tmp_path, monkeypatch):
    import copy

    from fixtures import tiny_overrides
    from satlearn.config import load_config
    from satlearn.engine import fit
    from satlearn.methods.sat import SAT

    (block,) = [b for b in python_blocks() if "SoftTargets(" in b]
    seen, start = [], {}
    training_step = SAT.training_step

    def step(self, batch, epoch):
        start.setdefault("weights", copy.deepcopy(self.model.state_dict()))
        seen.append((epoch, [part.clone() for part in batch]))
        return training_step(self, batch, epoch)

    monkeypatch.setattr(SAT, "training_step", step)
    config = load_config(None, tiny_overrides(tmp_path, "model.name=mlp", "optim.name=adam", "optim.weight_decay=0",
                                              "optim.schedule=constant",
                                              "method.momentum=0.9", "data.noise.kind=symmetric",
                                              "data.noise.rate=0.4"))
    method = fit(config, tmp_path / "sat", log=lambda message: None).method
    assert {epoch for epoch, _ in seen} == {0, 1, 2} and config.method.start_epoch == 1

    class FitsBatches:  # each epoch's batches in the order fit drew them
        epoch = -1

        def __iter__(self):
            self.epoch += 1
            return iter([batch for epoch, batch in seen if epoch == self.epoch])

    model = copy.deepcopy(method.model).train()
    model.load_state_dict(start["weights"])
    namespace = {"train_labels": method.targets.labels, "model": model, "loader": FitsBatches(),
                 "optimizer": torch.optim.Adam(model.parameters(), lr=config.optim.lr), "epochs": config.run.epochs,
                 "start_epoch": config.method.start_epoch}
    exec(compile(block, str(README), "exec"), namespace)
    assert torch.equal(namespace["targets"].targets, method.targets.targets)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), method.model.state_dict().values()))


def test_a_satlearn_method_takes_the_step_in_a_loop_of_ones_own_as_the_extending_page_shows():
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", (DOCS / "extending.md").read_text(), flags=re.S)
                if "create_method(" in b]
    torch.manual_seed(0)
    x, labels = torch.randn(64, 5), torch.randint(0, 10, (64,))
    namespace = {"train_labels": labels, "model": nn.Linear(5, 10), "device": torch.device("cpu"), "epochs": 3,
                 "start_epoch": 1,
                 "loader": [(x[i:i + 16], labels[i:i + 16], torch.arange(i, i + 16)) for i in range(0, 64, 16)]}
    exec(compile(block, str(DOCS / "extending.md"), "exec"), namespace)
    method = namespace["method"]
    assert set(namespace["metrics"]) == {"loss", "accuracy", "confidence"}
    assert namespace["refined_label"].shape == (64,) and (method.targets.table().max(dim=1).values < 1).all()
    assert set(method.epoch_metrics()) == {"targets_moved", "mean_confidence"}
    assert {"model.weight", "targets.targets", "targets.labels"} <= set(method.state_dict())
