"""A killed run resumed with ``resume=auto`` ends with the weights and metrics of a run that
was never interrupted (CPU, deterministic): killed mid-epoch, during validation, and in the
middle of writing a checkpoint.

The kills come from a plugin module (loaded through the recipe's ``imports:``, exactly as a
user's head would be) that SIGKILLs its own process at a chosen point.
"""
from __future__ import annotations

import csv
import os
import subprocess
import textwrap
from pathlib import Path

import pytest
import torch

from ignite_zoo.engines.checkpoint import read_checkpoint
from tests.helpers import DEMO, run_tool, tiny_seg

pytestmark = pytest.mark.slow

KILLER = textwrap.dedent('''
    """Test plugin: SIGKILL this process at the point named by ZOO_KILL=<where>:<count>."""
    import os
    import signal

    import torch

    import ignite_zoo.engines.predictor as predictor
    from ignite_zoo.registry import LOSSES
    from ignite_zoo.zoo.losses import CrossEntropyLoss as cross_entropy

    WHERE, _, COUNT = os.environ.get("ZOO_KILL", ":").partition(":")
    COUNT = int(COUNT or 0)
    calls = {"train": 0, "val": 0, "save": 0}

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    @LOSSES.register("killing_ce")
    def killing_ce(**kw):
        inner = cross_entropy(**kw)

        def loss(logits, target):
            calls["train"] += logits.requires_grad  # training steps (not pre-flight, validation)
            if WHERE == "train" and calls["train"] == COUNT:
                die()
            return inner(logits, target)
        return loss

    _predict = predictor.Predictor.__call__

    def predict(*a, **kw):
        calls["val"] += 1
        if WHERE == "val" and calls["val"] == COUNT:
            die()
        return _predict(*a, **kw)

    predictor.Predictor.__call__ = predict

    _save = torch.save

    def save(obj, f, *a, **kw):
        trainer = obj.get("trainer") if isinstance(obj, dict) else None
        if WHERE == "save" and trainer and trainer["iteration"] == COUNT * trainer["epoch_length"]:
            f.write(b"half a checkpoint")  # the atomic saver's temporary file, never renamed
            f.flush()
            die()
        return _save(obj, f, *a, **kw)

    torch.save = save
''')

ITERS = 6  # 12 training tiles / batch 2
VAL_BATCHES = 2  # 4 validation tiles / batch 2


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("resume")
    (tmp / "zoo_test_killer.py").write_text(KILLER)
    overrides = tiny_seg(tmp, "train.epochs=3", "imports=[zoo_test_killer]", "loss.type=killing_ce",
                         "handlers.tensorboard.enabled=false", "handlers.mask_snapshots.epochs=[]",
                         "train.deterministic=true", "train.threads=1",
                         "train.accum_steps=5")  # groups of 5 batches do not divide the 6 of an epoch
    env = {"PYTHONPATH": str(tmp)}
    run_tool("run", DEMO, *overrides, f"out.dir={tmp / 'straight'}", env=env)
    return tmp, overrides, env


def _final(run_dir: Path) -> tuple[dict, list[dict]]:
    ckpt = read_checkpoint(run_dir / "checkpoints" / "last_checkpoint_3.pt")
    with open(run_dir / "history.csv") as f:
        rows = list(csv.DictReader(f))
    return ckpt, rows


@pytest.mark.parametrize("where,count", [
    ("train", 2 * ITERS + 3),          # mid-way through epoch 3's training
    ("val", 2 * VAL_BATCHES + 2),      # epoch 3's validation, second batch
    ("save", 3),                       # writing epoch 3's checkpoint
])
def test_kill_then_resume_matches_uninterrupted(setup, where, count):
    tmp, overrides, env = setup
    run_dir = tmp / f"killed_{where}"
    killed = run_tool("run", DEMO, *overrides, f"out.dir={run_dir}", check=False,
                      env={**env, "ZOO_KILL": f"{where}:{count}"})
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert not (run_dir / "checkpoints" / "last_checkpoint_3.pt").exists()
    assert (run_dir / "checkpoints" / "last_checkpoint_2.pt").exists()
    if where == "save":
        assert list((run_dir / "checkpoints").glob("tmp*")), "the interrupted write should have left its temp file"
    run_tool("run", DEMO, *overrides, f"out.dir={run_dir}", "resume=auto", env=env)
    assert not list((run_dir / "checkpoints").glob("tmp*"))

    ref_ckpt, ref_rows = _final(tmp / "straight")
    ckpt, rows = _final(run_dir)
    for key, value in ref_ckpt["model"].items():
        assert torch.equal(ckpt["model"][key], value), f"{key} differs after resume ({where})"
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    for ref, got in zip(ref_rows, rows):
        for k in ("train/loss", "val/mIoU", "val/pixel_acc", "lr"):
            assert got[k] == ref[k], (where, k, ref["epoch"])


