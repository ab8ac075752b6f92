"""``python -m satlearn``: the ``satlearn`` command, where its script is not on PATH."""

from satlearn.cli import command_line

command_line()
