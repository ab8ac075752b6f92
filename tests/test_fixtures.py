"""The shared test helpers' own behaviour where a failure would otherwise say nothing."""

import pytest

import fixtures


def test_a_script_that_hangs_is_stopped_with_every_threads_stack(tmp_path, monkeypatch):
    import subprocess
    import time

    script, waiting = tmp_path / "hangs.py", tmp_path / "waiting"
    script.write_text("import pathlib, threading, time\n"
                      "def wait_for_ever():\n    time.sleep(600)\n"
                      "threading.Thread(target=wait_for_ever, daemon=True).start()\n"
                      f"pathlib.Path({str(waiting)!r}).touch()\n"
                      "time.sleep(600)\n")

    class TimedOnceItWaits(subprocess.Popen):
        # the script's 2 s count from when it waits: on a busy machine its start alone can take longer, and the
        # stacks would then show the start instead of the waits
        def communicate(self, input=None, timeout=None):
            deadline = time.monotonic() + 120
            while timeout is not None and not waiting.exists() and self.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            return super().communicate(input, timeout)

    monkeypatch.setattr(fixtures.subprocess, "Popen", TimedOnceItWaits)
    monkeypatch.setattr(fixtures, "SCRIPT_TIMEOUT", 2)
    with pytest.raises(AssertionError) as failed:
        fixtures.run_script(script)
    message = str(failed.value)
    # the fault handler's dump: both threads, each at the line where it waits
    assert "hangs.py exited with -6" in message and "Fatal Python error: Aborted" in message
    assert f'File "{script}", line 3 in wait_for_ever' in message
    assert f'File "{script}", line 6 in <module>' in message


def test_a_script_run_here_sees_its_own_argv_and_fails_the_test_with_its_output_where_it_exits_with_an_error(tmp_path):
    import sys

    import torch

    from satlearn.engine.runtime import cpu_threads

    script = tmp_path / "prints.py"
    script.write_text("import sys, torch\n"
                      "sys.path.insert(0, 'elsewhere')\n"
                      "print('argv', sys.argv[1:], torch.get_num_threads()); print('to stderr', file=sys.stderr)\n"
                      "if __name__ == '__main__' and sys.argv[1] == 'fail':\n    sys.exit('failed here')\n")
    argv, path = list(sys.argv), list(sys.path)
    with cpu_threads(2):  # this process's count, other than the script's one thread
        done = fixtures.run_script_here(script, "ok", 1)
        assert torch.get_num_threads() == 2
    assert (done.returncode, done.stdout, done.stderr) == (0, "argv ['ok', '1'] 1\n", "to stderr\n")
    assert sys.argv == argv and sys.path == path  # left as they were
    with pytest.raises(AssertionError) as failed:
        fixtures.run_script_here(script, "fail")
    assert "prints.py exited with failed here" in str(failed.value)
    assert "argv ['fail']" in str(failed.value) and "to stderr" in str(failed.value)
    assert sys.argv == argv and sys.path == path
    # unchecked, as a process of its own ends: a message is printed and exits with 1
    done = fixtures.run_script_here(script, "fail", check=False)
    assert (done.returncode, done.stderr) == (1, "to stderr\nfailed here\n")


def test_a_script_run_here_imports_the_modules_of_its_folder_afresh_each_time(tmp_path):
    import sys

    (tmp_path / "beside.py").write_text("RUNS = []\n")
    script = tmp_path / "counts.py"
    script.write_text("import sys\nfrom pathlib import Path\nsys.path.insert(0, str(Path(__file__).parent))\n"
                      "import beside\nbeside.RUNS.append(1)\nprint(len(beside.RUNS))\n")
    assert [fixtures.run_script_here(script).stdout for _ in range(2)] == ["1\n", "1\n"]  # as two processes
    assert "beside" not in sys.modules
    sys.path.insert(0, str(tmp_path))
    try:
        import beside  # this process's own copy: its state is not the script's, and it is there after the run

        beside.RUNS.extend([0, 0])
        assert fixtures.run_script_here(script).stdout == "1\n"
        assert sys.modules["beside"] is beside and beside.RUNS == [0, 0]
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("beside", None)
