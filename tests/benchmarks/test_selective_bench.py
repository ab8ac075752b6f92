"""benchmarks/selective.py finds bad settings and an unwritable results folder before its first training, and its table
says which seeds each mean is over."""

import sys

import pytest

from fixtures import load_benchmark
from satlearn.errors import ConfigError


@pytest.fixture
def selective(monkeypatch):
    """The benchmark with its trainings replaced by a record of them: none may start in these tests."""
    module = load_benchmark("selective")
    monkeypatch.setattr(module, "fit", lambda config, run_dir, **_: pytest.fail(
        f"trained {run_dir} before the bad input was found"))
    return module


def test_a_setting_that_a_later_training_refuses_stops_the_benchmark_before_the_first_trains(selective, tmp_path,
                                                                                           monkeypatch):
    # the SAT model trains first; Deep Gamblers' cross-entropy epochs do not fit in so few epochs
    monkeypatch.setattr(sys, "argv", ["selective.py", "--seeds", "0", "--set", "run.epochs=2", "--results-dir",
                                      str(tmp_path / "results"), "--out", str(tmp_path / "S.md")])
    with pytest.raises(ConfigError, match=r"^--set run\.epochs=2: .* so the gamblers loss would never start"):
        selective.main()
    assert not (tmp_path / "results").exists() and not (tmp_path / "S.md").exists()


def test_a_results_folder_that_cannot_be_made_stops_the_benchmark_before_the_first_training(selective, tmp_path,
                                                                                          monkeypatch):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    monkeypatch.setattr(sys, "argv", ["selective.py", "--seeds", "0", "--results-dir", str(a_file / "results"),
                                      "--out", str(tmp_path / "S.md")])
    with pytest.raises(ConfigError) as refused:
        selective.main()
    assert str(refused.value) == (f"--results-dir {a_file / 'results'}: {a_file} is not a directory; expected a "
                                  "directory this process can write in")
    assert not (tmp_path / "S.md").exists()


def test_a_selector_recorded_for_fewer_seeds_says_which_and_the_goal_compares_the_seeds_all_share(tmp_path):
    import shutil
    from pathlib import Path

    # seed 4 stopped after its SAT model's two selectors were recorded: Deep Gamblers and SR have seeds 0-3 only
    committed = Path(__file__).parents[2] / "benchmarks" / "results" / "selective"
    results = tmp_path / "results" / "selective"
    shutil.copytree(committed, results)
    for key in ("gamblers", "sr"):
        (results / f"mnist1d-{key}-seed4.json").unlink()
    selective = load_benchmark("selective")
    table = selective.write_table(tmp_path / "results", tmp_path / "S.md").read_text()
    rows = {line.split(" | ")[0]: line for line in table.splitlines() if line.startswith("| ")}
    assert rows["| Deep Gamblers (o = 2.2) (seeds 0, 1, 2, 3)"] and rows["| Softmax Response (CE) (seeds 0, 1, 2, 3)"]
    assert "| SAT (abstain score) |" in table  # recorded for every seed of the section: no seeds named
    goal = next(line for line in table.splitlines() if line.startswith("Goal"))
    assert "over seeds 0, 1, 2, 3 (those recorded for all three)" in goal
    four = [selective.read_result(p) for p in sorted(results.glob("mnist1d-sat-seed[0-3].json"))]
    sat_at_95 = sum(selective._by_coverage(r, "test")[95]["error"] for r in four) / 4
    assert f"95 %: SAT {100 * sat_at_95:.2f} vs" in goal


def committed_results_with(tmp_path, name, edit):
    """The committed results copied to ``tmp_path/results/selective``, the file ``name`` changed by ``edit`` (which
    changes the recorded fields in place); returns that file's path."""
    import json
    import shutil
    from pathlib import Path

    committed = Path(__file__).parents[2] / "benchmarks" / "results" / "selective"
    results = tmp_path / "results" / "selective"
    shutil.copytree(committed, results)
    path = results / name
    recorded = json.loads(path.read_text())
    edit(recorded)
    path.write_text(json.dumps(recorded))
    return path


