"""A killed run resumed with ``resume=auto`` ends with the weights and metrics of a run that
was never interrupted (CPU, deterministic): killed mid-epoch, during validation, and in the
middle of writing a checkpoint.

The kills come from a plugin module (loaded through the recipe's ``imports:``, exactly as a
user's head would be) that SIGKILLs its own process at a chosen point.
"""
from __future__ import annotations

import csv
import textwrap
from pathlib import Path

import pytest
import torch

from engines.checkpoint import read_checkpoint
from tests.helpers import DEMO, run_tool, tiny_seg

pytestmark = pytest.mark.slow

KILLER = textwrap.dedent('''
    """Test plugin: SIGKILL this process at the point named by ZOO_KILL=<where>:<count>."""
    import os
    import signal

    import torch

    import engines.evaluator as evaluator
    from registry import LOSSES
    from zoo.losses import CrossEntropyLoss as cross_entropy

    WHERE, _, COUNT = os.environ.get("ZOO_KILL", ":").partition(":")
    COUNT = int(COUNT or 0)
    calls = {"train": 0, "val": 0, "save": 0}

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    @LOSSES.register("killing_ce")
    def killing_ce(**kw):
        inner = cross_entropy(**kw)

        def loss(logits, target):
            calls["train"] += 1
            if WHERE == "train" and calls["train"] == COUNT:
                die()
            return inner(logits, target)
        return loss

    _predict = evaluator.predict_logits

    def predict(*a, **kw):
        calls["val"] += 1
        if WHERE == "val" and calls["val"] == COUNT:
            die()
        return _predict(*a, **kw)

    evaluator.predict_logits = predict

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
