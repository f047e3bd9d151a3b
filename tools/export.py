#!/usr/bin/env python
"""Export a trained model to ONNX, with what a deployment needs to run it.

Examples:
  python tools/export.py runs/seg_fcn8s_vgg16_sat/20240101-120000 --onnx fcn8s.onnx
  python tools/export.py best_checkpoint_20_mIoU=0.6712.pt --onnx model.onnx --overwrite
  python tools/predict.py fcn8s.onnx p2_data/validation preds/     # then predict without PyTorch's model code

The graph takes any batch size, height and width (at least 32 px) of raw float32 pixels
(0-255 for 8-bit images: the run's normalisation is inside the graph) named "image" and
returns float32 "logits" (a model that ONNX cannot run at every size, like a classifier
pooling to 7x7, is exported for its recipe's input size, with a warning). The file's
metadata (onnx metadata_props, keys ignite_zoo.*) holds the class names, palette colours,
input bands, task, the smallest tile and activation bytes per pixel (for tiled prediction)
and the run's resolved recipe YAML. After writing, ONNX
Runtime runs an example input and the largest difference from PyTorch's logits is printed.
An existing file is never replaced unless --overwrite is given.
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


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = tool_parser("tools/export.py", __doc__)
    p.add_argument("checkpoint", metavar="RUN_DIR_OR_CHECKPOINT",
                   help="a run directory (its best checkpoint; --last for its latest) or a checkpoint .pt")
    p.add_argument("--onnx", required=True, metavar="FILE", help="the .onnx file to write")
    p.add_argument("--last", action="store_true", help="with a run directory: its latest checkpoint, not its best")
    p.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    return p.parse_args(list(argv))


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    if Path(args.onnx).name.lower() == ".onnx":
        from ignite_zoo.registry.errors import UsageError

        raise UsageError(f"--onnx {args.onnx}: a name with nothing before .onnx; expected a file name such as "
                         "model.onnx")
    import warnings

    from ignite_zoo.engines.inference.export import export_onnx

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        result = export_onnx(args.checkpoint, args.onnx, last=args.last, overwrite=args.overwrite)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    print(f"wrote {result.path} (dynamic axes: {', '.join(result.dynamic) or 'none'}; ONNX Runtime vs PyTorch "
          f"max |diff| {result.max_abs_diff:.2e}, logits up to {result.max_abs_logit:.3g})")
    return 0


if __name__ == "__main__":
    sys.exit(main_guard(main))
