"""A benchmark script's --name names its result file, NAME.json in the results folder: a name that would put the file
elsewhere, name it NAME.json.json, or be too long for the results folder's filesystem, is refused in one line before
anything is measured."""

import argparse
import ast
import errno
import os
import sys

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


@pytest.mark.parametrize("name", ["sub/x", "sub\\x"])
def test_a_name_with_either_separator_of_a_system_that_has_two_is_refused_naming_both(name):
    # where the system has a second separator (a backslash on Windows), either one puts the file in another folder
    common = load_benchmark("common")
    common.NAME_SEPARATORS = ["/", "\\"]  # load_benchmark gives this test a module of its own to change
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        common.name_option(name)
    assert str(refused.value) == ("expected the name of a file in the results folder: not empty, '.' or '..', and "
                                  f"without '/' or '\\\\', got {name!r}")


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


@pytest.mark.parametrize("name", ["speed_h100-80gb-hbm3", "-cpu", ".draft", "..x", "v1.2", " padded "])
def test_a_name_that_keeps_the_file_in_the_results_folder_is_taken_as_given(name, tmp_path):
    # a leading - or . leaves the file in the folder: refusing it would refuse a name that works; spaces are the
    # file's own, not to be trimmed away
    common = load_benchmark("common")
    assert common.result_name_problem(name) is None
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
    # and, once --results-dir is known too, checked for length
    assert {script for script in checked if "check_result_name(parser" in (BENCHMARKS / f"{script}.py").read_text()
            } == checked


def longest_result_name(common, directory) -> int:
    """The most bytes of a name that ``common`` takes for a result in ``directory``."""
    limit = os.pathconf(directory, "PC_NAME_MAX")
    return next(size for size in range(limit, 0, -1)
                if common.result_name_length_problem("x" * size, directory) is None)


def test_the_longest_name_taken_is_written_and_one_byte_more_could_not_be(tmp_path):
    common = load_benchmark("common")
    longest = longest_result_name(common, tmp_path)
    assert common.record("x" * longest, {}, directory=tmp_path) == tmp_path / f"{'x' * longest}.json"
    with pytest.raises(OSError) as too_long:
        common.record("x" * (longest + 1), {}, directory=tmp_path)
    assert too_long.value.errno == errno.ENAMETOOLONG
    assert sorted(path.name for path in tmp_path.iterdir()) == [f"{'x' * longest}.json"]  # nothing half-written
    # counted in bytes as the filesystem stores them: fewer characters than that, of two bytes each, are too many
    two_bytes = "é"
    if len(os.fsencode(two_bytes)) != 2:
        pytest.skip(f"the filesystem encoding, {sys.getfilesystemencoding()}, stores é in other than two bytes")
    assert common.result_name_length_problem(two_bytes * (longest // 2), tmp_path) is None
    assert common.result_name_length_problem(two_bytes * (longest // 2 + 1), tmp_path) is not None


def test_where_the_filesystem_cannot_be_asked_255_bytes_are_taken_as_its_longest_name(tmp_path, monkeypatch):
    common = load_benchmark("common")
    monkeypatch.delattr(os, "pathconf")  # as on Windows
    assert common.name_max(tmp_path) == 255
    refused = common.result_name_length_problem("x" * 255, tmp_path)
    longest = int(refused.removeprefix("expected at most ").partition(" ")[0])
    assert common.result_name_length_problem("x" * longest, tmp_path) is None
    assert f"{longest} bytes on most filesystems" in (BENCHMARKS / "README.md").read_text()


class Reached(Exception):
    """Raised where a script, its options taken, first checks the results folder on its way to measuring."""


def run_until_measuring(script: str, argv: list[str], monkeypatch) -> None:
    """Runs ``script``'s ``main()`` with ``argv`` until it stops or raises :class:`Reached`: nothing is measured."""
    module = load_benchmark(script)

    def reached(*args, **kwargs):
        raise Reached

    monkeypatch.setattr(module, "check_results_dir", reached)
    monkeypatch.setattr(sys, "argv", [f"{script}.py", *argv])
    module.main()


@pytest.mark.parametrize("script", NAME_OPTION_SCRIPTS)
def test_a_name_too_long_for_the_results_folder_given_after_it_is_refused_in_one_line(script, tmp_path, monkeypatch,
                                                                                      capsys):
    # a filesystem that takes shorter names than the one the default results folder is on
    shorter = 40
    real_pathconf = os.pathconf
    monkeypatch.setattr(os, "pathconf", lambda path, setting: shorter if os.path.samefile(path, tmp_path)
                        else real_pathconf(path, setting))
    common = load_benchmark("common")
    longest = longest_result_name(common, tmp_path)
    assert longest < shorter
    name = "x" * (longest + 1)
    with pytest.raises(Reached):  # taken for the default results folder
        run_until_measuring(script, [f"--name={name}"], monkeypatch)
    with pytest.raises(SystemExit) as stopped:  # a results folder not made yet: its nearest existing parent's limit
        run_until_measuring(script, [f"--name={name}", "--results-dir", str(tmp_path / "new" / "results")],
                            monkeypatch)
    error = capsys.readouterr().err.strip().splitlines()
    assert stopped.value.code == 2
    assert error[-1].startswith(f"{script}.py: error: argument --name: expected at most {longest} bytes ({shorter} "
                                f"in a file name in {tmp_path / 'new' / 'results'}, ")
    assert error[-1].endswith(f"got {len(name)} bytes, {name!r}")
    with pytest.raises(Reached):
        run_until_measuring(script, [f"--name={'x' * longest}", "--results-dir", str(tmp_path)], monkeypatch)
