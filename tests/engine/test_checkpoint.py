"""CheckpointWriter: the write runs beside training, from a snapshot taken before save() returns; in order; errors
surface as one-line TrainingErrors; an exception that leaves the block wins over a write error."""

import dataclasses
import json
import os
import pickle
import stat
import subprocess
import sys
import threading
import warnings
import zipfile

import numpy as np
import pytest
import torch

from satlearn.engine import checkpoint as checkpoint_module
from satlearn.engine.checkpoint import (
    BEST_NAME, BEST_PENDING_NAME, CHECKPOINT_NAME, CheckpointWriter, atomic_write_text, load_best_weights,
    load_checkpoint, save_checkpoint, settle_best_weights, snapshot_to_cpu, stage_to_cpu,
)
from satlearn.errors import TrainingError


def test_snapshot_copies_tensors_and_containers():
    weight = torch.ones(3)
    state = {"method": {"w": weight}, "history": [{"epoch": 1}], "rng": (torch.zeros(2), 5), "epoch": 1}
    snapshot = snapshot_to_cpu(state)
    weight.add_(1)
    state["history"].append({"epoch": 2})
    assert torch.equal(snapshot["method"]["w"], torch.ones(3)) and snapshot["history"] == [{"epoch": 1}]
    assert isinstance(snapshot["rng"], tuple) and snapshot["rng"][1] == 5


def test_save_returns_while_the_write_is_blocked_and_the_snapshot_is_what_lands(tmp_path, monkeypatch):
    release = threading.Event()
    started = threading.Event()
    real_save = checkpoint_module.save_checkpoint

    def slow_save(state, run_dir):
        started.set()
        assert release.wait(timeout=30)
        return real_save(state, run_dir)

    monkeypatch.setattr(checkpoint_module, "save_checkpoint", slow_save)
    weight = torch.zeros(4)
    with CheckpointWriter(tmp_path) as writer:
        writer.save({"epoch": 1, "w": weight})
        assert started.wait(timeout=30)
        weight.fill_(7)  # training goes on and changes the live state
        assert not (tmp_path / "checkpoint.pt").exists()
        release.set()
    saved = load_checkpoint(tmp_path)
    assert saved["epoch"] == 1 and torch.equal(saved["w"], torch.zeros(4))


def test_save_writes_plain_entries_as_given_without_searching_them(tmp_path, monkeypatch):
    searched = []
    real_stage = checkpoint_module.stage_to_cpu

    def stage(state):
        searched.append(sorted(state))
        return real_stage(state)

    monkeypatch.setattr(checkpoint_module, "stage_to_cpu", stage)
    weight = torch.zeros(2)
    history = [{"epoch": 1, "train_loss": 0.5}]
    with CheckpointWriter(tmp_path) as writer:
        writer.save({"epoch": 1, "w": weight, "history": list(history)}, plain=("history",))
        weight.fill_(3)
    # the per-epoch history grows with the run: searching all of it for tensors at each checkpoint cost more every
    # epoch
    assert searched == [["epoch", "w"]]
    saved = load_checkpoint(tmp_path)
    assert list(saved) == ["format", "epoch", "w", "history"]
    assert saved["history"] == history and torch.equal(saved["w"], torch.zeros(2))


def test_checkpoints_land_in_order(tmp_path):
    with CheckpointWriter(tmp_path) as writer:
        for epoch in range(1, 6):
            writer.save({"epoch": epoch, "w": torch.full((1000,), float(epoch))})
    saved = load_checkpoint(tmp_path)
    assert saved["epoch"] == 5 and torch.equal(saved["w"], torch.full((1000,), 5.0))
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temporary file left behind


def test_a_failed_write_is_a_training_error_at_the_next_call(tmp_path):
    missing = tmp_path / "gone"
    writer = CheckpointWriter(missing)
    writer.save({"epoch": 1})
    with pytest.raises(TrainingError, match="gone/checkpoint.pt: cannot write the checkpoint"):
        writer.close()


def test_an_exception_leaving_the_block_wins_over_a_write_error(tmp_path):
    with pytest.raises(KeyError, match="from training"):
        with CheckpointWriter(tmp_path / "gone") as writer:
            writer.save({"epoch": 1})
            raise KeyError("from training")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the asynchronous copy is the CUDA path")
