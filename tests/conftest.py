"""Shared test setup: offline hubs, the real sample data folder, small helpers."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # timm must never try the network
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
#: Real course samples (see SOURCES.md there); never copied into the repo.
SHARED_DATA = Path(os.environ.get("IGNITE_ZOO_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real satellite validation split and FCN32s predictions, or a skip saying why."""
    if not (SHARED_DATA / "sat512").is_dir():
        pytest.skip(
            f"real sample data not found at {SHARED_DATA} (set IGNITE_ZOO_SHARED_DATA to the folder "
            "holding sat512/ and sat512_pred_fcn32s/)"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


# -- runs shared by every module that only reads a run ---------------------------------------
#: The shared tiny segmentation run's settings: seg_demo shrunk (tests/helpers.py's TINY_SEG),
#: one epoch of two steps, no TensorBoard, no snapshots, one thread. ``sched=null``: a
#: finished run may be resumed for more epochs (a schedule spanning the run refuses that).
SEG_RUN = ["train.epochs=1", "train.max_iters_per_epoch=2", "handlers.tensorboard.enabled=false",
           "handlers.mask_snapshots.epochs=[]", "train.threads=1", "sched=null"]

#: The shared classification run: a narrow VGG16-BN that reaches about 90% on the bundled
#: digits in 6 epochs of about a second each (Adam, no dropout, 1x1 pooling before the
#: classifier, no augmentation, one thread); TensorBoard on.
CLS_RUN = ["train.epochs=6", "train.device=cpu", "train.threads=1", "model.backbone.type=vgg16_bn",
           "model.backbone.width=0.125", "model.head.hidden=256", "model.head.pool_size=1", "model.head.dropout=0",
           "optim={type: adam, lr: 0.001}", "sched=null", "data.train.transforms=[]", "handlers.progress=false"]


class SharedRun:
    """A finished run made once per test run. Tests read it and never write into it: a test
    that writes (resumes, adds files) works on ``copy(dest)``. ``args``: the recipe overrides
    that made it (``data.root`` included, ``out.dir`` not), for a test resuming a copy."""

    def __init__(self, dir: Path, recipe: Path, args: list[str]) -> None:
        self.dir, self.recipe, self.args = dir, recipe, args

    def copy(self, dest: Path) -> Path:
        import shutil

        return Path(shutil.copytree(self.dir, dest))


def _train(recipe: Path, args: list[str], out: Path) -> Path:
    import torch

    from ignite_zoo.engines.launch import run_experiment
    from ignite_zoo.registry.recipe import load_recipe

    threads = torch.get_num_threads()
    try:
        return run_experiment(load_recipe(recipe, [*args, f"out.dir={out}"]))
    finally:
        torch.set_num_threads(threads)  # train.threads is process-wide


@pytest.fixture(scope="session")
def tiny_seg_run(tmp_path_factory) -> SharedRun:
    """seg_demo's FCN8s, tiny (see SEG_RUN): ``dir`` holds checkpoints/last_checkpoint_1.pt."""
    from tests.helpers import DEMO, tiny_seg

    tmp = tmp_path_factory.mktemp("shared_seg")
    args = tiny_seg(tmp, *SEG_RUN)
    return SharedRun(_train(DEMO, args, tmp / "run"), DEMO, args)


@pytest.fixture(scope="session")
def tiny_cls_run(tmp_path_factory) -> SharedRun:
    """The digits classifier of CLS_RUN: 6 epochs, TensorBoard events, checkpoints."""
    recipe = REPO / "recipes" / "cls_vgg16_digits.yaml"
    tmp = tmp_path_factory.mktemp("shared_cls")
    return SharedRun(_train(recipe, CLS_RUN, tmp / "run"), recipe, list(CLS_RUN))
