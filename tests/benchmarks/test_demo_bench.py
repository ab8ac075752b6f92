"""benchmarks/demo.py refuses bad seeds before it runs the demo."""

import sys

import pytest

from fixtures import load_benchmark


def test_a_negative_seed_is_refused_before_the_shipped_demo_runs(monkeypatch, capsys):
    demo = load_benchmark("demo")
    monkeypatch.setattr(demo, "run_once", lambda seed: pytest.fail(f"ran the demo (seed {seed}) before the bad seed "
                                                                  "was found"))
    monkeypatch.setattr(sys, "argv", ["demo.py", "--seeds", "1", "-1"])
    with pytest.raises(SystemExit) as stopped:
        demo.main()
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == ("demo.py: error: --seeds 1 -1: expected "
                                                                "non-negative integers")
