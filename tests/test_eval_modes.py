"""Validation in overlapping tiles (``eval.mode: slide``) for scenes too large to predict whole."""
from __future__ import annotations

import csv
import json

import pytest

from ignite_zoo.engines.launch import run_experiment
from ignite_zoo.registry.recipe import load_recipe
from tests.helpers import DEMO, tiny_seg


def _val(run_dir) -> dict:
    with open(run_dir / "history.csv") as f:
        return list(csv.DictReader(f))[-1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("modes")
    common = ["train.epochs=1", "train.max_iters_per_epoch=2", "handlers.tensorboard.enabled=false",
              "handlers.mask_snapshots.epochs=[]", "train.amp=false", "train.threads=1", "data.args.size=64"]
    out = {}
    for name, extra in {"whole": ["eval.mode=whole"], "one_tile": ["eval.mode=slide", "eval.tile=64"],
                        "tiles": ["eval.mode=slide", "eval.tile=32", "eval.overlap=8"]}.items():
        recipe = load_recipe(DEMO, tiny_seg(tmp, *common, *extra, f"out.dir={tmp / name}"))
        out[name] = {**_val(run_experiment(recipe)), "dir": tmp / name}
    return out


def test_a_tile_that_covers_the_image_validates_exactly_as_whole_images(runs):
    for key in ("val/mIoU", "val/pixel_acc", "val/loss"):
        assert float(runs["one_tile"][key]) == pytest.approx(float(runs["whole"][key]), abs=1e-6), key


def test_small_tiles_validate_every_pixel(runs):
    """Every validation pixel is scored exactly once: the confusion matrix's rows (the true
    classes' pixel counts) are the same for tiles as for whole images, while the tiles'
    logits (less context) differ."""
    counts = {name: json.loads((runs[name]["dir"] / "confusion_matrix.json").read_text())["counts"]
              for name in ("whole", "tiles")}
    rows = {name: [sum(row) for row in c] for name, c in counts.items()}
    assert rows["tiles"] == rows["whole"] and sum(rows["whole"]) > 0
    assert runs["tiles"]["val/loss"] != runs["whole"]["val/loss"]  # other logits (less context), same pixels
    assert float(runs["tiles"]["train/loss"]) == pytest.approx(float(runs["whole"]["train/loss"]), rel=1e-6)