def test_an_error_at_a_coverage_the_bisection_did_not_reach_is_marked_with_the_coverage_it_reached(tmp_path):
    # tied scores kept seed 1's SAT threshold at 97 % of the test part where 95 % was asked
    def missed(recorded):
        (row,) = [row for row in recorded["selective"]["coverages"] if round(100 * row["target"]) == 95]
        row["test"].update(coverage=0.97, within_tolerance=False)

    committed_results_with(tmp_path, "mnist1d-sat-seed1.json", missed)
    selective = load_benchmark("selective")
    table = selective.write_table(tmp_path / "results", tmp_path / "S.md").read_text()
    lines = table.splitlines()
    start = lines.index("| selector | 100 % | 95 % | 90 % | 85 % | 80 % | 75 % | 70 % | AURC ×10³ | E-AURC ×10³ | "
                        "AUGRC ×10³ |")
    sat = [cell.strip() for cell in lines[start + 2].split("|")][1:-1]
    assert sat[0] == "SAT (abstain score)" and sat[2].endswith(" †") and "†" not in "".join(sat[3:] + sat[:2])
    assert ("† Not within ±0.3 points of the coverage on the test part (tied scores, or too few examples): SAT "
            "(abstain score) at "
            "95 %: seed 1 reached 97.0 %.") in lines
    assert all("†" not in line for line in lines[start + 3:start + 6])  # the other selectors


def test_a_result_without_a_coverage_the_table_shows_is_named_and_the_table_is_left_as_it_was(tmp_path):
    # a result evaluated at other coverages (or cut short by hand): its 80 % row is missing
    def without_80(recorded):
        recorded["selective"]["coverages"] = [row for row in recorded["selective"]["coverages"]
                                              if round(100 * row["target"]) != 80]

    path = committed_results_with(tmp_path, "mnist1d-sr-seed2.json", without_80)
    (tmp_path / "S.md").write_text("the table before\n")
    selective = load_benchmark("selective")
    with pytest.raises(selective.ResultFileError) as refused:
        selective.write_table(tmp_path / "results", tmp_path / "S.md")
    assert str(refused.value) == (f"{path}: no 80 % row in selective.coverages; expected a row for each of 100, 95, "
                                  "90, 85, 80, 75, 70 %, as selective.py records them")
    assert (tmp_path / "S.md").read_text() == "the table before\n"


def test_the_table_names_the_results_it_was_generated_from(tmp_path):
    committed_results_with(tmp_path, "mnist1d-sat-seed0.json", lambda recorded: None)
    selective = load_benchmark("selective")
    table = selective.write_table(tmp_path / "results", tmp_path / "S.md").read_text().splitlines()
    files = (tmp_path / "results" / "selective").resolve()
    assert table[2] == f"Generated by `python benchmarks/selective.py` from `{files}/*.json`; do not edit."
    assert f"files `{files}/mnist1d-*-seed*.json`" in "\n".join(table)


def test_runs_kept_by_an_earlier_call_are_refused_before_any_training_and_left_as_they_were(selective, tmp_path,
                                                                                         monkeypatch):
    runs = tmp_path / "runs"
    kept = runs / "gamblers-seed1"
    kept.mkdir(parents=True)
    (kept / "checkpoint.pt").write_bytes(b"hours of training")
    monkeypatch.setattr(sys, "argv", ["selective.py", "--seeds", "0", "1", "--runs-dir", str(runs), "--results-dir",
                                      str(tmp_path / "results"), "--out", str(tmp_path / "S.md")])
    with pytest.raises(ConfigError) as refused:
        selective.main()
    assert str(refused.value) == (f"--runs-dir {runs}: gamblers-seed1 is there from an earlier call; give another "
                                  "--runs-dir, or remove it to train it again")
    assert (kept / "checkpoint.pt").read_bytes() == b"hours of training"
    assert not (tmp_path / "results").exists() and not (tmp_path / "S.md").exists()


def test_a_seed_given_twice_is_refused_before_any_training(selective, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["selective.py", "--seeds", "0", "1", "0", "--out", str(tmp_path / "S.md")])
    with pytest.raises(ConfigError, match=r"^--seeds 0 1 0: 0 is given twice; give each once$"):
        selective.main()
