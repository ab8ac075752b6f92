"""Paths as a user gives them: a leading ``~`` is a home directory, as a shell reads it; and paths as satlearn
writes them into a command for the user to paste, so that they are read back as the same paths."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from satlearn.errors import ConfigError


def user_path(value: str | os.PathLike) -> Path:
    """``value`` as a :class:`~pathlib.Path`, a ``~`` or ``~user`` it starts with read as that home directory (also
    where no shell expanded it: quoted, or from a config file or the environment).

    Only the text as given is looked at. pathlib drops a leading ``./``, and its ``expanduser`` would read ``./~x``
    as the home directory of a user ``x`` and raise where there is no such user; here ``./~x`` is the folder ``~x``
    in the current directory, given as an absolute path (:func:`literal_path`). A ``~user`` of no such user stays
    as it is: a path the caller reports missing in its own words. (``Path("./~x")`` has lost its ``./`` already:
    pass such a path as text.) A ``~`` of the user's own where the process has no home directory (on POSIX,
    ``HOME`` unset and no user entry, as in some containers) is a :class:`ConfigError` naming the path: left as it
    is, it would be a folder named ``~`` in the current directory."""
    text = os.fspath(value)
    if not text.startswith("~"):
        return literal_path(Path(text))
    separators = os.sep + (os.altsep or "")
    first = next((i for i, c in enumerate(text) if c in separators), len(text))
    if first == 1:  # ~ or ~/x: the user's own home
        return _home_directory(text) / text[first:].lstrip(separators)
    return Path(os.path.expanduser(text))


def _home_directory(text: str, system: str = os.name) -> Path:
    """The user's home directory, for the path ``text`` that starts with ``~`` (named in the error where there is
    none)."""
    try:
        return Path.home()
    except RuntimeError:  # pathlib's "Could not determine home directory"
        raise ConfigError(f"{text}: there is no home directory for this process to read ~ as"
                          f"{_why_no_home_directory(system)}; give the path without ~") from None


def _why_no_home_directory(system: str) -> str:
    """Where the home directory would have come from, in the words of ``system`` (``os.name``): Python reads it
    from different variables on POSIX and on Windows, and naming the wrong one would send the user looking there."""
    if system == "posix":
        return " (HOME is not set, and the user has no entry in the user database)"
    if system == "nt":
        return " (neither USERPROFILE nor HOMEPATH is set)"
    return ""


def literal_path(path: Path) -> Path:
    """``path`` made absolute where it is relative and its first part starts with ``~``, which
    :func:`user_path` would read as a home directory if given it again. pathlib writes a folder ``~x`` inside the
    current directory so (``Path(".") / "~x"`` is ``~x``): what satlearn joins to a user's path (a run named in
    ``run.out_dir=.``, a run found in a folder of runs given as ``.``) passes through here."""
    if not path.is_absolute() and path.parts and path.parts[0].startswith("~"):
        return Path.cwd() / path
    return path


def shell_quoted(text, system: str = os.name) -> str:
    """``text`` as one argument of a command to paste: POSIX shell quoting, or on Windows double quotes around a
    text that holds a character cmd.exe or PowerShell would read otherwise (a ``%`` may still expand in cmd.exe)."""
    text = str(text)
    if system == "nt":
        return f'"{text}"' if any(c in text for c in " \t&|<>^()%!;,=`'$@{}[]#") else text
    return shlex.quote(text)


def pasteable_path(path, system: str = os.name) -> str:
    """``path`` as one argument of a satlearn command to paste (:func:`shell_quoted`), read back as the folder it
    names. A relative path whose first part starts with ``~`` (a run ``~x`` found in the folder ``.``, which pathlib
    writes ``~x``) is written ``./~x``: quoting keeps a shell from expanding ``~x``, but :func:`user_path` would
    still read it as the home directory of a user ``x``. One that starts with ``-`` (a run ``-x``) is written ``./-x``
    too, which the command line would otherwise read as an option."""
    text = str(path)
    if text.startswith(("~", "-")):
        text = (".\\" if system == "nt" else "./") + text
    return shell_quoted(text, system)
