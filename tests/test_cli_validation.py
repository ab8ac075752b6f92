import json

from fixtures import tiny_overrides
from satlearn.cli import main


def sets(values):
    return [arg for value in values for arg in ("--set", value)]


def test_train_with_a_validation_split_ends_with_the_epoch_it_picks_and_the_test_accuracy_there(tmp_path, capsys):
    split, plain = tmp_path / "split", tmp_path / "plain"
    overrides = tiny_overrides(tmp_path, "data.noise.kind=symmetric", "data.noise.rate=0.4")
    assert main(["train", "--run-dir", str(split), *sets([*overrides, "data.val_size=40"])]) == 0
    lines = capsys.readouterr().out.splitlines()
    validation = json.loads((split / "summary.json").read_text())["validation"]
    final = next(i for i, line in enumerate(lines) if line.startswith("final test accuracy "))
    # against the given labels, as each epoch's line says of its validation accuracy
    assert lines[final + 1] == (f"best validation accuracy {100 * validation['best_accuracy']:.2f} % (given labels) "
                                f"at epoch {validation['best_epoch']} (test accuracy there "
                                f"{100 * validation['test_accuracy_at_best_epoch']:.2f} %)")
    # a run without a split has no such line
    assert main(["train", "--run-dir", str(plain), *sets(overrides)]) == 0
    assert "best validation accuracy" not in capsys.readouterr().out