def test_on_cuda_the_checkpoint_is_the_state_at_save_though_the_stream_changes_it_next(tmp_path):
    weight = torch.zeros(4096, 1024, device="cuda")
    with CheckpointWriter(tmp_path) as writer:
        writer.save({"epoch": 1, "w": weight})
        for _ in range(20):  # queued behind the copy on the same stream
            weight.add_(1)
    saved = load_checkpoint(tmp_path)
    assert saved["w"].device.type == "cpu" and torch.equal(saved["w"], torch.zeros(4096, 1024))
    assert torch.equal(weight, torch.full_like(weight, 20))


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_written_atomically_get_the_mode_the_umask_gives(tmp_path, umask, mode):
    before = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "summary.json", "{}")
    finally:
        os.umask(before)
    assert stat.S_IMODE((tmp_path / "summary.json").stat().st_mode) == mode


def test_a_file_rewritten_atomically_keeps_the_mode_its_owner_gave_it(tmp_path):
    path = tmp_path / "metrics.jsonl"
    atomic_write_text(path, "1")
    for mode in (0o600, 0o640):
        path.chmod(mode)
        atomic_write_text(path, "2")
        assert stat.S_IMODE(path.stat().st_mode) == mode and path.read_text() == "2"


def test_outputs_for_runs_that_share_only_the_root_go_to_the_current_directory(tmp_path, monkeypatch):
    from satlearn.engine.checkpoint import common_parent

    monkeypatch.chdir(tmp_path)
    assert common_parent([tmp_path / "a" / "x", tmp_path / "a" / "y"]) == tmp_path / "a"
    assert common_parent([tmp_path / "a"]) == tmp_path / "a"
    assert common_parent(["/proc", "/sys"]) == tmp_path  # not "/"


def test_the_common_parent_of_runs_given_relative_is_relative_as_they_were_given(tmp_path, monkeypatch):
    from pathlib import Path

    from satlearn.engine.checkpoint import common_parent

    # it was always resolved: compare runs/a runs/b printed "plot: /home/.../runs/compare.png", runs/a/x.png as given
    (tmp_path / "runs" / "a").mkdir(parents=True)
    (tmp_path / "runs" / "b").mkdir()
    (tmp_path / "~x").mkdir()
    monkeypatch.chdir(tmp_path / "runs")
    assert common_parent(["a", "b"]) == Path(".")
    monkeypatch.chdir(tmp_path)
    assert common_parent(["runs/a", "runs/b"]) == Path("runs")
    assert common_parent(["runs/a", "runs/../runs/b"]) == Path("runs")
    assert common_parent(["./~x"]) == tmp_path / "~x"  # not ~x, which would be read as a home directory
    monkeypatch.chdir(tmp_path / "runs" / "a")
    assert common_parent(["../b", "../a"]) == tmp_path / "runs"  # outside the current directory: resolved
    assert common_parent([tmp_path / "runs" / "a", "../b"]) == tmp_path / "runs"  # one absolute: resolved
    monkeypatch.chdir(tmp_path)
    assert common_parent([tmp_path / "runs" / "a", "runs/b"]) == tmp_path / "runs"  # so too inside it


def test_a_torch_file_that_is_not_a_satlearn_checkpoint_is_refused(tmp_path):
    for name, state in (("foreign", {"epoch": 3, "method": {}}), ("newer", {"format": 2, "epoch": 3}),
                        ("list", [1, 2])):
        (tmp_path / name).mkdir()
        torch.save(state, tmp_path / name / "checkpoint.pt")
        with pytest.raises(TrainingError, match=rf"{name}/checkpoint\.pt: not a satlearn checkpoint of format 1$"):
            load_checkpoint(tmp_path / name)


def test_a_damaged_checkpoint_is_a_one_line_training_error(tmp_path):
    (tmp_path / "checkpoint.pt").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(TrainingError, match=r"checkpoint\.pt: cannot read checkpoint \(\w+: "):
        load_checkpoint(tmp_path)


