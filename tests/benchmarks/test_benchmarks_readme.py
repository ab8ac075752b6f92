"""benchmarks/README.md's commands are ones the scripts take: every `python benchmarks/<script>.py ...` in its code
blocks parses with that script's own options."""

import re
import shlex
from pathlib import Path

import pytest

from fixtures import BENCHMARKS, parsed_options

README = BENCHMARKS / "README.md"


def script_commands() -> list[tuple[str, list[str]]]:
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    commands = []
    for line in "\n".join(blocks).replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        for command in " ".join(words).split("&&"):  # (joined and split again: `a && b` holds two commands)
            parts = command.split()
            for at, word in enumerate(parts[:-1]):
                if word == "python" and parts[at + 1].startswith("benchmarks/"):
                    rest = parts[at + 2:]
                    ends = [i for i, w in enumerate(rest) if w in (">", "2>&1", "&")]
                    commands.append((Path(parts[at + 1]).stem, rest[:ends[0]] if ends else rest))
    return commands


def test_the_page_has_commands_for_the_cpu_and_the_gpu():
    scripts = {script for script, _ in script_commands()}
    assert {"demo", "selective", "label_issues", "step_ops", "speed", "label_noise", "report"} <= scripts


@pytest.mark.parametrize("script, argv", script_commands(), ids=lambda value: " ".join(value) if isinstance(
    value, list) else value)
def test_each_command_on_the_page_parses(script, argv, monkeypatch):
    assert (BENCHMARKS / f"{script}.py").is_file()
    parsed_options(script, argv, monkeypatch)  # a script exits with status 2 on an option it lacks
