"""The shared test helpers' own behaviour where a failure would otherwise say nothing."""

import pytest

import fixtures


def test_a_script_that_hangs_is_stopped_with_every_threads_stack(tmp_path, monkeypatch):
    script = tmp_path / "hangs.py"
    script.write_text("import threading, time\n"
                      "def wait_for_ever():\n    time.sleep(600)\n"
                      "threading.Thread(target=wait_for_ever, daemon=True).start()\n"
                      "time.sleep(600)\n")
    monkeypatch.setattr(fixtures, "SCRIPT_TIMEOUT", 2)
    with pytest.raises(AssertionError) as failed:
        fixtures.run_script(script)
    message = str(failed.value)
    # the fault handler's dump: both threads, each at the line where it waits
    assert "hangs.py exited with -6" in message and "Fatal Python error: Aborted" in message
    assert f'File "{script}", line 3 in wait_for_ever' in message
    assert f'File "{script}", line 5 in <module>' in message
