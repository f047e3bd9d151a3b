#!/usr/bin/env python
"""Predict land-cover masks for a folder of satellite images with a trained segmentation run.

Examples:
  python tools/predict.py runs/seg_fcn32s_vgg16_sat/20240101-120000 p2_data/validation preds/
  python tools/predict.py best_checkpoint_20_mIoU=0.6712.pt images/ preds/ --tta flip --device cuda
  python tools/predict.py runs/seg_demo/RUN data/demo_sat/validation preds/ --last

For every <id>_sat.jpg in INPUT_DIR it writes OUTPUT_DIR/<id>_mask.png: a palette PNG at the
image's full resolution, in the 7 class colours the course's evaluation reads. Images go
through the run's own evaluation preprocessing (its data.val.transforms, then ImageNet
normalisation), with the run's autocast precision (train.amp) and validation batch size,
so `tools/evaluate.py OUTPUT_DIR <truth folder>` reproduces the run's validation mIoU.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

if not __package__:  # run as a script from a checkout: the packages are beside tools/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from registry.cli import main_guard, tool_parser  # noqa: E402  (light: no torch)
from registry.errors import UsageError  # noqa: E402


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = tool_parser("tools/predict.py", __doc__)
    p.add_argument("checkpoint", metavar="CHECKPOINT_OR_RUN_DIR",
                   help="a checkpoint .pt, or a run directory (its best checkpoint; --last for its latest)")
    p.add_argument("input_dir", metavar="INPUT_DIR", help="folder holding <id>_sat.jpg images")
    p.add_argument("output_dir", metavar="OUTPUT_DIR", help="folder to write <id>_mask.png into (created)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="images per forward pass (default: the run's validation batch size)")
    p.add_argument("--tta", choices=["flip"], default=None,
                   help="test-time augmentation: 'flip' averages the horizontally flipped prediction in")
    p.add_argument("--device", default=None,
                   help="'cpu', 'cuda', 'cuda:1' or 'auto' (default: the recipe's train.device)")
    p.add_argument("--last", action="store_true", help="with a run directory: use its latest checkpoint, not its best")
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers decoding images (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p.parse_args(list(argv))


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    if args.batch_size is not None and args.batch_size < 1:
        raise UsageError(f"--batch-size {args.batch_size}: expected a positive integer")
    if args.workers < 0:
        raise UsageError(f"--workers {args.workers}: expected 0 or more")

    from engines.inference import load_trained, predict_folder, scan_images

    scan_images(args.input_dir)  # an empty or wrong folder fails before the model loads
    model, recipe, step_cfg, ckpt = load_trained(args.checkpoint, args.device, last=args.last)
    amp = {None: "fp32"}.get(step_cfg.amp_dtype, str(step_cfg.amp_dtype).replace("torch.", ""))
    print(f"checkpoint: {ckpt}", file=sys.stderr)
    print(f"device: {step_cfg.device}, precision: {amp}", file=sys.stderr)
    result = predict_folder(model, recipe, step_cfg, args.input_dir, args.output_dir, args.batch_size,
                            args.tta, num_workers=args.workers, progress=not args.no_progress)
    print(f"wrote {len(result.ids)} masks to {result.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main_guard(main))
