"""Time to quality on the real tiles: the quarter-width FCN8s baseline and the shipped CPU
recipe for real tiles, trained one after the other in one run, each as a user runs it.

Both train from random init on the course's 257 pairs (``sat512``: the first 200 train, the
last 57 validate) on this machine's cores, data loading and validation included. The
baseline is FCN8s on a quarter-width VGG16-BN (Adam 1e-3, poly schedule, 256-pixel crops,
30 epochs); the recipe is ``recipes/seg_fcn8s_vgg16bn_sat_cpu.yaml`` unchanged: the
baseline's settings with half the crops centred on Rangeland, cut to 24 epochs. Rows:
each side's final validation mIoU, Rangeland IoU and wall time; the recipe's targets are
mIoU >= 0.55 within 600 s.
--quick trains each side for two steps on two validation tiles (the rows say so): it
checks that the row runs, not the quality.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, row, shared_data

RECIPE = ROOT / "recipes" / "seg_fcn8s_vgg16bn_sat_cpu.yaml"
BASELINE = (ROOT / "recipes" / "seg_fcn8s_vgg16_sat.yaml", [
    'data.train.split="[:200]"', 'data.val.split="[200:]"',
    "data.train.transforms=[{type: HorizontalFlip, p: 0.5}, {type: VerticalFlip, p: 0.5}, "
    "{type: RandomRotate90, p: 0.5}, {type: RandomScaleCrop, size: 256, scale: [0.75, 1.5]}]",
    "model.backbone={type: vgg16_bn, width: 0.25, weights: null}",
    "model.head={type: fcn8s, hidden: 512, dropout: 0.0, num_classes: 7}",
    "optim={_replace_: true, type: adam, lr: 0.001}", "sched={type: poly, power: 0.9, warmup_epochs: 0}",
    "train.epochs=30", "eval.every=5",
])
QUICK = ["train.epochs=1", "train.max_iters_per_epoch=2", 'data.val.split="[200:202]"', "data.loader.num_workers=0"]
QUIET = ["handlers.progress=false", "handlers.mask_snapshots=false", "handlers.tensorboard=false"]


def train(recipe: Path, overrides: list[str], root: Path, out: Path) -> tuple[dict[str, Any], float]:
    """One run through tools/run.py in its own process; (its final scores, wall seconds)."""
    cmd = [sys.executable, str(ROOT / "tools" / "run.py"), str(recipe), f"data.root={root}", f"out.dir={out}",
           *QUIET, *overrides]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-3000:]}")
    return json.loads((out / "metrics.json").read_text())["final"], seconds


def run(quick: bool = True, threads: int | None = None) -> list[dict[str, Any]]:
    root = shared_data() / "sat512"
    if not root.is_dir():
        print(f"quality: {root} not found (set IGNITE_ZOO_SHARED_DATA); no rows", file=sys.stderr)
        return []
    extra = QUICK if quick else []
    tag = " (quick: 2 steps, 2 tiles)" if quick else ""
    rows = []
    with tempfile.TemporaryDirectory(prefix="quality_") as tmp:
        for name, recipe, overrides, targets in (
            ("FCN8s 1/4 VGG16-BN baseline", BASELINE[0], BASELINE[1], (None, None)),
            (RECIPE.stem, RECIPE, [], (">= 0.55", "<= 600")),
        ):
            final, seconds = train(recipe, [*overrides, *extra], root, Path(tmp) / name.replace(" ", "_"))
            miou_target, time_target = (None, None) if quick else targets
            rows += [
                row(f"quality: {name}: val mIoU after {final['epoch']} epochs{tag}", final["val/mIoU"], "mIoU",
                    miou_target),
                row(f"quality: {name}: Rangeland IoU{tag}", final["val/IoU/Rangeland"], "IoU"),
                row(f"quality: {name}: wall time, data and validation included{tag}", seconds, "s", time_target, 0),
            ]
    return rows
