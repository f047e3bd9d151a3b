"""What tiling costs in accuracy: tiled against whole-image prediction on the real validation set.

A model small enough to train on a CPU in minutes (FCN8s on VGG16-BN at a quarter of the
channels, bf16, from scratch) is trained briefly on every other pair of the real
512x512 validation images (``IGNITE_ZOO_SHARED_DATA``, else ``../shared/data`` beside the
repository: ``sat512/``), so that its weights mean something; the other half is held out.
Then the same weights predict all 257 images twice with the project's own functions
(``engines.inference.predict_folder``): whole, and in 256-pixel tiles overlapping by 64
(Gaussian blending), and both folders are scored with ``evaluate_folders`` (the mIoU
training reports). Prints the two mIoUs (all 257 and the held-out half), their
difference, and the images/s of each way.

This is an accuracy figure, not a ratio of interleaved timings: it trains a model once
(several minutes), so it is not part of ``bench/run.py``.

    python bench/tiling_miou.py [--epochs 8] [--threads 2] [--json] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import shared_data  # noqa: E402

TILE, OVERLAP, BLEND, BATCH_TILES = 256, 64, "gaussian", 8  # 8 windows a batch: the images' batch of 8
RECIPE = ROOT / "recipes" / "seg_fcn8s_vgg16_sat.yaml"


def split_pairs(source: Path, root: Path) -> tuple[list[str], list[str]]:
    """``root/train`` (even positions) and ``root/validation`` (odd: held out) as links to the pairs."""
    from ignite_zoo.zoo.data import dataset_info

    layout = dataset_info({"type": "dlcv_sat"}).layout
    images = layout.images(source)
    masks = layout.masks(source)
    ids = [i for i, _ in images]
    parts = {"train": ids[0::2], "validation": ids[1::2]}
    paths = dict(images)
    for split, chosen in parts.items():
        (root / split).mkdir(parents=True)
        for id_ in chosen:
            for path in (paths[id_], masks[id_]):
                (root / split / path.name).symlink_to(path.resolve())
    return parts["train"], parts["validation"]


def train(root: Path, out: Path, epochs: int, threads: int) -> Path:
    from ignite_zoo.engines.launch import run_experiment
    from ignite_zoo.registry.recipe import load_recipe

    overrides = [
        f"data.root={root}", "data.loader.batch_size=8", "data.loader.num_workers=0",
        "data.train.transforms=[{type: HorizontalFlip, p: 0.5}, {type: VerticalFlip, p: 0.5}, "
        "{type: RandomRotate90, p: 0.5}, {type: RandomScaleCrop, size: 256, scale: [0.75, 1.5]}]",
        "model.backbone={type: vgg16_bn, width: 0.25, weights: null}",
        "model.head={type: fcn8s, hidden: 512, dropout: 0.0, num_classes: 7}",
        "optim={_replace_: true, type: adam, lr: 0.001}", "sched={type: poly, power: 0.9, warmup_epochs: 0}",
        f"train.epochs={epochs}", f"train.threads={threads}", "train.amp=auto", f"eval.every={epochs}",
        "handlers.mask_snapshots.epochs=[]", "handlers.tensorboard.enabled=false", "handlers.progress=false",
        f"out.dir={out}",
    ]
    return run_experiment(load_recipe(RECIPE, overrides))


def predict_and_score(run: Path, images: Path, work: Path, held_out: list[str], threads: int) -> dict[str, Any]:
    import torch

    from ignite_zoo.engines.inference import dataset_info, evaluate_folders, load_predictor, predict_folder

    torch.set_num_threads(threads)
    ways = {"whole": load_predictor(run, "cpu", mode="whole"),
            "tiled": load_predictor(run, "cpu", mode="slide", tile=TILE, overlap=OVERLAP, blend=BLEND,
                                    batch_tiles=BATCH_TILES)}
    info = dataset_info(ways["whole"].recipe["data"])
    truth_held = work / "truth_held_out"
    truth_held.mkdir()
    for id_ in held_out:
        name = info.layout.mask_name(id_)
        (truth_held / name).symlink_to((images / name).resolve())
    results: dict[str, Any] = {"precision": ways["whole"].precision}
    for way, predictor in ways.items():
        out = work / f"pred_{way}"
        start = time.perf_counter()
        done = predict_folder(predictor, images, out, progress=False)
        seconds = time.perf_counter() - start
        held = work / f"pred_{way}_held_out"
        held.mkdir()
        for id_ in held_out:
            name = info.layout.mask_name(id_)
            (held / name).symlink_to(out / name)
        results[way] = {
            "images": len(done.ids), "tiled_images": done.tiled, "seconds": seconds,
            "images_per_s": len(done.ids) / seconds,
            "miou": evaluate_folders(out, images, progress=False, info=info)["miou"],
            "miou_held_out": evaluate_folders(held, truth_held, progress=False, info=info)["miou"],
        }
    for key in ("miou", "miou_held_out"):
        results[f"difference_{key}"] = results["tiled"][key] - results["whole"][key]
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/tiling_miou.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=8, help="training epochs over the 129 training pairs (default 8)")
    p.add_argument("--threads", type=int, default=2, help="torch threads for training and prediction (default 2)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--keep", default=None, help="keep the run and the predicted masks in this new folder")
    args = p.parse_args(argv)
    source = shared_data() / "sat512"
    if not source.is_dir():
        print(f"error: {source} not found; set IGNITE_ZOO_SHARED_DATA to the folder holding sat512/", file=sys.stderr)
        return 2
    import logging
    import warnings

    logging.getLogger("zoo").setLevel(logging.ERROR)  # the from-scratch notice and the 7 red pixels
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    if args.keep and Path(args.keep).exists() and any(Path(args.keep).iterdir()):
        print(f"error: --keep {args.keep}: not empty; expected a new or empty folder", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="tiling_miou_") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        train_ids, held_out = split_pairs(source, work / "data")
        t0 = time.perf_counter()
        run = train(work / "data", work / "run", args.epochs, args.threads)
        train_s = time.perf_counter() - t0
        result = predict_and_score(run, source, work, held_out, args.threads)
        from ignite_zoo.engines.run_dir import RunDir

        run_val = RunDir.open(run).history()[-1]["val/mIoU"]  # the run's own score of the held-out half
    result.update({"train_pairs": len(train_ids), "held_out_pairs": len(held_out), "epochs": args.epochs,
                   "train_seconds": train_s, "total_seconds": time.perf_counter() - started,
                   "tile": TILE, "overlap": OVERLAP, "blend": BLEND, "threads": args.threads,
                   "cpu_count": os.cpu_count(), "run_validation_miou": run_val})
    if args.json:
        print(json.dumps(result))
        return 0
    w, t = result["whole"], result["tiled"]
    print(time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    print(f"FCN8s / VGG16-BN x0.25, {args.epochs} epochs on {len(train_ids)} pairs ({train_s:.0f} s), "
          f"{result['precision']}, {args.threads} threads")
    print(f"{'':34} {'all 257':>9} {'held out':>9} {'images/s':>9}")
    print(f"{'whole 512x512':34} {w['miou']:>9.4f} {w['miou_held_out']:>9.4f} {w['images_per_s']:>9.2f}")
    print(f"{f'tiled {TILE}, overlap {OVERLAP}, {BLEND}':34} {t['miou']:>9.4f} {t['miou_held_out']:>9.4f} "
          f"{t['images_per_s']:>9.2f}")
    print(f"{'tiled - whole':34} {result['difference_miou']:>+9.4f} {result['difference_miou_held_out']:>+9.4f}")
    print(f"(the run's own validation of the held-out half: mIoU {run_val:.4f}; total {result['total_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