def test_a_checkpoint_cut_short_or_empty_is_named_as_such(tmp_path):
    # what a copy of a run that did not finish leaves (torch's own words for it: "Invalid argument")
    whole = tmp_path / "whole"
    whole.mkdir()
    save_checkpoint({"epoch": 1, "method": {"weights": torch.zeros(1000)}}, whole)
    written = (whole / CHECKPOINT_NAME).read_bytes()
    for name, kept in (("half", len(written) // 2), ("all_but_its_end", len(written) - 10), ("empty", 0)):
        (tmp_path / name).mkdir()
        (tmp_path / name / CHECKPOINT_NAME).write_bytes(written[:kept])
        with pytest.raises(TrainingError) as unreadable:
            load_checkpoint(tmp_path / name)
        why = ("the file is empty" if kept == 0 else
               f"the file is cut short, as a write or copy that did not finish may leave it: {kept} bytes of torch's "
               "zip format without the archive's end")
        assert str(unreadable.value).startswith(f"{tmp_path / name / CHECKPOINT_NAME}: cannot read checkpoint ({why}")
        assert "\n" not in str(unreadable.value)


def test_a_write_that_fails_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path):
    from satlearn.engine.checkpoint import atomic_write_bytes

    atomic_write_text(tmp_path / "summary.json", "old")

    def fails_halfway(f):
        f.write(b"half of the new")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write_bytes(tmp_path / "summary.json", fails_halfway)
    assert (tmp_path / "summary.json").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


@pytest.mark.parametrize("interrupted_in", ["os.open", "io.open"])
def test_an_interrupt_as_the_temporary_file_is_opened_leaves_no_file_and_stays_an_interrupt(tmp_path, monkeypatch,
                                                                                          interrupted_in):
    # Ctrl-C (or SIGTERM, which the command turns into one) is raised as soon as the call that made the file returns:
    # the file exists on disk, and its descriptor or file object never reaches the caller
    import io

    atomic_write_text(tmp_path / "summary.json", "old")
    module, name = interrupted_in.split(".")
    real = getattr(os if module == "os" else io, name)

    def made_then_interrupted(path, *args, **kwargs):
        made = real(path, *args, **kwargs)
        if isinstance(path, int) or str(path).startswith(str(tmp_path)):  # (a descriptor: the temporary file's)
            os.close(made) if isinstance(made, int) else made.close()  # as the lost object's own clean-up does
            raise KeyboardInterrupt
        return made

    monkeypatch.setattr(os if module == "os" else io, name, made_then_interrupted)
    with pytest.raises(KeyboardInterrupt):  # not an OSError (a "Bad file descriptor" named as the file's)
        atomic_write_text(tmp_path / "summary.json", "new")
    monkeypatch.undo()
    assert (tmp_path / "summary.json").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_a_write_that_fails_names_the_file_being_written_not_its_temporary_twin(tmp_path, monkeypatch):
    import errno

    from satlearn.engine.checkpoint import atomic_write_bytes

    target = tmp_path / "eval.json"

    def full_disk(f):  # a full disk's error names no file
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError) as failed:
        atomic_write_bytes(target, full_disk)
    assert str(failed.value) == f"[Errno {errno.ENOSPC}] No space left on device: '{target}'"
    (tmp_path / "folder").mkdir()  # the rename over a directory fails, naming both files
    with pytest.raises(IsADirectoryError) as failed:
        atomic_write_text(tmp_path / "folder", "{}")
    assert str(failed.value) == f"[Errno {errno.EISDIR}] Is a directory: '{tmp_path / 'folder'}'"

    def own_message(f):  # an error of the writer's own, with no error number, keeps its message
        raise OSError("cannot write mode RGBA as JPEG")

    with pytest.raises(OSError) as failed:
        atomic_write_bytes(target, own_message)
    assert str(failed.value) == "cannot write mode RGBA as JPEG"

    def other_file(f):  # and one about another file keeps naming it
        open(tmp_path / "no" / "font.ttf")

    with pytest.raises(FileNotFoundError) as failed:
        atomic_write_bytes(target, other_file)
    assert failed.value.filename == str(tmp_path / "no" / "font.ttf")
    real_open = os.open

    def read_only(path, *args, **kwargs):  # creating the temporary file fails on a read-only mount
        if str(path).startswith(str(tmp_path)):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(checkpoint_module.os, "open", read_only)
    with pytest.raises(OSError) as failed:
        atomic_write_text(target, "{}")
    assert failed.value.filename == str(target)
    assert [p.name for p in tmp_path.iterdir()] == ["folder"]


