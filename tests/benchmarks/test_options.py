"""Every command-line option of a benchmark script says in its --help what it does."""

import ast
from pathlib import Path

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"


def options_without_help(source: str) -> list[str]:
    """The first name of each ``add_argument(...)`` call (on any parser) in ``source`` that has no ``help=``."""
    lacking = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "add_argument"):
            continue
        if any(keyword.arg == "help" for keyword in node.keywords):
            continue
        names = [arg.value for arg in node.args if isinstance(arg, ast.Constant)]
        lacking.append(names[0] if names else f"line {node.lineno}")
    return lacking


def test_the_check_finds_an_option_without_help():
    source = ("parser.add_argument('--kept', help='said')\n"
              "group.add_argument('--bare', default=1)\n"
              "parser.add_argument('--hidden', help=argparse.SUPPRESS)\n")
    assert options_without_help(source) == ["--bare"]


def test_every_benchmark_option_has_help_text():
    scripts = sorted(BENCHMARKS.glob("*.py"))
    assert scripts, f"no benchmark scripts in {BENCHMARKS}"
    lacking = [f"{script.name} {option}" for script in scripts
               for option in options_without_help(script.read_text(encoding="utf-8"))]
    assert not lacking, f"options without help= text: {', '.join(lacking)}"