# --------------------------------------------------------------------------------------
# resume refuses before it changes anything
# --------------------------------------------------------------------------------------
CHECK = ["train.max_iters_per_epoch=1", "handlers.mask_snapshots.epochs=[]", "train.threads=1"]  # tensorboard on


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, list[str]]:
    """A finished 2-epoch run (tensorboard events, history, checkpoints) and its overrides."""
    from ignite_zoo.engines.launch import run_experiment
    from ignite_zoo.registry.recipe import load_recipe

    tmp = tmp_path_factory.mktemp("resume_checks")
    args = tiny_seg(tmp, *CHECK, "train.epochs=2", f"out.dir={tmp / 'run'}")
    run_experiment(load_recipe(DEMO, args))
    assert (tmp / "run" / "tb").is_dir()
    return tmp / "run", args


def _corrupt(run: Path) -> list[str]:
    last = run / "checkpoints" / "last_checkpoint_2.pt"
    last.write_bytes(last.read_bytes()[:1000])
    return ["resume=auto"]


def _locked(run: Path) -> list[str]:
    holder = subprocess.Popen(["sleep", "60"])
    _HOLDERS.append(holder)
    (run / ".lock").write_text(f"{holder.pid} {os.uname().nodename}\n")
    return ["resume=auto"]


_HOLDERS: list[subprocess.Popen] = []
REFUSALS = {
    "another_recipe": (lambda run: ["resume=auto", "model.head.hidden=16"],
                       ["does not fit this model", "shape mismatches"]),
    "fewer_epochs": (lambda run: ["resume=auto", "train.epochs=1"],
                     ["has finished 2 epochs and train.epochs=1 asks for fewer", "train.epochs >= 2"]),
    "other_epoch_length": (lambda run: ["resume=auto", "train.max_iters_per_epoch=2", "train.epochs=3"],
                           ["was trained with 1 iterations per epoch and this recipe gives 2"]),
    "best_checkpoint": (lambda run: [f"resume={next((run / 'checkpoints').glob('best_*.pt'))}", "train.epochs=3"],
                        ["lacks optimizer, trainer", "best checkpoint"]),
    "corrupt_checkpoint": (_corrupt, ["last_checkpoint_2.pt: not a checkpoint", "truncated, corrupt"]),
    "locked_by_a_live_process": (_locked, ["is in use by process"]),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_refused_resume_changes_no_file_of_the_run(capsys, finished, tmp_path, case):
    """sha256 of every file before and after: nothing rewritten, no tb/ events, no lock left."""
    import shutil

    from tests.cli_check import snapshot, user_error

    run = Path(shutil.copytree(finished[0], tmp_path / "run"))
    make, fragments = REFUSALS[case]
    extra = make(run)
    before = snapshot(run)
    try:
        user_error(capsys, "run", DEMO, *finished[1][:-1], f"out.dir={run}", *extra, expect=fragments)
    finally:
        for holder in _HOLDERS:
            holder.kill()
            holder.wait()
        _HOLDERS.clear()
    assert snapshot(run) == before


def test_resume_of_a_finished_run_with_equal_epochs_says_so_and_changes_nothing(capsys, caplog, finished, tmp_path):
    import logging
    import shutil

    from ignite_zoo.registry.cli import main_guard
    from tests.cli_check import load_tool, snapshot

    run = Path(shutil.copytree(finished[0], tmp_path / "run"))
    before = snapshot(run)
    with caplog.at_level(logging.WARNING, logger="engines"):
        code = main_guard(load_tool("run").main, [str(DEMO), *finished[1][:-1], f"out.dir={run}", "resume=auto"])
    assert code == 0, capsys.readouterr().err[-3000:]
    said = [r.getMessage() for r in caplog.records if "nothing to do" in r.getMessage()]
    assert said and "has finished all 2 epochs" in said[0], [r.getMessage() for r in caplog.records]
    assert snapshot(run) == before