@pytest.mark.skipif(sys.platform == "win32", reason="no flock on Windows: output folders there are not locked")
def test_a_set_of_files_waits_for_another_writer_of_its_folder_and_then_tidies_what_a_killed_one_left(tmp_path,
                                                                                                    monkeypatch):
    import fcntl

    from satlearn.engine.checkpoint import FilesWrittenTogether, _hold_output_dir

    left = [tmp_path / ".a.csv.0123abcd.tmp", tmp_path / ".b.json.89abcdef.tmp"]  # a kill -9 among the writes
    kept = [tmp_path / ".checkpoint.pt.0123abcd.tmp",  # a training's, which takes no part in this folder's lock
            tmp_path / ".a.csv.mine.tmp", tmp_path / "a.csv.0123abcd.tmp"]  # names satlearn never writes
    for path in left + kept:
        path.write_text("")
    trying = threading.Event()
    real_flock = fcntl.flock

    def flock(fd, operation):
        if threading.current_thread().name == "writer":
            trying.set()
        return real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)

    def write():
        with FilesWrittenTogether(folder=tmp_path) as files:
            files.write_text(tmp_path / "a.csv", "new")
            files.write_text(tmp_path / "b.json", "new")

    writer = threading.Thread(target=write, name="writer")
    with _hold_output_dir(tmp_path) as held:
        assert held
        writer.start()
        assert trying.wait(timeout=60)
        # waiting for the lock, it has made no temporary file that the holder could take for a killed writer's
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".satlearn.lock", *(p.name for p in left + kept)])
    writer.join(timeout=60)
    assert not writer.is_alive()
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["a.csv", "b.json", *(p.name for p in kept)])


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGXFSZ"), reason="a file-size limit: POSIX")
def test_an_array_cut_short_by_a_full_disk_is_an_error_naming_the_file_and_its_cause(tmp_path):
    # A file-size limit stands in for a full disk: the first bytes of a file are written, the rest refused. numpy
    # writes an array to a real file with C's fwrite and reported that as "16000 requested and 992 written", with
    # no error number, so that neither the file nor the cause was named. (In a process of its own: the limit is the
    # process's.)
    script = f"""
import json, resource, signal
import numpy as np, torch
from pathlib import Path
from satlearn.engine.reporting import write_refined_labels
from satlearn.label_issues import find_label_issues, write_label_issues
from satlearn.targets import SoftTargets

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails instead of the process being stopped
resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
labels = torch.arange(200) % 200
failed = []
for write in (lambda: write_refined_labels(Path({str(tmp_path)!r}), SoftTargets(labels, num_classes=200), labels),
              lambda: write_label_issues(find_label_issues(labels.numpy(), np.full((200, 200), 1 / 200)),
                                         {str(tmp_path)!r})):
    try:
        write()
    except OSError as exc:
        failed.append([exc.errno, exc.filename])
print(json.dumps(failed))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    import errno

    assert json.loads(done.stdout) == [[errno.EFBIG, str(tmp_path / "soft_targets.npy")],
                                       [errno.EFBIG, str(tmp_path / "pred_probs.npy")]]
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_failed_write_is_raised_at_the_next_save_though_that_write_would_succeed(tmp_path, monkeypatch):
    real_save = checkpoint_module.save_checkpoint
    calls = []

    def first_fails(state, run_dir):
        calls.append(state["epoch"])
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        return real_save(state, run_dir)

    monkeypatch.setattr(checkpoint_module, "save_checkpoint", first_fails)
    writer = CheckpointWriter(tmp_path)
    writer.save({"epoch": 1})
    with pytest.raises(TrainingError, match=r"checkpoint\.pt: cannot write the checkpoint \(No space left on device\)"):
        writer.save({"epoch": 2})
    writer.close()
    assert calls == [1]  # the second state was not written over a failure nobody heard of


def test_other_writes_land_in_the_order_given_and_their_error_is_their_own(tmp_path):
    landed = []
    with CheckpointWriter(tmp_path) as writer:
        writer.write_files(lambda: landed.append("metrics 1"))
        writer.save({"epoch": 1})
        writer.write_files(lambda: landed.append(("metrics 2", load_checkpoint(tmp_path)["epoch"])))
    assert landed == ["metrics 1", ("metrics 2", 1)]

    def full_disk():
        raise OSError(28, "No space left on device", str(tmp_path / "metrics.jsonl"))

    writer = CheckpointWriter(tmp_path)
    writer.write_files(full_disk)
    writer.save({"epoch": 2})  # a checkpoint does not wait for, nor answer for, another file's write
    with pytest.raises(OSError) as failed:
        writer.write_files(lambda: landed.append("metrics 3"))
    assert failed.value.filename == str(tmp_path / "metrics.jsonl")
    writer.close()
    assert load_checkpoint(tmp_path)["epoch"] == 2 and "metrics 3" not in landed


def test_the_writer_knows_the_epoch_of_the_last_checkpoint_on_disk(tmp_path):
    with CheckpointWriter(tmp_path) as writer:
        assert writer.written_epoch is None
        writer.save({"epoch": 3})
        writer.wait()
        assert writer.written_epoch == 3
        writer.save({"epoch": 4})
    assert writer.written_epoch == 4 == load_checkpoint(tmp_path)["epoch"]


def test_an_out_path_is_a_file_or_a_folder_and_a_runs_files_are_refused(tmp_path):
    from satlearn.engine.checkpoint import output_file
    from satlearn.errors import ConfigError

    assert output_file(tmp_path / "a.json", "eval.json") == tmp_path / "a.json"
    assert output_file(tmp_path, "eval.json") == tmp_path / "eval.json"  # an existing folder
    assert output_file(f"{tmp_path / 'new'}/", "eval.json") == tmp_path / "new" / "eval.json"  # one to be made
    run = tmp_path / "run"
    run.mkdir()
    (run / "labels.npz").write_bytes(b"")  # what makes a folder a run's
    # not written yet by a run still training (or stopped): it would write over the output later
    with pytest.raises(ConfigError, match=r"metrics.csv: a file that the unfinished run in .*/run writes once it "
                                          r"gets there; expected another file name, or a folder$"):
        output_file(run / "metrics.csv", "x")
    (run / "metrics.csv").write_text("epoch\n")
    with pytest.raises(ConfigError, match=r"would be written over, and it is a file of the run in"):
        output_file(run / "metrics.csv", "x")
    (run / "summary.json").write_text("{}")  # finished: a file it did not write (an erm run's targets) stays free
    assert output_file(run / "soft_targets.npy", "x") == run / "soft_targets.npy"
    (tmp_path / "metrics.csv").write_text("epoch\n")  # the same name outside a run is any file's
    assert output_file(tmp_path / "metrics.csv", "x") == tmp_path / "metrics.csv"


def test_an_output_directory_under_a_file_or_in_a_read_only_place_is_refused(tmp_path, monkeypatch):
    from satlearn.engine.checkpoint import make_output_dir
    from satlearn.errors import ConfigError

    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match=r"file/a/b: is under .*file, which is a file, not a directory"):
        make_output_dir(tmp_path / "file" / "a" / "b", create=False)
    # a folder that can be read and entered, not written (root could write anywhere, so the check is stood in for)
    monkeypatch.setattr(checkpoint_module.os, "access", lambda path, mode: not mode & os.W_OK)
    with pytest.raises(ConfigError, match=rf"{tmp_path}/new: {tmp_path} is not writable"):
        make_output_dir(tmp_path / "new", create=False)


def run_in_its_first_epochs(run, *, config="run:\n  epochs: 3\n", arrays=("labels", "clean_labels", "class_names")):
    run.mkdir()
    np.savez(run / "labels.npz", **{name: np.zeros(2, dtype=np.int64) for name in arrays})
    (run / "config.yaml").write_text(config)
    return run


def test_only_a_runs_own_first_files_read_as_a_run_without_its_first_checkpoint(tmp_path):
    from satlearn.engine.checkpoint import started_without_checkpoint

    assert started_without_checkpoint(run_in_its_first_epochs(tmp_path / "started"))
    finished = run_in_its_first_epochs(tmp_path / "finished")  # a finished run whose checkpoint was removed
    (finished / "summary.json").write_text("{}")
    assert not started_without_checkpoint(finished)
    assert not started_without_checkpoint(run_in_its_first_epochs(tmp_path / "npz", arrays=("labels",)))
    assert not started_without_checkpoint(run_in_its_first_epochs(tmp_path / "yaml", config="model:\n  x: 1\n"
                                                                                            "mine: 2\n"))
    assert not started_without_checkpoint(run_in_its_first_epochs(tmp_path / "broken", config="run: [\n"))


def test_a_folder_of_runs_is_named_by_the_first_two_runs_it_holds_that_a_command_could_use(tmp_path):
    from satlearn.engine.checkpoint import runs_held

    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "checkpoint.pt").touch()
    assert runs_held(tmp_path) == (f"holds 3 runs rather than being one; expected one run's directory, such as "
                                   f"{tmp_path / 'a'}, {tmp_path / 'b'}, ...")
    # runs none of which holds the file a command reads: nothing to name
    assert runs_held(tmp_path, usable="soft_targets.npy") is None


# In a process of its own, the memory the config a checkpoint keeps takes to read: Linux's peak resident size
# (VmHWM), set back to the present size first (clear_refs 5), as the peak of a process started by one that held
# more memory begins at that process's.
READ_KEPT_CONFIG = """
import json, sys
from satlearn.engine.checkpoint import kept_config

