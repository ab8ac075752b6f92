import os
import re
import shlex
from pathlib import Path

import pytest

from satlearn.errors import ConfigError
from satlearn.paths import pasteable_path, shell_quoted, user_path


def test_only_a_tilde_the_text_starts_with_is_a_home_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert user_path("~/run") == tmp_path / "home" / "run"
    assert user_path(Path("~/run")) == tmp_path / "home" / "run"
    assert user_path("./~x") == tmp_path / "~x"  # a folder of the current directory, not user x's home
    assert user_path(".//~x/run") == tmp_path / "~x" / "run"
    assert user_path("runs/~x") == Path("runs/~x")


def test_a_home_of_no_such_user_stays_as_it_is():
    assert user_path("~satlearn-no-such-user/run") == Path("~satlearn-no-such-user/run")


@pytest.mark.skipif(os.name != "posix", reason="a user's home directory from the passwd database")
def test_a_tilde_with_a_user_name_is_that_users_home_directory(monkeypatch):
    import pwd

    try:
        user = pwd.getpwuid(os.getuid())
    except KeyError:
        pytest.skip("the user has no passwd entry")
    monkeypatch.setenv("HOME", "/elsewhere")  # the named user's home, not $HOME
    assert user_path(f"~{user.pw_name}/run") == Path(user.pw_dir) / "run"


def test_without_a_home_directory_a_tilde_of_the_users_own_is_refused_naming_the_path(monkeypatch):
    # left as it is, ~/runs would be a folder named ~ in the current directory
    from fixtures import without_a_home_directory

    without_a_home_directory(monkeypatch)
    for text in ("~", "~/runs", "~//runs/a"):
        with pytest.raises(ConfigError, match=rf"^{re.escape(text)}: there is no home directory for this process to "
                                              r"read ~ as( \([^()]*\))?; give the path without ~$"):
            user_path(text)
    # a ~user of no such user is a folder of that name, home directory or not; ./~ is the folder ~ here
    assert user_path("~satlearn-no-such-user/run") == Path("~satlearn-no-such-user/run")
    assert user_path("./~/runs") == Path.cwd() / "~" / "runs"


@pytest.mark.parametrize("system, why", [
    ("posix", r" \(HOME is not set, and the user has no entry in the user database\)"),
    ("nt", r" \(neither USERPROFILE nor HOMEPATH is set\)"),  # Windows reads no HOME
    ("java", ""),  # of a system whose variables are not known, none is named
])
def test_without_a_home_directory_the_error_names_only_what_the_system_reads_it_from(system, why, monkeypatch):
    from fixtures import without_a_home_directory
    from satlearn.paths import _home_directory

    without_a_home_directory(monkeypatch)
    with pytest.raises(ConfigError, match=rf"^~/runs: there is no home directory for this process to read ~ as{why}; "
                                          r"give the path without ~$"):
        _home_directory("~/runs", system)


def test_a_path_read_again_is_the_same_path(tmp_path, monkeypatch):
    # a function that expands its argument hands it on to others that expand theirs: a ./~root read as given
    monkeypatch.chdir(tmp_path)
    for text in ("./~root", "~/run", "~satlearn-no-such-user/run", "runs/r"):
        assert user_path(user_path(text)) == user_path(text), text


def test_an_empty_path_is_the_current_directory_as_pathlib_reads_it():
    # an empty --config or RUN_DIR is then named by the command that reads it, not a crash in here
    assert user_path("") == Path("")


def test_a_command_to_paste_is_quoted_for_the_shell_of_the_system():
    assert shell_quoted("/runs/my run", "posix") == "'/runs/my run'"
    # cmd.exe takes single quotes literally: double quotes where a character would be read otherwise
    assert shell_quoted(r"C:\runs\my run", "nt") == r'"C:\runs\my run"'
    assert shell_quoted(r"C:\runs\a&b", "nt") == r'"C:\runs\a&b"'
    assert shell_quoted(r"C:\runs\sat", "nt") == r"C:\runs\sat"
    assert pasteable_path(Path("/runs/my run"), "posix") == "'/runs/my run'"


@pytest.mark.parametrize("character", list(" \t&|<>^()%!;,=`'$@{}[]#"))
def test_a_path_for_windows_is_quoted_where_it_holds_a_character_cmd_or_powershell_reads(character):
    # each of these ends, splits or expands an argument in cmd.exe or PowerShell
    assert shell_quoted(rf"C:\runs\a{character}b", "nt") == rf'"C:\runs\a{character}b"'


def test_a_pasted_path_that_starts_with_a_dash_is_no_option():
    # the run -x inside . is -x to pathlib: pasted as it is, argparse would read it as an option
    assert pasteable_path(Path(".") / "-x", "posix") == "./-x"
    assert pasteable_path(Path("-x") / "my run", "posix") == "'./-x/my run'"
    assert pasteable_path(r"-x\run", "nt") == r".\-x\run"
    assert pasteable_path(Path("runs/-x"), "posix") == "runs/-x"


def test_a_pasted_path_whose_first_part_starts_with_a_tilde_is_read_back_as_that_folder(tmp_path, monkeypatch):
    # the run ~x inside . is ~x to pathlib: pasted as it is, it would be the home directory of a user x
    monkeypatch.chdir(tmp_path)
    for path in (Path(".") / "~x", Path("~x") / "run", Path("~satlearn-no-such-user")):
        pasted = pasteable_path(path, "posix")
        assert pasted.startswith("'./~"), pasted
        assert user_path(shlex.split(pasted)[0]) == tmp_path / path
    assert pasteable_path(r"~x\run", "nt") == r".\~x\run"  # a ~ is no character cmd.exe reads: left unquoted
    assert pasteable_path(Path("runs/~x"), "posix") == shell_quoted("runs/~x", "posix")  # not a first part
