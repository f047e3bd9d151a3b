"""Pre-flight: one training and one validation batch go through data -> model -> loss ->
metrics before the first epoch, so a head of the wrong output, a crop larger than the
images or a split of mixed image sizes stops the run within seconds with one line naming
the component and the sizes, and leaves no run directory behind.

Also here: ``train.compile`` on a machine whose compiler fails (one warning, the run goes
on uncompiled) and ``~`` in ``data.root``.
"""
from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from ignite_zoo.engines.launch import run_experiment
from ignite_zoo.registry.recipe import load_recipe
from tests.cli_check import no_run_left, user_error
from tests.helpers import DEMO, REPO, run_tool, tiny_seg
from ignite_zoo.zoo.data.masks import write_mask

FAST = ["train.epochs=1", "train.max_iters_per_epoch=1", "handlers.tensorboard.enabled=false",
        "handlers.mask_snapshots.epochs=[]", "train.threads=1"]
SAT = REPO / "recipes" / "seg_fcn32s_vgg16_sat.yaml"

BAD_HEADS = '''
from torch import nn
from ignite_zoo.registry import HEADS


@HEADS.register("coarse_head")
class CoarseHead(nn.Module):
    """Forgets to upsample: logits at 1/32 of the input size."""

    def __init__(self, backbone, num_classes):
        super().__init__()
        self.backbone = backbone
        self.score = nn.Conv2d(backbone.channels[32], num_classes, 1)

    def forward(self, x):
        return self.score(self.backbone(x)[32])


@HEADS.register("dict_head")
class DictHead(CoarseHead):
    """Returns torchvision's {"out": logits} instead of the logits."""

    def forward(self, x):
        return {"out": super().forward(x)}
'''


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("preflight")


@pytest.fixture(scope="module")
def head_recipe(data_dir) -> Path:
    """A recipe beside a plugin module of two wrong heads."""
    (data_dir / "bad_heads_plugin.py").write_text(BAD_HEADS)
    recipe = data_dir / "bad_head.yaml"
    recipe.write_text(f"_base_: {DEMO}\nimports: [bad_heads_plugin]\n"
                      "model:\n  head: {_replace_: true, type: coarse_head, num_classes: 7}\n")
    return recipe


def _demo_args(data_dir: Path, out_root: Path, *extra: str) -> list[str]:
    return [*(o for o in tiny_seg(data_dir, *FAST, f"out.root={out_root}") if not o.startswith("model.head.")), *extra]


@pytest.mark.parametrize("head, fragments", [
    ("coarse_head", ["model.head: head 'coarse_head' returned logits of shape [2, 7, 1, 1]",
                     "for input [2, 3, 32, 32]", "expected [2, 7, 32, 32]"]),
    ("dict_head", ["model.head: head 'dict_head' returned dict", "expected a tensor of logits [N, 7, H, W]"]),
])
def test_a_head_with_the_wrong_output_stops_before_the_first_epoch(capsys, data_dir, head_recipe, head, fragments):
    out_root = data_dir / f"runs_{head}"
    start = time.perf_counter()
    user_error(capsys, "run", head_recipe, *_demo_args(data_dir, out_root, f"model.head.type={head}"),
               expect=fragments)
    assert time.perf_counter() - start < 60
    no_run_left(out_root)


def test_a_crop_larger_than_the_images_names_the_transform_and_both_sizes(capsys, data_dir):
    out_root = data_dir / "runs_crop"
    user_error(capsys, "run", DEMO, *tiny_seg(data_dir, *FAST, f"out.root={out_root}"),
               "data.train.transforms=[{type: RandomCrop, height: 600, width: 600}]",
               expect=["data.train.transforms[0] (RandomCrop) crops 600x600", "the image is 32x32",
                       str(data_dir / "demo_data" / "train")])
    no_run_left(out_root)


def _sat_split(folder: Path, sizes: list[int]) -> None:
    folder.mkdir(parents=True)
    for i, size in enumerate(sizes):
        rng = np.random.default_rng(i)
        cv2.imwrite(str(folder / f"{i:04d}_sat.jpg"), rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
        write_mask(folder / f"{i:04d}_mask.png", rng.integers(0, 6, (size, size)))


def test_images_of_different_sizes_in_one_split_name_two_files_and_their_sizes(capsys, tmp_path):
    root = tmp_path / "sat"
    _sat_split(root / "train", [32, 32])
    _sat_split(root / "validation", [32, 40, 32])
    message = user_error(capsys, "run", SAT, "model.backbone.width=0.125", "model.head.hidden=32",
                         "model.backbone.weights=null", "data.loader.batch_size=2", "data.train.transforms=[]",
                         "handlers.progress=false", f"data.root={root}", f"out.root={tmp_path / 'runs'}", *FAST,
                         expect=["0000_sat.jpg", "0001_sat.jpg", "32x32", "40x40"])
    assert str(root / "validation") in message, message
    no_run_left(tmp_path / "runs")


# --------------------------------------------------------------------------------------
# train.compile without a working compiler
# --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_compile_without_a_working_compiler_warns_once_and_trains_uncompiled(data_dir, tmp_path):
    """The C++ compiler inductor builds CPU kernels with is missing (``CXX``, read when torch
    loads its compiler settings, hence a fresh process; a fresh kernel cache so nothing
    compiled before is reused): one warning, and the run completes uncompiled."""
    env = {"CXX": "/nonexistent/c++", "CC": "/nonexistent/cc", "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "inductor")}
    proc = run_tool("run", DEMO, *tiny_seg(data_dir, *FAST, "train.compile=true", f"out.dir={tmp_path / 'run'}"),
                    env=env, timeout=240)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    warnings = [line for line in proc.stderr.splitlines() if "train.compile" in line]
    assert len(warnings) == 1, proc.stderr[-3000:]
    assert "WARNING" in warnings[0] and "C++ compiler" in warnings[0] and "running the model uncompiled" in warnings[0]
    assert (tmp_path / "run" / "checkpoints" / "last_checkpoint_1.pt").is_file()
    assert "run directory:" in proc.stdout


# --------------------------------------------------------------------------------------
# paths
# --------------------------------------------------------------------------------------
def test_data_root_with_a_tilde_is_the_home_folder(data_dir, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    recipe = load_recipe(DEMO, [*tiny_seg(data_dir, *FAST, f"out.dir={tmp_path / 'run'}"), "data.root=~/tiles"])
    run_dir = run_experiment(recipe)
    assert len(list((home / "tiles").rglob("*_sat.jpg"))) == 16
    assert not (Path.cwd() / "~").exists() and not (REPO / "~").exists()
    assert (run_dir / "checkpoints" / "last_checkpoint_1.pt").is_file()
