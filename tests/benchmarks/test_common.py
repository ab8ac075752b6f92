"""Provenance of recorded results: the commit is BENCH_COMMIT where set, else git's HEAD."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures import load_benchmark

COMMON = Path(__file__).parents[2] / "benchmarks" / "common.py"


def test_commit_comes_from_git_in_a_checkout(monkeypatch):
    common = load_benchmark("common")
    monkeypatch.delenv("BENCH_COMMIT", raising=False)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=common.ROOT, capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("the tests run outside a git checkout")
    assert common.git_commit().startswith(head.stdout.strip())


def test_bench_commit_names_the_commit_with_git_or_without(monkeypatch, tmp_path):
    # a remote machine's copy of the tree may carry git metadata of an older commit: the one named wins
    common = load_benchmark("common")
    monkeypatch.setenv("BENCH_COMMIT", "0123456789abcdef")
    assert common.git_commit() == "0123456789abcdef"
    monkeypatch.setattr(common, "ROOT", tmp_path)  # not a git checkout
    assert common.git_commit() == "0123456789abcdef"
    monkeypatch.delenv("BENCH_COMMIT")
    assert common.git_commit() == "unknown"


def test_records_say_how_full_the_compiler_cache_was_when_the_benchmark_started(monkeypatch, tmp_path):
    cache = tmp_path / "compile_cache"
    (cache / "triton" / "0").mkdir(parents=True)
    (cache / "fxgraph.bin").write_bytes(b"x")
    (cache / "triton" / "0" / "kernel.cubin").write_bytes(b"y")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(cache))
    common = load_benchmark("common")  # the count is taken when the module loads, before anything compiles
    (cache / "later.bin").write_bytes(b"z")
    path = common.record("probe", {"value": 1}, directory=tmp_path)
    import json

    assert json.loads(path.read_text())["compiler_cache_at_start"] == {"dir": str(cache), "files": 2}
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "absent"))
    assert load_benchmark("common").COMPILER_CACHE_AT_START["files"] == 0


def test_a_packed_compiler_cache_unpacks_elsewhere_with_tritons_groups_pointing_there(tmp_path):
    import json

    common = load_benchmark("common")
    cache = tmp_path / "here" / "cache"
    kernels = cache / "triton" / "ABC"
    kernels.mkdir(parents=True)
    (kernels / "k.cubin").write_bytes(b"binary")
    (kernels / "k.json").write_text("{}")
    outside = str(tmp_path / "elsewhere" / "x.cubin")  # a member outside the cache keeps its path
    group = {"child_paths": {"k.cubin": str(kernels / "k.cubin"), "k.json": str(kernels / "k.json"), "x": outside}}
    (kernels / "__grp__k.json").write_text(json.dumps(group))
    (cache / "fxgraph.bin").write_bytes(b"graph")
    assert common.pack_compiler_cache(cache, tmp_path / "cache.tgz") == 4

    moved = tmp_path / "there" / "cache"
    assert common.unpack_compiler_cache(tmp_path / "cache.tgz", moved) == 4  # the origin marker is not left behind
    children = json.loads((moved / "triton" / "ABC" / "__grp__k.json").read_text())["child_paths"]
    assert children == {"k.cubin": str(moved / "triton" / "ABC" / "k.cubin"),
                        "k.json": str(moved / "triton" / "ABC" / "k.json"), "x": outside}
    assert (moved / "triton" / "ABC" / "k.cubin").read_bytes() == b"binary"
    # unpacked where it was packed from, the groups stay as they were
    same = tmp_path / "here" / "cache"
    for path in sorted(same.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    assert common.unpack_compiler_cache(tmp_path / "cache.tgz", same) == 4
    assert json.loads((kernels / "__grp__k.json").read_text()) == group


def test_a_compiler_cache_is_compressed_as_its_archive_is_named_and_a_bad_name_writes_nothing(tmp_path):
    import tarfile

    import pytest

    common = load_benchmark("common")
    cache = tmp_path / "cache"
    (cache / "triton").mkdir(parents=True)
    (cache / "triton" / "k.cubin").write_bytes(b"kernel" * 1000)
    for name, magic in (("c.tar.xz", b"\xfd7zXZ"), ("c.txz", b"\xfd7zXZ"), ("c.tgz", b"\x1f\x8b"),
                        ("c.tar.gz", b"\x1f\x8b")):
        assert common.pack_compiler_cache(cache, tmp_path / name) == 1
        assert (tmp_path / name).read_bytes().startswith(magic), name
        assert not (tmp_path / (name + ".partial")).exists()
        assert common.unpack_compiler_cache(tmp_path / name, tmp_path / ("out-" + name)) == 1
        assert (tmp_path / ("out-" + name) / "triton" / "k.cubin").read_bytes() == b"kernel" * 1000
    with tarfile.open(tmp_path / "c.tar.xz") as tar:
        assert "./triton/k.cubin" in tar.getnames()
    with pytest.raises(ValueError, match=r"c\.zip: a compiler cache archive's name must end in \.tar\.xz"):
        common.pack_compiler_cache(cache, tmp_path / "c.zip")
    assert not list(tmp_path.glob("c.zip*"))


def test_device_model_slugs_and_the_speed_file_for_this_gpu(monkeypatch, tmp_path):
    import torch

    common = load_benchmark("common")
    assert common.device_model_slug("NVIDIA H100 80GB HBM3") == "h100-80gb-hbm3"
    assert common.device_model_slug("NVIDIA H200") == "h200" and common.device_model_slug("") == "cpu"
    (tmp_path / "speed.json").write_text("{}")
    (tmp_path / "speed_h100-80gb-hbm3.json").write_text("{}")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert common.speed_file_for_this_gpu(tmp_path) == tmp_path / "speed.json"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100 80GB HBM3")
    assert common.speed_file_for_this_gpu(tmp_path) == tmp_path / "speed_h100-80gb-hbm3.json"
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H200")
    assert common.speed_file_for_this_gpu(tmp_path) == tmp_path / "speed.json"


def test_a_cpu_measurement_on_a_gpu_machine_is_not_recorded_as_the_gpus(monkeypatch, tmp_path):
    import json

    import torch

    common = load_benchmark("common")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100 80GB HBM3")
    on_cpu = json.loads(common.record("m", {}, directory=tmp_path, measured_on=["cpu"]).read_text())["device"]
    assert "gpu" not in on_cpu and on_cpu["unused_gpu"] == "NVIDIA H100 80GB HBM3" and on_cpu["measured_on"] == ["cpu"]
    on_gpu = common.device_info([torch.device("cuda", 0), "cpu"])
    assert on_gpu["gpu"] == "NVIDIA H100 80GB HBM3" and on_gpu["measured_on"] == ["cpu", "cuda:0"]
    assert common.device_info()["gpu"] == "NVIDIA H100 80GB HBM3"  # a script that does not say: the machine's GPU


def test_a_results_directory_that_cannot_be_written_is_named_before_anything_is_measured(tmp_path):
    common = load_benchmark("common")
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    assert common.writable_dir_problem(tmp_path / "new" / "deeper") is None
    assert common.writable_dir_problem(a_file / "results") == f"{a_file} is not a directory"
    assert not (tmp_path / "new").exists()  # nothing made by asking
    for script in ("step_ops.py", "checkpoint_cost.py", "compile_cache.py"):
        done = subprocess.run([sys.executable, str(COMMON.parent / script), "--device", "cpu", "--results-dir",
                               str(a_file / "results")], capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and done.stderr.strip().count("\n") == 0, (script, done.stderr)
        assert f"--results-dir {a_file / 'results'}: {a_file} is not a directory" in done.stderr, script


def test_a_compiler_cache_unpacking_stopped_part_way_leaves_no_half_cache(tmp_path, monkeypatch):
    import tarfile

    import pytest

    common = load_benchmark("common")
    cache = tmp_path / "cache"
    (cache / "triton").mkdir(parents=True)
    for name in ("a.cubin", "b.cubin"):
        (cache / "triton" / name).write_bytes(b"kernel")
    common.pack_compiler_cache(cache, tmp_path / "cache.tgz")
    target = tmp_path / "runs" / "compile_cache"
    target.mkdir(parents=True)  # as the suite makes it before it looks inside
    unpack_whole = tarfile.TarFile.extractall

    def stopped_after_one_file(self, path, **options):
        first = next(member for member in self.getmembers() if member.isfile())
        self.extract(first, path, filter="data")
        raise KeyboardInterrupt

    monkeypatch.setattr(tarfile.TarFile, "extractall", stopped_after_one_file)
    with pytest.raises(KeyboardInterrupt):
        common.unpack_compiler_cache(tmp_path / "cache.tgz", target)
    assert target.is_dir() and not any(target.iterdir())  # still empty: the next start unpacks it again
    assert not (tmp_path / "runs" / "compile_cache.unpacking").exists()
    damaged = tmp_path / "damaged.tgz"
    damaged.write_bytes((tmp_path / "cache.tgz").read_bytes()[:40])
    with pytest.raises((tarfile.TarError, EOFError)):  # (a cut gzip stream is an EOFError)
        common.unpack_compiler_cache(damaged, target)
    assert not (tmp_path / "runs" / "compile_cache.unpacking").exists() and not any(target.iterdir())
    monkeypatch.setattr(tarfile.TarFile, "extractall", unpack_whole)
    assert common.unpack_compiler_cache(tmp_path / "cache.tgz", target) == 2
    assert not (tmp_path / "runs" / "compile_cache.unpacking").exists()
    with pytest.raises(ValueError, match="compile_cache: not empty; a compiler cache is unpacked into an empty "):
        common.unpack_compiler_cache(tmp_path / "cache.tgz", target)


def test_a_report_names_the_gpu_that_measured_and_else_the_cpu_even_on_a_machine_with_a_gpu():
    common = load_benchmark("common")
    cpu = {"cpu": "Intel(R) Xeon(R) Processor", "cpu_count": 2}
    assert common.device_label({"device": {**cpu, "gpu": "NVIDIA H200"}}) == "NVIDIA H200"
    # measured on the CPU of a GPU machine: the figure is the CPU's, whatever the machine also has
    label = common.device_label({"device": {**cpu, "unused_gpu": "NVIDIA H200", "measured_on": ["cpu"]}})
    assert label == f"{cpu['cpu']} ({cpu['cpu_count']} cores)"


def test_a_payload_field_wins_over_the_recording_process_own(tmp_path):
    # a cell recorded again keeps what its training process knew (label_noise.py's earlier record): the cache it
    # started with and its commit, not those of the process that records it again
    common = load_benchmark("common")
    kept = {"compiler_cache_at_start": {"dir": "/elsewhere", "files": 3220}, "commit": "0123456789ab",
            "device": {"gpu": "NVIDIA H200"}}
    recorded = json.loads(common.record("cell", {**kept, "value": 1}, directory=tmp_path).read_text())
    assert {key: recorded[key] for key in kept} == kept and recorded["value"] == 1


def test_recorded_results_and_reports_leave_the_commit_clean_and_code_changes_mark_it_dirty(monkeypatch, tmp_path):
    common = load_benchmark("common")
    monkeypatch.delenv("BENCH_COMMIT", raising=False)
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    files = {"benchmarks/results/speed.json": "{}", "benchmarks/RESULTS.md": "# r", "benchmarks/speed.py": "x = 1"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)

    def git(*args):
        # a machine's own git settings (signed commits, hooks) are no part of what is checked
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false",
                               "-c", f"core.hooksPath={tmp_path / 'no-hooks'}", *args], cwd=tmp_path,
                              capture_output=True, text=True, check=True).stdout.strip()

    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "start")
    head = git("rev-parse", "HEAD")
    monkeypatch.setattr(common, "ROOT", tmp_path)
    (tmp_path / "benchmarks" / "results" / "speed.json").write_text('{"cells": []}')
    (tmp_path / "benchmarks" / "RESULTS.md").write_text("# regenerated")
    assert common.git_commit() == head
    (tmp_path / "benchmarks" / "speed.py").write_text("x = 2")
    assert common.git_commit() == f"{head}-dirty"


def test_a_short_commit_keeps_the_dirty_mark_that_cutting_the_hash_would_lose():
    common = load_benchmark("common")
    assert common.short_commit("0123456789abcdef0123456789abcdef01234567") == "0123456789ab"
    assert common.short_commit("0123456789abcdef0123456789abcdef01234567-dirty") == "0123456789ab-dirty"
    assert common.short_commit("unknown") == "unknown"


@pytest.mark.parametrize("kept", [True, False])
def test_a_stopped_training_names_its_checkpoint_only_where_the_run_is_still_there(kept, tmp_path, monkeypatch,
                                                                                     capsys):
    # label_issues.py and selective.py (without --runs-dir) train in temporary folders that they remove on the way out
    from satlearn.errors import TrainingInterrupted

    common = load_benchmark("common")
    run = tmp_path / "sat"
    if kept:
        run.mkdir()

    def main():
        raise TrainingInterrupted(run, 3)

    monkeypatch.setattr(sys, "argv", ["bench.py"])
    with pytest.raises(SystemExit) as stopped:
        common.run_main(main)
    assert stopped.value.code == 130
    assert capsys.readouterr().err.strip().splitlines() == [
        f"bench.py: {run}: interrupted (checkpoint after epoch 3)" if kept else "bench.py: interrupted"]


def test_a_list_option_that_names_a_value_twice_is_an_error_naming_it():
    given_twice = load_benchmark("common").given_twice
    assert given_twice("--seeds", [0, 1, 2]) is None and given_twice("--seeds", []) is None
    assert given_twice("--seeds", [2, 0, 1, 0, 2]) == "--seeds 2 0 1 0 2: 0 is given twice; give each once"
