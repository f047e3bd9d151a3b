"""Real size, real data: the course's FCN8s recipe (full VGG16, 512x512, its augmentation,
snapshots of 0010/0097/0107) runs on real satellite tiles: one training step of one tile,
validation of the three snapshot tiles."""
from __future__ import annotations

import csv

import pytest

from ignite_zoo.engines.launch import run_experiment
from ignite_zoo.registry.recipe import load_recipe
from tests.helpers import REPO

pytestmark = pytest.mark.slow


def test_fcn8s_course_recipe_on_real_tiles(shared_data, tmp_path):
    data = tmp_path / "data"  # the run's folder lies beside the data, never inside it
    # 0177 holds the 7 red pixels; validation holds the course's snapshot ids
    for split, ids in (("train", ("0010", "0177")), ("validation", ("0010", "0097", "0107"))):
        (data / split).mkdir(parents=True)
        for id_ in ids:
            for suffix in ("_sat.jpg", "_mask.png"):
                (data / split / f"{id_}{suffix}").symlink_to(shared_data / "sat512" / f"{id_}{suffix}")
    recipe = load_recipe(REPO / "recipes" / "seg_fcn8s_vgg16_sat.yaml", [
        f"data.root={data}", "data.loader.batch_size=1", "data.loader.num_workers=0",
        "train.epochs=1", "train.max_iters_per_epoch=1", "handlers.checkpoint.keep_best=0",
        "handlers.progress=false", f"out.dir={tmp_path / 'run'}", "model.backbone.weights=null",
    ])
    with pytest.warns(UserWarning, match="0177_mask.png: 7 red"):
        run_dir = run_experiment(recipe)
    with open(run_dir / "history.csv") as f:
        (row,) = list(csv.DictReader(f))
    assert float(row["train/loss"]) > 0 and 0 <= float(row["val/mIoU"]) <= 1
    for id_ in ("0010", "0097", "0107"):
        assert (run_dir / "masks" / "epoch_1" / f"{id_}_mask.png").is_file()
    assert (run_dir / "checkpoints" / "last_checkpoint_1.pt").is_file()
