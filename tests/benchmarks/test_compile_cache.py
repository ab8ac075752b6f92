"""benchmarks/compile_cache.py times a compiled model's first step with an empty, a filled and a carried compiler
cache; report.py shows it."""

import json
import subprocess
import sys
from pathlib import Path

from fixtures import load_benchmark, run_script, run_script_here

BENCH = Path(__file__).parents[2] / "benchmarks"


def compile_cache_here(*arguments) -> subprocess.CompletedProcess:
    """compile_cache.py with ``arguments``, run in this process, where torch is imported already: a fresh
    interpreter takes seconds to import it, for a refusal or for packing a tiny cache."""
    return run_script_here(BENCH / "compile_cache.py", *arguments, check=False)


def test_compile_cache_benchmark_shows_the_carried_cache_hit(tmp_path):
    run_script(str(BENCH / "compile_cache.py"), "--model", "mlp", "--width", "8", "--batch-size",
               "4", "--device", "cpu", "--mode", "default", "--results-dir", str(tmp_path))
    result = json.loads((tmp_path / "compile_cache.json").read_text())
    runs = result["runs"]
    # the cold process compiles everything; the others find all of it in the cache, the carried copy included
    assert runs["cold"]["counters"]["fxgraph_cache_hit"] == 0 and runs["cold"]["counters"]["fxgraph_cache_miss"] > 0
    for name in ("warm", "carried"):
        assert runs[name]["counters"]["fxgraph_cache_miss"] == 0, name
        assert runs[name]["counters"]["fxgraph_cache_hit"] == runs["cold"]["counters"]["fxgraph_cache_miss"], name
        assert runs[name]["counters"]["autograd_cache_hit"] > 0, name
    assert result["cache_files"] > 0 and result["archive_bytes"] > 0
    assert result["ratios"]["carried_over_cold"] == runs["carried"]["seconds"] / runs["cold"]["seconds"]
    run_script_here(BENCH / "report.py", "--results-dir", tmp_path, "--out", tmp_path / "RESULTS.md")
    assert "## What a carried compiler cache saves" in (tmp_path / "RESULTS.md").read_text()


def test_bad_arguments_stop_compile_cache_in_one_line_before_anything_compiles(tmp_path):
    for arguments, message in ((["--model", "foo"], "--model foo: expected one of: cnn1d, mlp"),
                               (["--device", "gpu"], "--device gpu: not a device name"),
                               (["--batch-size", "0"], "--batch-size 0: expected at least 1 example"),
                               (["--width", "0"], "--width 0: expected a positive width")):
        command = ["--model", "mlp", "--device", "cpu", "--mode", "default", *arguments, "--results-dir", str(tmp_path)]
        if arguments[0] == "--device":  # refused inside main, in one line by run_main: once as the script's own process
            done = subprocess.run([sys.executable, str(BENCH / "compile_cache.py"), *command], capture_output=True,
                                  text=True)
        else:
            done = compile_cache_here(*command)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        [line] = [line for line in done.stderr.strip().splitlines() if not line.startswith(("usage:", " "))]
        assert line.startswith("compile_cache.py: error: ") and message in line, line
    assert not list(tmp_path.iterdir())  # nothing recorded


def test_archives_of_an_empty_cache_are_refused_and_the_recorded_measurement_kept(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "compile_cache_archives.json").write_text('{"recorded": true}')
    empty = tmp_path / "cache"
    empty.mkdir()
    packed = tmp_path / "empty.tgz"
    load_benchmark("common").pack_compiler_cache(empty, packed)
    for source in (empty, packed):
        refused = compile_cache_here("--archives-of", str(source), "--results-dir", str(results))
        assert refused.returncode == 2 and refused.stderr.strip().splitlines()[-1] == (
            f"compile_cache.py: error: --archives-of {source}: the cache holds no files; expected a compiler cache "
            "that a compilation filled (TORCHINDUCTOR_CACHE_DIR), or an archive of one"), refused.stderr
    assert [p.name for p in results.iterdir()] == ["compile_cache_archives.json"]
    assert (results / "compile_cache_archives.json").read_text() == '{"recorded": true}'


def test_archives_of_a_cache_record_what_each_compression_costs(tmp_path):
    cache = tmp_path / "cache"
    (cache / "triton" / "0").mkdir(parents=True)
    (cache / "triton" / "0" / "kernel.cubin").write_bytes(b"compiled kernel " * 4000)  # compresses well
    (cache / "fxgraph.bin").write_bytes(bytes(range(256)) * 40)
    results = tmp_path / "results"
    run_script(str(BENCH / "compile_cache.py"), "--archives-of", str(cache), "--results-dir", str(results))
    result = json.loads((results / "compile_cache_archives.json").read_text())
    assert result["cache_files"] == 2 and result["cache_bytes"] == 64000 + 10240
    assert set(result["archives"]) == {".tar.xz", ".tgz"}
    for archive in result["archives"].values():
        assert 0 < archive["bytes"] < result["cache_bytes"] and archive["pack_seconds"] > 0
    # an archive of the cache is measured as the cache it holds
    packed = tmp_path / "cache.tgz"
    load_benchmark("common").pack_compiler_cache(cache, packed)
    done = compile_cache_here("--archives-of", str(packed), "--results-dir", str(results),
                              "--name", "compile_cache_archives_packed")
    assert done.returncode == 0, done.stdout + done.stderr
    again = json.loads((results / "compile_cache_archives_packed.json").read_text())
    assert (again["cache_files"], again["cache_bytes"]) == (2, result["cache_bytes"])
    run_script_here(BENCH / "report.py", "--results-dir", results, "--out", tmp_path / "RESULTS.md")
    report = (tmp_path / "RESULTS.md").read_text()
    assert "| `cache` | 2 | 0.1 | .tar.xz |" in report and "| `cache.tgz` | 2 | 0.1 | .tgz |" in report
    not_one = tmp_path / "not_an_archive.tgz"
    not_one.write_text("text")
    refused = compile_cache_here("--archives-of", str(not_one), "--results-dir", str(results))
    assert refused.returncode == 2 and refused.stderr.strip().splitlines()[-1] == (
        f"compile_cache.py: error: --archives-of {not_one}: not an archive of a compiler cache (file could not be "
        "opened successfully)"), refused.stderr
