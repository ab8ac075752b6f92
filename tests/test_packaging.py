"""The wheel and the sdist hold what an installed satlearn reads: every module and the recipes of configs/."""

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
RECIPES = sorted((ROOT / "configs").glob("*.yaml"))
# setuptools, in-process and without a build environment of its own: a second or two
BUILD = """
import sys, warnings
from setuptools import build_meta
from setuptools.warnings import SetuptoolsDeprecationWarning
warnings.simplefilter("error", SetuptoolsDeprecationWarning)  # what a later setuptools refuses to build
print(getattr(build_meta, "build_" + sys.argv[1])("dist"))
"""


def build(source: Path, kind: str) -> Path:
    done = subprocess.run([sys.executable, "-c", BUILD, kind], cwd=source, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return source / "dist" / done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """The files a build reads, copied: a build writes build/ and *.egg-info beside them."""
    copy = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "MANIFEST.in", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, copy / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("src", "configs", "docs", "tests"):
        shutil.copytree(ROOT / name, copy / name, ignore=ignore)
    return copy


@pytest.fixture(scope="module")
def wheel(source) -> Path:
    return build(source, "wheel")


def metadata(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
        return archive.read(name).decode().splitlines()


def test_the_metadata_builds_without_deprecated_fields(wheel):
    assert "License-Expression: MIT" in metadata(wheel)
    assert "License-File: LICENSE" in metadata(wheel)  # the MIT notice travels with every copy


def test_each_dependency_asks_for_a_release_that_has_what_satlearn_calls(wheel):
    oldest = {"pillow": (9, 1)}  # Image.Transpose (data/streaming.py) is new in Pillow 9.1
    for line in metadata(wheel):
        name, _, floor = line.removeprefix("Requires-Dist: ").partition(">=")
        if line.startswith("Requires-Dist: ") and name in oldest:
            assert tuple(int(part) for part in floor.split(".")) >= oldest.pop(name), line
    assert not oldest


def modules() -> set[str]:
    return {path.relative_to(ROOT / "src").as_posix() for path in (ROOT / "src" / "satlearn").rglob("*.py")}


# PEP 561: without it, mypy and pyright skip an installed satlearn's annotations ("missing library stubs or py.typed
# marker") and read every name a user imports from it as Any
TYPED = "satlearn/py.typed"


def package_files() -> set[str]:
    return modules() | {TYPED}


def test_the_wheel_holds_every_module_and_every_recipe(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = {name for name in archive.namelist() if ".dist-info/" not in name}
        assert names == package_files() | {f"satlearn/configs/{path.name}" for path in RECIPES}
        assert archive.read(TYPED) == b""  # the marker of a package typed in full, not a partial stub package
        for path in RECIPES:
            assert archive.read(f"satlearn/configs/{path.name}") == path.read_bytes(), path.name


def test_an_installed_satlearn_reads_its_recipes_by_name_anywhere(wheel, tmp_path):
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path / "site")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = ("import satlearn; from satlearn.config import load_config, shipped_config\n"
            "print(satlearn.__file__); print(shipped_config('cifar10_sat'))\n"
            "print(load_config('mnist1d_sat').method.name)")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    done = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    module, recipe, method = done.stdout.split()
    assert Path(module) == tmp_path / "site" / "satlearn" / "__init__.py"
    assert Path(recipe) == tmp_path / "site" / "satlearn" / "configs" / "cifar10_sat.yaml"
    assert method == "sat" and not any(elsewhere.iterdir())


def test_the_command_is_the_script_satlearn_and_python_m_satlearn(wheel, tmp_path):
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path / "site")
        scripts = next(name for name in archive.namelist() if name.endswith(".dist-info/entry_points.txt"))
        assert archive.read(scripts).decode().split() == ["[console_scripts]", "satlearn", "=",
                                                          "satlearn.cli:command_line"]
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    done = subprocess.run([sys.executable, "-m", "satlearn", "train", "--bad"], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("satlearn train: error: unrecognized arguments: --bad")


def test_the_sdist_holds_the_sources_and_the_recipes_and_builds_the_same_wheel(source, wheel, tmp_path):
    with tarfile.open(build(source, "sdist")) as sdist:
        files = {name.partition("/")[2] for name in sdist.getnames() if sdist.getmember(name).isfile()}
        sdist.extractall(tmp_path, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    assert {name for name in files if not name.startswith("src/satlearn.egg-info/")} == (
        {"PKG-INFO", "setup.cfg", "pyproject.toml", "README.md", "MANIFEST.in", "LICENSE"}
        | {f"src/{name}" for name in package_files()} | {f"configs/{path.name}" for path in RECIPES}
        | {f"docs/{path.name}" for path in (Path(__file__).parents[1] / "docs").glob("*.md")})
    with zipfile.ZipFile(build(next(tmp_path.iterdir()), "wheel")) as again, zipfile.ZipFile(wheel) as first:
        assert sorted(again.namelist()) == sorted(first.namelist())
