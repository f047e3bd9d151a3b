"""A run trained by 0.1 (heads holding the backbone, normalisation in the data pipeline)
still loads and predicts the same masks.

The 0.1 code is the project's own history: the last commit before the model took over its
input, written out with ``git archive`` and run as a user would (its ``tools/run.py`` binds
``ignite_zoo`` to that copy). Without the repository's history there is nothing to compare
with, and the test says so.
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import REPO, TINY_SEG, call_tool
from tests.test_predict import read_ids, write_images

#: the last commit with 0.1's model contract
OLD_COMMIT = "244bd125c6b6898fb10889d5f6c267c1f3cb7def"


@pytest.fixture(scope="module")
def old_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("from_0_1")
    have = subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", f"{OLD_COMMIT}^{{commit}}"],
                          capture_output=True)
    if have.returncode != 0:
        pytest.skip(f"commit {OLD_COMMIT[:12]} (0.1's model contract) is not in this clone's history")
    archive = subprocess.run(["git", "-C", str(REPO), "archive", OLD_COMMIT], capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tmp / "old", filter="data")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, str(tmp / "old" / "tools" / "run.py"), str(tmp / "old" / "recipes" / "seg_demo.yaml"),
         *TINY_SEG, "model.head.type=fcn8s", "train.epochs=1", "train.max_iters_per_epoch=2", "train.amp=false",
         "handlers.tensorboard.enabled=false", "handlers.mask_snapshots.epochs=[]",
         f"data.root={tmp / 'data'}", f"out.dir={tmp / 'run'}"],
        capture_output=True, text=True, env=env, timeout=300, cwd=str(tmp))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return tmp / "run"


def test_a_0_1_run_loads_and_predicts_the_masks_it_predicted(old_run, tmp_path, capsys):
    images = write_images(tmp_path / "images")
    old_tools = old_run.parent / "old" / "tools"
    proc = subprocess.run([sys.executable, str(old_tools / "predict.py"), str(old_run), str(images),
                           str(tmp_path / "by_0_1"), "--no-progress"],
                          capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    code, _, err = call_tool("predict", old_run, images, tmp_path / "now", "--no-progress", capsys=capsys)
    assert code == 0, err
    before, now = read_ids(tmp_path / "by_0_1"), read_ids(tmp_path / "now")
    assert before.keys() == now.keys() and len(now) == 3
    for name in now:
        assert np.array_equal(before[name], now[name]), name


def test_a_0_1_checkpoint_gets_todays_names_and_the_imagenet_normalisation(old_run):
    import torch

    from ignite_zoo.engines.checkpoint import load_model, read_checkpoint
    from ignite_zoo.engines.run_dir import RunDir

    ckpt = RunDir.open(old_run).checkpoint()
    old_keys = set(read_checkpoint(ckpt)["model"])
    assert "fc6.weight" in old_keys and not any(k.startswith("head.") for k in old_keys)  # truly 0.1's layout
    model, recipe = load_model(old_run)
    assert recipe["model"]["normalize"] is None  # 0.1 recipes normalised with the pipeline's ImageNet default
    torch.testing.assert_close(model.pixel_mean.flatten(), torch.tensor([0.485, 0.456, 0.406]) * 255)
    assert torch.equal(model.head.fc6.weight, read_checkpoint(ckpt)["model"]["fc6.weight"])
