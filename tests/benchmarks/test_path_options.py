"""A benchmark script's path options read a leading ~ as the home directory, as satlearn reads the paths it is given,
also where no shell expanded it (quoted, or passed on from a script's variable)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures import BENCHMARKS, load_benchmark, parsed_options

# every path option of every benchmark script, as (script, option, the attribute argparse keeps it in)
PATH_OPTIONS = [
    ("checkpoint_cost", "--dir", "dir"), ("checkpoint_cost", "--results-dir", "results_dir"),
    ("compile_cache", "--archives-of", "archives_of"), ("compile_cache", "--results-dir", "results_dir"),
    ("curves", "--results-dir", "results_dir"), ("curves", "--runs-dir", "runs_dir"),
    ("curves", "--out-dir", "out_dir"), ("demo", "--results-dir", "results_dir"),
    ("label_issues", "--cifar10n", "cifar10n"), ("label_issues", "--results-dir", "results_dir"),
    ("label_noise", "--cifar10n", "cifar10n"), ("label_noise", "--runs-dir", "runs_dir"),
    ("label_noise", "--results-dir", "results_dir"), ("label_noise", "--report", "report"),
    ("prepare_cifar10", "--archive", "archive"), ("prepare_cifar10", "--labels", "labels"),
    ("prepare_cifar10", "--out", "out"),
    ("report", "--results-dir", "results_dir"), ("report", "--out", "out"),
    ("selective", "--runs-dir", "runs_dir"), ("selective", "--results-dir", "results_dir"),
    ("selective", "--out", "out"),
    ("speed", "--results-dir", "results_dir"),
    ("step_ops", "--results-dir", "results_dir"),
]


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A home directory of its own, and a current directory elsewhere, where a ~ left as it is would be a folder."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    return tmp_path / "home"


@pytest.mark.parametrize("script, option, attribute", PATH_OPTIONS)
def test_a_path_option_given_from_the_home_directory_is_read_there(script, option, attribute, home, monkeypatch):
    assert getattr(parsed_options(script, [option, "~/given"], monkeypatch), attribute) == home / "given"


@pytest.mark.parametrize("script, option, attribute", PATH_OPTIONS)
def test_a_path_option_given_as_dot_slash_tilde_is_a_folder_here(script, option, attribute, home, monkeypatch):
    # pathlib drops the ./, which would leave ~x: another user's home once read again (by satlearn, say)
    assert getattr(parsed_options(script, [option, "./~x"], monkeypatch), attribute) == Path.cwd() / "~x"


@pytest.mark.parametrize("script, option, attribute", PATH_OPTIONS)
@pytest.mark.parametrize("empty", ["", " "])
def test_a_path_option_given_empty_is_refused_in_one_line(script, option, attribute, empty, monkeypatch, capsys):
    # an unset shell variable: read as a path it is the current directory, where a report of nothing or stray
    # results would be written
    with pytest.raises(SystemExit) as stopped:
        parsed_options(script, [option, empty], monkeypatch)
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (f"{script}.py: error: argument {option}: expected a "
                                                                f"path, got {empty!r}")


def test_every_path_option_is_read_by_the_shared_function():
    # a new option typed as a bare Path would take a quoted ~ as a folder of that name
    bare = []
    for script in sorted(BENCHMARKS.glob("*.py")):
        for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "add_argument"):
                typed = next((k.value for k in node.keywords if k.arg == "type"), None)
                if isinstance(typed, ast.Name) and typed.id == "Path":
                    bare.append(f"{script.name} {node.args[0].value}")
    assert not bare, f"path options read without common.path_option: {', '.join(bare)}"
    assert {script for script, _, _ in PATH_OPTIONS} <= {p.stem for p in BENCHMARKS.glob("*.py")}


def test_a_report_asked_for_in_the_home_directory_is_written_there(home):
    (home / "results").mkdir(parents=True)
    done = subprocess.run([sys.executable, str(BENCHMARKS / "report.py"), "--results-dir", "~/results",
                           "--out", "~/RESULTS.md"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (home / "RESULTS.md").is_file() and not any(Path.cwd().iterdir())  # no folder ~ made here


def test_report_none_is_no_report_and_a_path_to_a_file_named_none_is_that_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    grid = load_benchmark("label_noise")
    assert grid.report_path(parsed_options("label_noise", ["--report", "none"], monkeypatch)) is None
    for path in ("./none", "None", " none"):  # the file, not the word: only `none` exactly is
        named = parsed_options("label_noise", ["--report", path], monkeypatch)
        assert grid.report_path(named).resolve() == tmp_path / path, path
