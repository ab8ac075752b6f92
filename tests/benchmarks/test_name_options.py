"""A benchmark script's --name names its result file, NAME.json in the results folder: a name that would put the file
elsewhere, or name it NAME.json.json, is refused in one line before anything is measured."""

import argparse
import ast

import pytest

from fixtures import BENCHMARKS, load_benchmark, parsed_options

# the scripts whose --name is the name of their result file
NAME_OPTION_SCRIPTS = ["checkpoint_cost", "compile_cache", "speed", "step_ops"]
NOT_FILE_NAMES = ["../x", "sub/x", "", ".", ".."]


@pytest.mark.parametrize("script", NAME_OPTION_SCRIPTS)
@pytest.mark.parametrize("name", [*NOT_FILE_NAMES, "x.json"])
def test_a_name_that_is_not_a_result_file_name_is_refused_in_one_line(script, name, monkeypatch, capsys):
    with pytest.raises(SystemExit) as stopped:
        parsed_options(script, [f"--name={name}"], monkeypatch)  # (stops once parsed, where nothing refused it)
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert stopped.value.code == 2
    assert error.startswith(f"{script}.py: error: argument --name: expected ") and error.endswith(f"got {name!r}")


def test_a_name_given_with_json_is_refused_with_the_name_to_give():
    with pytest.raises(argparse.ArgumentTypeError, match=r"without \.json.*\(say 'speed_cpu'\)"):
        load_benchmark("common").name_option("speed_cpu.json")


@pytest.mark.parametrize("name", [f"{name}.json" for name in NOT_FILE_NAMES])
def test_a_name_with_json_offers_no_name_that_would_be_refused_again(name):
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        load_benchmark("common").name_option(name)
    assert "say" not in str(refused.value)
    if "/" in name:  # refused for the path first: dropping .json alone would not do
        assert ".json" not in str(refused.value).partition(", got")[0]


@pytest.mark.parametrize("name", ["speed_h100-80gb-hbm3", "-cpu", ".draft", "..x", "v1.2"])
def test_a_name_that_keeps_the_file_in_the_results_folder_is_taken_as_given(name, tmp_path):
    # a leading - or . leaves the file in the folder: refusing it would refuse a name that works
    common = load_benchmark("common")
    assert common.name_option(name) == name
    assert common.record(name, {}, directory=tmp_path) == tmp_path / f"{name}.json"


def test_every_result_name_option_is_checked():
    # a new script's --name typed as a bare string would write wherever its value points
    checked, unchecked = set(), []
    for script in sorted(BENCHMARKS.glob("*.py")):
        for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "add_argument" and node.args
                    and getattr(node.args[0], "value", None) == "--name"):
                typed = next((k.value for k in node.keywords if k.arg == "type"), None)
                if isinstance(typed, ast.Name) and typed.id == "name_option":
                    checked.add(script.stem)
                else:
                    unchecked.append(script.name)
    assert not unchecked, f"--name options read without common.name_option: {', '.join(unchecked)}"
    assert checked == set(NAME_OPTION_SCRIPTS)