def peak_mib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024

with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")
before = peak_mib()
config = kept_config(sys.argv[1])
print(json.dumps({"config": config, "rise_mib": peak_mib() - before}))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="reads the peak memory as Linux keeps it")
def test_the_config_a_checkpoint_keeps_is_read_without_reading_its_tensors_into_memory(tmp_path):
    # compare and train --resume read the config of a run whose config.yaml is gone: a CIFAR run's checkpoint holds
    # its weights, optimizer state and SAT's target table, which they have no use for
    from satlearn.config import load_config, to_dict
    from satlearn.engine.checkpoint import save_checkpoint

    tensor_mib = 64
    config = to_dict(load_config(None))
    save_checkpoint({"config": config, "method": {"weights": torch.zeros(tensor_mib * 2**20 // 4)}}, tmp_path)
    read = subprocess.run([sys.executable, "-c", READ_KEPT_CONFIG, str(tmp_path)], capture_output=True, text=True,
                          check=True)
    kept = json.loads(read.stdout)
    assert kept["config"] == json.loads(json.dumps(config))
    assert kept["rise_mib"] < tensor_mib / 2


def test_a_checkpoint_torch_cannot_map_gives_its_config_or_its_damage_as_read_whole(tmp_path):
    # the mapping is only a saving: a file torch wrote in its older format is read whole, and an empty one is named
    # as such, not as one to save again in torch's zip format
    from satlearn.config import load_config, to_dict
    from satlearn.engine.checkpoint import CHECKPOINT_NAME, FORMAT_VERSION, kept_config

    config = to_dict(load_config(None))
    older = tmp_path / "older"
    older.mkdir()
    torch.save({"format": FORMAT_VERSION, "config": config, "method": {"weights": torch.zeros(4)}},
               older / CHECKPOINT_NAME, _use_new_zipfile_serialization=False)
    assert kept_config(older) == config
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / CHECKPOINT_NAME).write_bytes(b"")
    with pytest.raises(TrainingError) as read_whole:
        load_checkpoint(empty)
    with pytest.raises(TrainingError) as for_its_config:
        kept_config(empty)
    assert f"({read_whole.value})" in str(for_its_config.value)


class _RunsCodeWhenLoaded:
    """What a crafted checkpoint holds: an object whose unpickling calls a function of the file's choosing, here
    one that creates ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').close()",)


class _ClassOfItsOwn:
    pass


def _write_crafted(kind: str, path, marker) -> str:
    """Writes a ``checkpoint.pt`` of ``kind`` to ``path``; returns what the refusal names."""
    state = {"format": 1, "epoch": 1, "config": {}, "method": {"weights": torch.zeros(3)}}
    if kind == "zip":  # torch's own format, as satlearn writes it
        torch.save({**state, "history": [_RunsCodeWhenLoaded(marker)]}, path)
        return "builtins.exec"
    if kind == "plain_pickle":  # no zip at all: torch reads it as its older format, a pickle from the first byte
        path.write_bytes(pickle.dumps(_RunsCodeWhenLoaded(marker), protocol=2))
        return "builtins.exec"
    if kind == "own_class":
        torch.save({**state, "history": [_ClassOfItsOwn()]}, path)
        return f"{__name__}._ClassOfItsOwn"

    class Module(torch.nn.Module):
        def forward(self, x):
            return x

    with warnings.catch_warnings():  # (torch 2.13 deprecates TorchScript)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(Module()), str(path))  # torch before 2.6 runs it with torch.jit.load
    return "TorchScript code"


@pytest.mark.parametrize("kind", ["zip", "plain_pickle", "own_class", "torchscript"])
def test_a_checkpoint_holding_anything_but_data_is_refused_in_one_line_and_nothing_in_it_runs(tmp_path, kind):
    from satlearn.engine.checkpoint import kept_config

    marker = tmp_path / "marker"
    run = tmp_path / "run"
    run.mkdir()
    named = _write_crafted(kind, run / CHECKPOINT_NAME, marker)
    refusal = (f"{run / CHECKPOINT_NAME}: refused: it holds {named}, and a satlearn checkpoint holds only data "
               "(tensors, arrays, numbers, strings, lists and dicts); nothing in the file was run")
    for read in (load_checkpoint, lambda run_dir: load_checkpoint(run_dir, mmap=True), kept_config):
        with pytest.raises(TrainingError) as refused:
            read(run)
        assert refusal in str(refused.value) and "\n" not in str(refused.value)
    assert not marker.exists()


def _spelled_as_the_other_numpy(path) -> None:
    """Rewrites checkpoint ``path`` as NumPy of the other major version would have written it: NumPy 2 names its
    array functions numpy._core.multiarray, NumPy 1 numpy.core.multiarray."""
    names = (b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    with zipfile.ZipFile(path) as archive:
        entries = [(info, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w") as archive:
        for info, data in entries:
            if info.filename.endswith("/data.pkl"):
                written = next(name for name in names if name in data)
                data = data.replace(written, names[1 - names.index(written)])
            archive.writestr(info, data)


@pytest.mark.parametrize("numpy_spelling", ["this", "other"])
def test_numpy_arrays_and_numbers_that_older_checkpoints_hold_are_read_back(tmp_path, numpy_spelling):
    # every checkpoint written before NumPy's random state was kept in lists holds it as NumPy's own tuple (an
    # array); a class count, epoch statistic or setting given as a NumPy number by a run's own code is one too
    np.random.seed(5)
    numpy_state = np.random.get_state()
    save_checkpoint({"epoch": 1, "rng": {"numpy": numpy_state}, "data": {"num_classes": np.int64(3)},
                     "history": [{"margin": np.float32(0.25), "flag": np.bool_(True), "wall": np.float64(1.5)}]},
                    tmp_path)
    if numpy_spelling == "other":
        _spelled_as_the_other_numpy(tmp_path / CHECKPOINT_NAME)
    for mmap in (False, True):
        loaded = load_checkpoint(tmp_path, mmap=mmap)
        assert loaded["rng"]["numpy"][0] == "MT19937" and loaded["rng"]["numpy"][1].dtype == np.uint32
        assert np.array_equal(loaded["rng"]["numpy"][1], numpy_state[1])
        assert loaded["rng"]["numpy"][2:] == numpy_state[2:]
        assert loaded["data"]["num_classes"] == 3 and type(loaded["data"]["num_classes"]) is np.int64
        assert loaded["history"] == [{"margin": 0.25, "flag": True, "wall": 1.5}]


def test_reading_a_checkpoint_leaves_what_torchs_restricted_loading_admits_as_it_was(tmp_path):
    # the NumPy types are admitted for satlearn's own reading only; what the caller admitted stays admitted
    import collections

    save_checkpoint({"epoch": 1, "rng": {"numpy": np.random.get_state()}}, tmp_path)
    original = torch.serialization.get_safe_globals()
    torch.serialization.add_safe_globals([collections.Counter])
    try:
        admitted = set(torch.serialization.get_safe_globals())
        load_checkpoint(tmp_path)
        assert set(torch.serialization.get_safe_globals()) == admitted
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(original)


@dataclasses.dataclass
class _StateOfItsOwn:
    value: int


def test_a_class_that_the_callers_code_admits_to_torchs_restricted_loading_is_read_back(tmp_path):
    # a method or model of one's own that keeps an object of its own class in its state (get_extra_state)
    save_checkpoint({"epoch": 1, "method": {"_extra_state": _StateOfItsOwn(3)}}, tmp_path)
    with pytest.raises(TrainingError, match=rf"refused: it holds {__name__}\._StateOfItsOwn, "):
        load_checkpoint(tmp_path)
    original = torch.serialization.get_safe_globals()
    torch.serialization.add_safe_globals([_StateOfItsOwn])  # as the module registering the method would
    try:
        assert load_checkpoint(tmp_path)["method"]["_extra_state"] == _StateOfItsOwn(3)
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(original)


def best_of(epoch, value=None):
    """Best-epoch weights as the trainer stages them: the epoch, its test accuracy and the model's state dict."""
    return stage_to_cpu({"test_accuracy": epoch / 10, "epoch": epoch,
                         "model": {"w": torch.full((3,), float(epoch if value is None else value))}})


def test_the_best_weights_are_written_before_their_checkpoint_and_take_their_name_once_it_has_landed(tmp_path,
                                                                                                     monkeypatch):
    real_save = checkpoint_module.save_checkpoint
    seen = []

    def save(state, run_dir):
        seen.append(sorted(p.name for p in run_dir.iterdir()))  # what is there as the checkpoint is written
        if state["epoch"] == 3:
            raise OSError(28, "No space left on device")
        return real_save(state, run_dir)

    monkeypatch.setattr(checkpoint_module, "save_checkpoint", save)
    writer = CheckpointWriter(tmp_path)
    writer.save({"epoch": 1, "best": {"epoch": 1}}, best=best_of(1))
    writer.save({"epoch": 2, "best": {"epoch": 1}})  # no better epoch: the best weights stay as they are
    writer.wait()
    assert seen == [[BEST_PENDING_NAME], [BEST_NAME, CHECKPOINT_NAME]]
    assert torch.load(tmp_path / BEST_NAME, weights_only=True)["epoch"] == 1
    writer.save({"epoch": 3, "best": {"epoch": 3}}, best=best_of(3))
    with pytest.raises(TrainingError, match=r"checkpoint\.pt: cannot write the checkpoint"):
        writer.close()
    # the checkpoint on disk records epoch 1 as the best, and best_model.pt holds epoch 1: epoch 3 waits aside
    assert load_checkpoint(tmp_path)["best"] == {"epoch": 1}
    assert torch.load(tmp_path / BEST_NAME, weights_only=True)["epoch"] == 1
    assert torch.load(tmp_path / BEST_PENDING_NAME, weights_only=True)["epoch"] == 3


def test_a_best_weights_write_that_fails_names_that_file_and_writes_no_checkpoint_after_it(tmp_path, monkeypatch):
    def full_disk(best, run_dir):
        raise OSError(28, "No space left on device", str(run_dir / BEST_PENDING_NAME))

    monkeypatch.setattr(checkpoint_module, "save_pending_best", full_disk)
    writer = CheckpointWriter(tmp_path)
    writer.save({"epoch": 1, "best": {"epoch": 1}}, best=best_of(1))
    with pytest.raises(TrainingError, match=rf"^{tmp_path / BEST_NAME}: cannot write the best epoch's weights \(No "
                                            r"space left on device\)$") as failed:
        writer.close()
    assert failed.value.__cause__.errno == 28  # which the command line reads to say how to finish the run later
    assert not (tmp_path / CHECKPOINT_NAME).exists()


def best_files(run_dir, checkpointed, final=None, pending=None):
    """A run directory whose checkpoint records ``checkpointed`` as its best epoch, with best-weights files of the
    epochs given (None: no such file)."""
    save_checkpoint({"epoch": 5, "best": {"epoch": checkpointed, "test_accuracy": 0.5}}, run_dir)
    for name, epoch in ((BEST_NAME, final), (BEST_PENDING_NAME, pending)):
        if epoch is not None:
            torch.save({"format": 1, **snapshot_to_cpu(best_of(epoch)[0])}, run_dir / name)
    return {"epoch": checkpointed, "test_accuracy": 0.5}


def test_a_resumption_keeps_only_the_best_weights_of_the_epoch_its_checkpoint_records(tmp_path):
    def held(run_dir):
        return {p.name: torch.load(p, weights_only=True)["epoch"] for p in run_dir.iterdir()
                if p.name != CHECKPOINT_NAME}

    cases = {  # (checkpointed best, best_model.pt's epoch, the pending file's) -> what is left, and what is said
        (2, 2, 4): ({BEST_NAME: 2}, None),  # the next checkpoint did not land: its epoch's weights go
        (4, 2, 4): ({BEST_NAME: 4}, None),  # it landed, but the file was not renamed yet: it is now
        (4, None, 4): ({BEST_NAME: 4}, None),  # the first best, likewise
        (2, 4, None): ({}, "held the weights of epoch 4, not those of the run's best epoch so far (2, as "
                           "checkpoint.pt records it); removed"),
        (0, None, 1): ({}, None),  # no epoch evaluated by the checkpoint yet
    }
    for (checkpointed, final, pending), (left, said) in cases.items():
        run_dir = tmp_path / f"{checkpointed}-{final}-{pending}"
        run_dir.mkdir()
        best = best_files(run_dir, checkpointed, final, pending)
        removed = settle_best_weights(run_dir, best)
        assert held(run_dir) == left, (checkpointed, final, pending)
        assert (removed is None) if said is None else (said in removed), removed


def test_the_best_weights_are_read_as_data_only_and_each_way_of_having_none_is_one_line(tmp_path):
    best = best_files(tmp_path, 2, final=2)
    assert torch.equal(load_best_weights(tmp_path, best, kept=True)["model"]["w"], torch.full((3,), 2.0))
    with pytest.raises(TrainingError, match=r"the run kept no best epoch's weights \(it trained with run.keep_best "
                                            r"false\); a run started with --set run.keep_best=true keeps them in "
                                            r"best_model.pt$"):
        load_best_weights(tmp_path, best, kept=False)
    with pytest.raises(TrainingError, match="no epoch evaluated yet"):
        load_best_weights(tmp_path, {"epoch": 0, "test_accuracy": -1.0}, kept=True)
    with pytest.raises(TrainingError, match=r"holds the weights of epoch 2, not those of the run's best epoch \(3, as "
                                            r"checkpoint\.pt records it\)"):
        load_best_weights(tmp_path, {"epoch": 3, "test_accuracy": 0.5}, kept=True)
    # stopped between its checkpoint and the renaming: the weights waiting aside are the checkpoint's best
    best_files(tmp_path, 3, pending=3)
    assert load_best_weights(tmp_path, {"epoch": 3, "test_accuracy": 0.5}, kept=True)["epoch"] == 3
    (tmp_path / BEST_PENDING_NAME).unlink()
    (tmp_path / BEST_NAME).unlink()
    with pytest.raises(TrainingError, match="best_model.pt: no such file, though the run keeps"):
        load_best_weights(tmp_path, best, kept=True)
    marker = tmp_path / "marker"
    _write_crafted("zip", tmp_path / BEST_NAME, marker)  # a pickle naming a function to call
    with pytest.raises(TrainingError, match=r"best_model\.pt: refused: it holds builtins\.exec, .*; nothing in the "
                                            r"file was run$"):
        load_best_weights(tmp_path, best, kept=True)
    assert not marker.exists()
