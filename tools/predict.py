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
whose longer side is larger. OUTPUT_DIR may not be INPUT_DIR nor hold files that this
tool did not write (--overwrite allows both).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

if not __package__:  # a script in a checkout: ``ignite_zoo`` names this checkout
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
    p.add_argument("--tta", choices=["flip"], default=None,
                   help="test-time augmentation: 'flip' averages the horizontally flipped prediction in")
    p.add_argument("--device", default=None,
                   help="'cpu', 'cuda', 'cuda:1' or 'auto' (default: the recipe's train.device)")
    p.add_argument("--last", action="store_true", help="with a run directory: use its latest checkpoint, not its best")
    p.add_argument("--tile", type=int, default=None,
                   help="predict in windows of TILE x TILE pixels (default: the recipe's eval.tile when "
                        "eval.mode is slide, else whole images)")
    p.add_argument("--overlap", type=int, default=None,
                   help="pixels shared by neighbouring windows (default: the recipe's eval.overlap, else a quarter "
                        "of the tile)")
    p.add_argument("--tile-above", type=int, default=None, metavar="PIXELS",
                   help="tile only images whose longer side exceeds PIXELS (default: the recipe's "
                        "eval.tile_above; tiling then uses --tile or 512)")
    p.add_argument("--blend", choices=["gaussian", "linear", "mean"], default="gaussian",
                   help="weights of overlapping windows' logits (default gaussian)")
    p.add_argument("--overwrite", action="store_true",
                   help="allow OUTPUT_DIR to be INPUT_DIR or to hold files this tool did not write")
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

    from ignite_zoo.engines.inference import SlideSettings, load_predictor, predict_folder
    from ignite_zoo.engines.inference.predict import check_input_folder

    check_input_folder(args.checkpoint, args.input_dir)  # a run's wrong or empty folder fails before its model loads
    predictor = load_predictor(args.checkpoint, args.device, last=args.last, tta=args.tta)
    slide = SlideSettings.from_recipe(predictor.recipe, tile=args.tile, overlap=args.overlap,
                                      above=args.tile_above, blend=args.blend)
    print(f"model: {predictor.source}", file=sys.stderr)
    print(f"device: {predictor.device}, precision: {predictor.precision}", file=sys.stderr)
    if slide.mode == "slide":
        where = "all images" if slide.above is None else f"images larger than {slide.above} px"
        print(f"tiles: {slide.tile} px, overlap {slide.overlap} px, {slide.blend} blending, {where}", file=sys.stderr)
    result = predict_folder(predictor, args.input_dir, args.output_dir, args.batch_size, slide,
                            num_workers=args.workers, progress=not args.no_progress, overwrite=args.overwrite)
    tiled = f" ({result.tiled} in tiles)" if result.tiled else ""
    print(f"wrote {len(result.ids)} masks{tiled} to {result.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main_guard(main))
