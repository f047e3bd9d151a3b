"""A run tells its story: a header, one plain line per epoch, a closing table; small best checkpoints."""
from __future__ import annotations

import re

import pytest
import torch

from tests.helpers import DEMO, run_tool, tiny_seg


@pytest.fixture(scope="module")
def told(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("console")
    proc = run_tool("run", DEMO, *tiny_seg(tmp, "train.epochs=2", "train.max_iters_per_epoch=2", f"out.dir={tmp / 'run'}",
                                          "handlers.mask_snapshots.epochs=[1, 7]", "handlers.progress=true"))
    return proc, tmp / "run"


def test_each_epoch_is_one_line_and_the_end_a_table(told):
    proc, run = told
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"run {run}: starting; 2 epochs on cpu") and "backbone from random init" in lines[0]
    epochs = [ln for ln in lines if ln.startswith("epoch ")]
    assert len(epochs) == 2
    for n, line in enumerate(epochs, 1):
        assert re.fullmatch(rf"epoch {n}/2  loss \S+  val/mIoU \d\.\d{{3}} \(best \d\.\d{{3}} @[12]\)  \d+ s", line), line
    table = dict(re.split(r"\s{2,}", ln.strip(), maxsplit=1) for ln in lines if ln.startswith("  "))
    assert table["metric"] == "val/mIoU" and table["run directory"] == str(run)
    assert table["best checkpoint"].startswith(str(run / "checkpoints" / "best_checkpoint_"))
    assert re.fullmatch(r"\d+ s", table["wall time"])


def test_output_to_a_file_holds_no_progress_bar_fragments(told):
    proc, _ = told  # stdout and stderr are pipes here, as when a user writes them to a log
    assert "\r" not in proc.stdout and "\r" not in proc.stderr and "\x1b[" not in proc.stderr


def test_snapshot_epochs_beyond_the_run_are_named_at_start(told):
    proc, run = told
    assert "handlers.mask_snapshots.epochs: [7] beyond train.epochs=2" in proc.stderr
    assert (run / "masks" / "epoch_1").is_dir() and not (run / "masks" / "epoch_7").exists()


def test_best_checkpoints_hold_weights_and_recipe_only_and_sizes_are_said(told):
    proc, run = told
    (best,) = (run / "checkpoints").glob("best_*.pt")
    (last,) = (run / "checkpoints").glob("last_*.pt")  # keep_last defaults to 1
    assert set(torch.load(best, weights_only=True)) == {"model", "recipe"}
    assert {"model", "optimizer", "trainer", "recipe"} <= set(torch.load(last, weights_only=True))
    assert best.stat().st_size < last.stat().st_size
    assert re.search(r"checkpoint last_checkpoint_1\.pt: [\d.]+ MiB \(whole training state", proc.stderr)
    assert re.search(r"checkpoint best_checkpoint_1_mIoU=[\d.]+\.pt: [\d.]+ MiB \(weights and recipe", proc.stderr)
