"""One writer per run directory: a run locks its directory while it writes; a second
process on it gets an error naming the holder's pid, a lock left by a dead process is taken
over, and the lock is gone when a run ends, fails or is stopped by SIGTERM."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from ignite_zoo.engines.launch import run_experiment
from ignite_zoo.engines.run_dir import LOCK_FILE
from ignite_zoo.registry.errors import CheckpointError
from ignite_zoo.registry.recipe import load_recipe
from tests.cli_check import snapshot, start_paused_run, user_error
from tests.conftest import SEG_RUN
from tests.helpers import DEMO, tiny_seg

#: the shared run's settings but its epoch count (``sched=null``: a finished run may be resumed for more epochs)
FAST = [a for a in SEG_RUN if not a.startswith("train.epochs=")]


@pytest.fixture(scope="module")
def data_dir(tiny_seg_run) -> Path:
    """The folder whose ``demo_data`` the shared run read (a resumed copy reads the same)."""
    (root,) = [a.split("=", 1)[1] for a in tiny_seg_run.args if a.startswith("data.root=")]
    return Path(root).parent


@pytest.fixture(scope="module")
def finished(tiny_seg_run) -> Path:
    """A finished one-epoch run (its lock released: see the test below); the shared one, read only."""
    return tiny_seg_run.dir


def _copy(run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run, tmp_path / "run"))


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid  # reaped: no process has it (pids are not reused this soon)


def test_a_finished_run_leaves_no_lock(finished):
    assert not (finished / LOCK_FILE).exists()
    assert (finished / "checkpoints" / "last_checkpoint_1.pt").is_file()


def test_a_lock_held_by_a_live_process_is_an_error_naming_its_pid(capsys, data_dir, finished, tmp_path):
    run = _copy(finished, tmp_path)
    holder = subprocess.Popen(["sleep", "60"])
    try:
        (run / LOCK_FILE).write_text(f"{holder.pid} {os.uname().nodename}\n")
        before = snapshot(run)
        user_error(capsys, "run", DEMO, *tiny_seg(data_dir, *FAST, "train.epochs=2", f"out.dir={run}", "resume=auto"),
                   expect=[f"run directory {run} is in use by process {holder.pid}", str(run / LOCK_FILE)])
        assert snapshot(run) == before  # its lock and every file as they were
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_lock_of_a_dead_process_is_taken_over(data_dir, finished, tmp_path):
    run = _copy(finished, tmp_path)
    (run / LOCK_FILE).write_text(f"{_dead_pid()} {os.uname().nodename}\n")
    run_experiment(load_recipe(DEMO, tiny_seg(data_dir, *FAST, "train.epochs=2", f"out.dir={run}", "resume=auto")))
    assert (run / "checkpoints" / "last_checkpoint_2.pt").is_file()
    assert not (run / LOCK_FILE).exists()


def test_the_lock_is_released_after_a_failure(data_dir, finished, tmp_path):
    run = _copy(finished, tmp_path)
    with pytest.raises(CheckpointError, match="does not fit this model"):  # fails after taking the lock
        run_experiment(load_recipe(DEMO, tiny_seg(data_dir, *FAST, "train.epochs=2", "model.head.hidden=16",
                                                  f"out.dir={run}", "resume=auto")))
    assert not (run / LOCK_FILE).exists()
    assert snapshot(run) == snapshot(finished)


@pytest.mark.slow
def test_a_second_process_on_a_running_run_and_sigterm_then_resume(capsys, data_dir, tmp_path):
    """A run paused in epoch 2 (epoch 1's checkpoint written) holds its directory: a second
    run on it is refused naming the first's pid. SIGTERM then stops the first cleanly (exit
    130, one line, no traceback, lock released, checkpoint kept) and ``resume=auto``
    continues it to the end."""
    run = tmp_path / "run"
    args = tiny_seg(data_dir, *FAST, "train.epochs=2", f"out.dir={run}")
    proc, _ = start_paused_run(tmp_path, 3, *args)  # epoch 2's first step
    try:
        assert (run / LOCK_FILE).read_text().split()[0] == str(proc.pid)
        user_error(capsys, "run", DEMO, *args, "resume=auto", expect=[f"in use by process {proc.pid}"])
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    last = err.strip().splitlines()[-1]
    assert last == "interrupted (stopped by SIGTERM)", err[-3000:]
    assert not (run / LOCK_FILE).exists()
    assert (run / "checkpoints" / "last_checkpoint_1.pt").is_file()
    assert not (run / "checkpoints" / "last_checkpoint_2.pt").exists()
    # the same loss as the paused run (resume refuses other training settings); it pauses no more
    same = [*args, "resume=auto", "imports=[zoo_test_pausing]", "loss.type=pausing_ce"]
    run_experiment(load_recipe(DEMO, same), search_dir=tmp_path)
    assert (run / "checkpoints" / "last_checkpoint_2.pt").is_file()
    assert [line.split(",")[0] for line in (run / "history.csv").read_text().splitlines()[1:]] == ["1", "2"]
    assert not (run / LOCK_FILE).exists()
