"""benchmarks/report.py regenerates RESULTS.md from the recorded JSON, and names a broken result file."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

from fixtures import run_script

BENCH = Path(__file__).parents[2] / "benchmarks"


def report(results: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCH / "report.py"), "--results-dir", str(results), "--out", str(out)],
                          capture_output=True, text=True)


def test_the_committed_results_give_the_committed_report_and_a_broken_file_is_named_in_one_line(tmp_path):
    elsewhere = tmp_path / "RESULTS.md"
    run_script(BENCH / "report.py", "--out", elsewhere)
    # written outside benchmarks/, the report leaves out the figure links and the pointer to SELECTIVE.md alone
    links = ("![learning curves", "Learning curves drawn by", "## Selective classification", "See `benchmarks/SEL")
    committed = [line for line in (BENCH / "RESULTS.md").read_text().splitlines() if line]
    assert [line for line in elsewhere.read_text().splitlines() if line] == \
        [line for line in committed if not line.startswith(links)]

    cases = {
        "speed_tuned.json": (lambda path: path.write_text(path.read_text()[:40]), "not valid JSON ("),
        "demo.json": (lambda path: path.write_text("[]"), "holds a JSON list; expected an object of fields"),
        "label_noise/fast/ce-sym40.json": (
            lambda path: path.write_text(json.dumps({k: v for k, v in json.loads(path.read_text()).items()
                                                     if k != "last_test_accuracy"})),
            "no field 'last_test_accuracy' where a report looks for it"),
    }
    for name, (damage, said) in cases.items():
        results = tmp_path / name.replace("/", "_")
        shutil.copytree(BENCH / "results", results)
        damage(results / name)
        out = tmp_path / "out.md"
        out.write_text("kept")
        done = report(results, out)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().splitlines() == [f"report.py: error: {results / name}: " +
                                                    done.stderr.split(f"{results / name}: ", 1)[1].strip()]
        assert said in done.stderr and "Traceback" not in done.stderr
        assert out.read_text() == "kept"  # the report there is not overwritten by a part of one


def test_a_report_from_other_results_names_the_folder_it_read(tmp_path):
    results = tmp_path / "runs" / "results"
    shutil.copytree(BENCH / "results", results)
    out = tmp_path / "RESULTS.md"
    done = report(results, out)
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "`benchmarks/results" not in text  # recorded commands may name it; the report's own words do not
    assert f"from `{results.resolve().as_posix()}/*.json`" in text
    assert f"file `{results.resolve().as_posix()}/demo.json`" in text
    assert f"`{results.resolve().as_posix()}/label_noise/<recipe>/`" in text


def test_an_out_that_is_a_folder_or_has_none_stops_report_and_selective_in_one_line(tmp_path):
    (tmp_path / "folder").mkdir()
    for script, extra in (("report.py", []), ("selective.py", ["--report-only"])):
        for out, message in ((tmp_path / "folder", "is a directory; expected the file to write"),
                             (tmp_path / "nowhere" / "R.md", f"no directory {tmp_path / 'nowhere'} to write it in")):
            done = subprocess.run([sys.executable, str(BENCH / script), *extra, "--out", str(out)],
                                  capture_output=True, text=True)
            assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
            line = done.stderr.strip().splitlines()[-1]
            assert line.startswith(f"{script}: error: --out {out}: {message}"), line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"] and not any((tmp_path / "folder").iterdir())


def test_archives_of_a_cache_alone_give_no_empty_table_of_carried_caches(tmp_path):
    # compile_cache.py --archives-of recorded, and no compile_cache.py run: the cold/warm/carried table has no row
    results = tmp_path / "results"
    results.mkdir()
    shutil.copy(BENCH / "results" / "compile_cache_archives.json", results)
    done = report(results, tmp_path / "R.md")
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "R.md").read_text()
    assert "| .tar.xz | 1.36 |" in text
    assert "| model | batch | mode | device | cold s" not in text and "*Hits*" not in text


def test_a_detection_measure_left_undefined_shows_as_n_a_and_a_mean_over_seeds_says_how_many_it_is_of(tmp_path):
    # a seed whose tool flagged nothing has no precision or F1 (null): the mean is of the seeds that have one
    results = tmp_path / "results"
    shutil.copytree(BENCH / "results", results)
    seeds = sorted((results / "label_issues").glob("mnist1d-sym40-seed*.json"))
    recorded = [json.loads(path.read_text()) for path in seeds]
    for key in ("precision", "f1"):
        for result in recorded[:-1]:  # every seed but the last: that one's alone is the mean
            result["satlearn"][key] = None
        recorded[0]["cleanlab"][key] = None
    for path, result in zip(seeds, recorded):
        path.write_text(json.dumps(result))
    for path in (results / "label_issues").glob("mnist1d-pair40-seed*.json"):  # undefined in every seed
        result = json.loads(path.read_text())
        result["satlearn"]["auroc"] = None
        path.write_text(json.dumps(result))
    cell_path = results / "label_noise" / "fast" / "sat-sym20.json"
    cell = json.loads(cell_path.read_text())
    cell["label_issues"].update(precision=None, f1=None)
    cell_path.write_text(json.dumps(cell))
    done = report(results, tmp_path / "R.md")
    assert done.returncode == 0, done.stderr
    rows = {cells[4]: cells for line in (tmp_path / "R.md").read_text().splitlines()
            if (cells := [cell.strip() for cell in line.split("|")])[1:2] == ["mnist1d-sym40"]}

    def mean(tool, key, results):
        return f"{sum(r[tool][key] for r in results) / len(results):.3f}"

    satlearn, cleanlab = rows["satlearn"], rows["cleanlab"]
    n = len(recorded)
    assert satlearn[6:9] == [mean("satlearn", "precision", recorded[-1:]) + f" (1 of {n} seeds)",
                             mean("satlearn", "recall", recorded), mean("satlearn", "f1", recorded[-1:])
                             + f" (1 of {n} seeds)"]
    assert cleanlab[6:9] == [mean("cleanlab", "precision", recorded[1:]) + f" ({n - 1} of {n} seeds)",
                             mean("cleanlab", "recall", recorded), mean("cleanlab", "f1", recorded[1:])
                             + f" ({n - 1} of {n} seeds)"]
    pair = next(line for line in (tmp_path / "R.md").read_text().splitlines() if line.startswith("| mnist1d-pair40 |")
                and "| satlearn |" in line)
    assert pair.split("|")[10].strip() == "n/a"  # the AUROC column
    li = cell["label_issues"]
    assert (f"| sat-sym20 | {li['truly_wrong']} | {li['flagged']} | n/a | {li['recall']:.3f} | n/a | "
            f"{li['average_precision']:.3f} | {li['auroc']:.3f} |") in (tmp_path / "R.md").read_text()
