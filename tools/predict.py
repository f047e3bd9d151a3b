#!/usr/bin/env python
"""Predict masks for a folder of images with a trained segmentation run.

Examples:
  python tools/predict.py runs/seg_fcn32s_vgg16_sat/20240101-120000 data/validation preds/
  python tools/predict.py best_checkpoint_20_mIoU=0.6712.pt images/ preds/ --tta flip --device cuda
  python tools/predict.py runs/seg_demo/RUN scenes/ preds/ --tile 512 --overlap 128
  python tools/predict.py model.onnx data/validation preds/      # an exported model (tools/export.py)

INPUT_DIR holds images named as the run's dataset names them (data.type in its recipe);
for each one OUTPUT_DIR gets a mask named as that dataset names masks: a palette PNG at
the image's full resolution whose indices are class ids and whose colours are the
dataset's, so index readers and colour readers see the same classes. Images go through
the run's own evaluation preprocessing (its data.val.transforms and normalisation), with
the run's precision (train.amp; on CPUs with bf16 the weights of a model without
normalization layers are held in bf16 once, which computes the same) and validation
batch size, so `tools/evaluate.py OUTPUT_DIR <truth folder> --run RUN`
reproduces the run's validation mIoU. --tile predicts in overlapping windows whose
logits are blended (memory bounded by the window batch); --tile-above only tiles images
whose longer side is larger. A .tif INPUT_DIR (or a folder of GeoTIFFs) is predicted
window by window into OUTPUT_DIR/NAME.tif: a class raster with the scene's CRS,
geotransform and size, a colour table and nodata (see docs/geospatial.md).
OUTPUT_DIR may not be INPUT_DIR nor hold files that this tool did not write
(--overwrite allows both).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

if not __package__:  # a script in a checkout: ``ignite_zoo`` names this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _checkout  # noqa: F401

from ignite_zoo.registry.cli import main_guard, tool_parser  # noqa: E402  (light: no torch)
from ignite_zoo.registry.errors import UsageError  # noqa: E402


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = tool_parser("tools/predict.py", __doc__)
    p.add_argument("checkpoint", metavar="RUN_DIR_OR_CHECKPOINT",
                   help="a run directory (its best checkpoint; --last for its latest), a checkpoint .pt, "
                        "or a model exported with tools/export.py (.onnx)")
    p.add_argument("input_dir", metavar="INPUT_DIR", help="folder of images, named as the run's dataset names them")
    p.add_argument("output_dir", metavar="OUTPUT_DIR", help="folder to write the masks into (created)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="images per forward pass (default: the run's validation batch size)")
    p.add_argument("--tta", choices=["flip", "d4"], default=None,
                   help="test-time augmentation, averaging logits: 'flip' (the image and its mirror image) or "
                        "'d4' (its 8 flips and right-angle turns); default: the recipe's eval.tta")
    p.add_argument("--device", default=None,
                   help="'cpu', 'cuda', 'cuda:1' or 'auto' (default: the recipe's train.device)")
    p.add_argument("--last", action="store_true", help="with a run directory: use its latest checkpoint, not its best")
    p.add_argument("--tile", type=int, default=None,
                   help="predict in windows of TILE x TILE pixels (default: the recipe's eval settings: whole "
                        "images, tiled where they would need more than about 2 GiB of activations)")
    p.add_argument("--overlap", type=int, default=None,
                   help="pixels shared by neighbouring windows (default: the recipe's eval.overlap, else a quarter "
                        "of the tile)")
    p.add_argument("--tile-above", type=int, default=None, metavar="PIXELS",
                   help="tile only images whose longer side exceeds PIXELS (default: the recipe's "
                        "eval.tile_above; tiling then uses --tile or 512)")
    p.add_argument("--blend", choices=["gaussian", "linear", "mean"], default=None,
                   help="weights of overlapping windows' logits (default gaussian)")
    p.add_argument("--whole", action="store_true", help="never tile, whatever the image size")
    p.add_argument("--probabilities", action="store_true",
                   help="GeoTIFF scenes: also write NAME_probabilities.tif, one uint8 band of scores per class")
    p.add_argument("--overwrite", action="store_true",
                   help="allow OUTPUT_DIR to hold other files (masks of the same names are replaced); it is "
                        "never the input folder or inside it")
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers decoding images (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p.parse_args(list(argv))


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    for flag, value, least in (("--batch-size", args.batch_size, 1), ("--workers", args.workers, 0),
                               ("--tile", args.tile, 1), ("--overlap", args.overlap, 0),
                               ("--tile-above", args.tile_above, 0)):
        if value is not None and value < least:
            raise UsageError(f"{flag} {value}: expected {'a positive integer' if least else '0 or more'}")
    if args.tile is not None and args.overlap is not None and args.overlap >= args.tile:
        raise UsageError(f"--overlap {args.overlap}: expected less than --tile ({args.tile})")

    from ignite_zoo.engines.inference import load_predictor, predict_folder
    from ignite_zoo.engines.inference.predict import check_input_folder
    from ignite_zoo.engines.inference.scenes import is_scene_input, predict_scenes

    if is_scene_input(args.input_dir):  # GeoTIFF scenes: class rasters on the scenes' own map grids
        trained = load_predictor(args.checkpoint, args.device, last=args.last, tta=args.tta)
        done = predict_scenes(trained, args.input_dir, args.output_dir, tile=args.tile, overlap=args.overlap,
                              probabilities=args.probabilities, overwrite=args.overwrite,
                              progress=not args.no_progress, blend=args.blend)
        print(f"wrote {len(done)} class rasters to {Path(args.output_dir)}")
        return 0

    check_input_folder(args.checkpoint, args.input_dir)  # a run's wrong or empty folder fails before its model loads
    trained = load_predictor(args.checkpoint, args.device, last=args.last, tta=args.tta, tile=args.tile,
                             overlap=args.overlap, above=args.tile_above, blend=args.blend,
                             mode="whole" if args.whole else None)
    s = trained.predictor.settings
    print(f"model: {trained.source}", file=sys.stderr)
    print(f"device: {trained.device}, precision: {trained.precision}" + (f", tta: {s.tta}" if s.tta else ""),
          file=sys.stderr)
    if s.mode != "whole":
        where = {"slide": "all images" if s.above is None else f"images larger than {s.above} px",
                 "auto": f"images needing more than {s.memory_gib:g} GiB of activations"}[s.mode]
        print(f"tiles: {s.tile} px, overlap {s.window_overlap} px, {s.blend} blending, {where}", file=sys.stderr)
    result = predict_folder(trained, args.input_dir, args.output_dir, args.batch_size,
                            num_workers=args.workers, progress=not args.no_progress, overwrite=args.overwrite)
    tiled = f" ({result.tiled} in tiles)" if result.tiled else ""
    print(f"wrote {len(result.ids)} masks{tiled} to {result.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main_guard(main))
