"""tools/predict.py and engines.inference.predict: masks for a folder, tiling, bf16 weights,
and the output-folder rule (never over the inputs or a user's files)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from tests.helpers import DEMO, REPO, call_tool

CLS = REPO / "recipes" / "cls_vgg16_digits.yaml"
SEG_TINY = ["model.backbone.type=vgg16", "model.backbone.width=0.125", "model.head.hidden=16", "data.args.size=32",
            "data.loader.batch_size=2"]


def make_run(folder: Path, recipe_path: Path = DEMO, overrides: tuple[str, ...] = (), seed: int = 0) -> Path:
    """A run directory holding one checkpoint of a randomly initialised model (no training):
    weights perturbed so that every path of the network, skips included, moves the logits."""
    from ignite_zoo.engines.checkpoint import RecipeState
    from ignite_zoo.registry.recipe import load_recipe
    from ignite_zoo.zoo import build_model

    recipe = load_recipe(recipe_path, [*overrides, f"out.dir={folder}"])
    torch.manual_seed(seed)
    model = build_model(recipe["model"])
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    torch.save({"model": model.state_dict(), "recipe": RecipeState(recipe).state_dict()},
               folder / "checkpoints" / "best_checkpoint_1_mIoU=0.5000.pt")
    return folder


def write_images(folder: Path, sizes=((32, 32), (32, 32), (40, 48))) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate(sizes):
        cv2.imwrite(str(folder / f"{i:04d}_sat.jpg"), rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    return folder


def read_ids(folder: Path) -> dict[str, np.ndarray]:
    from ignite_zoo.zoo.data import read_mask

    return {p.name: read_mask(p) for p in sorted(folder.glob("*_mask.png"))}


def predict_tool(*argv, capsys) -> tuple[int, str, str]:
    return call_tool("predict", *argv, "--no-progress", capsys=capsys)


@pytest.fixture(scope="module")
def seg_run(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("predict") / "run", overrides=(*SEG_TINY, "model.head.type=fcn8s"))


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    return write_images(tmp_path_factory.mktemp("images") / "in")


def test_bf16_weights_give_the_autocast_logits():
    """Weights held in bf16 compute what autocast computes, exactly; a model with batch norm
    keeps autocast, whose fp32 norm parameters bf16 ones would not reproduce."""
    from ignite_zoo.engines.inference.loading import hold_in_bf16
    from ignite_zoo.engines.predictor import forward_logits, torch_step
    from ignite_zoo.engines.step import StepConfig
    from ignite_zoo.zoo import build_model

    cpu = torch.device("cpu")
    fp32 = StepConfig(device=cpu, amp_dtype=None, channels_last=False, non_blocking=False)
    cfg = StepConfig(device=cpu, amp_dtype=torch.bfloat16, channels_last=True, non_blocking=False)
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1)) * 255

    def weights_dtype(model: torch.nn.Module) -> torch.dtype:
        return next(model.parameters()).dtype

    for backbone, casts in (("vgg16", True), ("vgg16_bn", False)):
        torch.manual_seed(0)
        model = build_model({"backbone": {"type": backbone, "width": 0.125},
                             "head": {"type": "fcn8s", "num_classes": 7, "hidden": 16}}).eval()
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.05 * torch.randn_like(p))
        assert not hold_in_bf16(model, fp32) and weights_dtype(model) == torch.float32
        model = model.to(memory_format=torch.channels_last)
        autocast = forward_logits(model, x, cfg)
        assert hold_in_bf16(model, cfg) is casts
        assert weights_dtype(model) == (torch.bfloat16 if casts else torch.float32)
        assert model.pixel_mean.dtype == torch.float32  # the input is normalised in float32, as under autocast
        held = torch_step(model, cfg)(x)
        assert held.dtype == torch.float32 and torch.equal(held, autocast), backbone


def test_predict_writes_one_mask_per_image_at_full_resolution(seg_run, images, tmp_path, capsys):
    code, out, err = predict_tool(seg_run, images, tmp_path / "out", capsys=capsys)
    assert code == 0, err
    masks = read_ids(tmp_path / "out")
    assert sorted(masks) == ["0000_mask.png", "0001_mask.png", "0002_mask.png"]
    assert masks["0002_mask.png"].shape == (40, 48)
    assert len({m.tobytes() for m in masks.values()}) == 3  # the images differ, so do the masks
    assert "wrote 3 masks" in out and "precision" in err


def test_tiles_covering_the_image_write_the_whole_image_masks(seg_run, images, tmp_path, capsys):
    assert predict_tool(seg_run, images, tmp_path / "whole", capsys=capsys)[0] == 0
    code, out, err = predict_tool(seg_run, images, tmp_path / "cover", "--tile", "64", "--overlap", "16",
                                  capsys=capsys)
    assert code == 0, err
    assert read_ids(tmp_path / "cover").keys() == read_ids(tmp_path / "whole").keys()
    for name, m in read_ids(tmp_path / "whole").items():
        assert np.array_equal(read_ids(tmp_path / "cover")[name], m)
    code, out, err = predict_tool(seg_run, images, tmp_path / "tiny", "--tile", "16", capsys=capsys)
    assert code == 2 and "tile 16: expected at least 32 pixels" in err  # a window smaller than the deepest stride
    code, out, err = predict_tool(seg_run, images, tmp_path / "tiled", "--tile", "32", "--overlap", "8",
                                  capsys=capsys)
    assert code == 0, err
    assert "(1 in tiles)" in out and "tiles: 32 px, overlap 8 px" in err  # the 32x32 ones are one window
    tiled = read_ids(tmp_path / "tiled")
    assert tiled["0002_mask.png"].shape == (40, 48)
    assert np.array_equal(tiled["0000_mask.png"], read_ids(tmp_path / "whole")["0000_mask.png"])
    code, out, err = predict_tool(seg_run, images, tmp_path / "big_only", "--tile", "32", "--overlap", "8",
                                  "--tile-above", "40", capsys=capsys)
    assert code == 0, err
    assert "(1 in tiles)" in out  # only the 40x48 image is larger than 40 px
    big_only = read_ids(tmp_path / "big_only")
    assert np.array_equal(big_only["0002_mask.png"], tiled["0002_mask.png"])
    assert np.array_equal(big_only["0000_mask.png"], read_ids(tmp_path / "whole")["0000_mask.png"])


def test_output_folder_rule(seg_run, images, tmp_path, capsys):
    for out in (images, images / "preds"):  # the input folder, or inside it: never, even with --overwrite
        code, _, err = predict_tool(seg_run, images, out, "--overwrite", capsys=capsys)
        assert code == 2 and "is inside the input" in err
    assert not list(images.rglob("*_mask.png")) and not (images / "preds").exists()
    users = tmp_path / "users"
    users.mkdir()
    (users / "notes.txt").write_text("the user's own file")
    code, _, err = predict_tool(seg_run, images, users, capsys=capsys)
    assert code == 2 and "holds files this tool did not write (notes.txt)" in err and "--overwrite" in err
    out = tmp_path / "again"
    assert predict_tool(seg_run, images, out, capsys=capsys)[0] == 0
    # masks already there may be anyone's (no manifest among masks): refreshing them is asked for
    code, _, err = predict_tool(seg_run, images, out, capsys=capsys)
    assert code == 2 and "mask(s) of the names this tool writes" in err and "--overwrite" in err
    assert "REPLACING 0000_mask.png, 0001_mask.png, 0002_mask.png" in err
    assert predict_tool(seg_run, images, out, "--overwrite", capsys=capsys)[0] == 0
    code, _, err = predict_tool(seg_run, images, users, "--overwrite", capsys=capsys)
    assert code == 0, err
    assert (users / "notes.txt").read_text() == "the user's own file" and len(list(users.glob("*_mask.png"))) == 3


def test_predict_refuses_a_classification_run(tmp_path, images, capsys):
    run = make_run(tmp_path / "cls", CLS, ("model.backbone.width=0.125", "model.head.hidden=16",
                                           "model.head.pool_size=1"))
    code, _, err = predict_tool(run, images, tmp_path / "out", capsys=capsys)
    assert code == 2 and "'classification' model" in err and "segmentation run" in err
