#!/usr/bin/env python
"""Score predicted land-cover masks against the ground truth: the course's mIoU.

Examples:
  python tools/evaluate.py preds/ p2_data/validation
  python tools/evaluate.py preds/ p2_data/validation --json > score.json
  python tools/evaluate.py preds/ p2_data/validation --classes 0,1,2,3,4,5 --strict

Both folders hold colour masks named <id>_mask.png (the truth folder may also hold the
<id>_sat.jpg images); they are matched by id and every id must be in both. Colours are
decoded as the course does (each channel thresholded at 128). One confusion matrix is
accumulated over all pixels of all masks; IoU = TP / (TP + FP + FN) per class and mIoU is
the mean over --classes (default 0-5: Unknown is left out of the mean, but its pixels
still count as false positives/negatives of the other classes). A colour that is no
class (e.g. red) counts as Unknown with a warning, like the course's 2020 script;
--strict makes it an error. Masks may also be class-index PNGs (grey or palette, values
0-6). Predictions that decode to almost nothing but Unknown (masks of another dataset or
encoding) are scored, with a warning.
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


def parse_classes(text: str) -> list[int]:
    try:
        classes = [int(c) for c in text.replace(" ", "").split(",") if c != ""]
    except ValueError:
        classes = []
    if not classes or any(not 0 <= c <= 6 for c in classes) or len(set(classes)) != len(classes):
        raise UsageError(f"--classes {text!r}: expected distinct class ids 0-6 separated by commas, e.g. 0,1,2,3,4,5")
    return classes


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = tool_parser("tools/evaluate.py", __doc__)
    p.add_argument("pred_dir", metavar="PRED_DIR", help="folder of predicted <id>_mask.png")
    p.add_argument("gt_dir", metavar="GT_DIR", help="folder of ground-truth <id>_mask.png (may hold images too)")
    p.add_argument("--json", action="store_true",
                   help='print only one JSON object {"miou": ..., "iou": {"Urban": ..., ...}, "pixel_acc": ...}')
    p.add_argument("--classes", default="0,1,2,3,4,5", help="class ids averaged into the mIoU (default 0,1,2,3,4,5)")
    p.add_argument("--strict", action="store_true", help="a mask colour that is no class is an error, not Unknown")
    p.add_argument("--batch-size", type=int, default=16, help="masks scored per batch (default 16)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (it goes to stderr)")
    return p.parse_args(list(argv))


def format_table(result: dict, classes: Sequence[int]) -> str:
    from engines.inference import dataset_info

    names = dataset_info().classes
    lines = [f"{'class':<22} {'IoU':>8}", "-" * 31]
    for c, name in enumerate(names):
        v = result["iou"][c]
        label = name if c in classes else f"{name} (not in mIoU)"
        lines.append(f"{label:<22} {'n/a' if v != v else f'{v:.4f}':>8}")
    lines += ["-" * 31, f"{'mIoU':<22} {result['miou']:>8.4f}", f"{'pixel accuracy':<22} {result['pixel_acc']:>8.4f}",
              f"({len(result['ids'])} masks, mean over classes {','.join(map(str, classes))})"]
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    classes = parse_classes(args.classes)
    if args.batch_size < 1:
        raise UsageError(f"--batch-size {args.batch_size}: expected a positive integer")
    import json
    import math
    import warnings

    from engines.inference import dataset_info, evaluate_folders
    from zoo.data import ForeignColourWarning

    names = dataset_info().classes

    def show_warning(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        text = str(message).split(" (use foreign=")[0]  # the codec's hint names recipe options
        hint = "; --strict makes it an error" if issubclass(category, ForeignColourWarning) else ""
        print(f"warning: {text}{hint}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show_warning  # one line on stderr, never on stdout (--json)
        result = evaluate_folders(args.pred_dir, args.gt_dir, classes, batch_size=args.batch_size,
                                  foreign="error" if args.strict else "unknown", progress=not args.no_progress)
    if args.json:
        def num(v: float) -> float | None:
            return None if math.isnan(v) else v

        print(json.dumps({"miou": num(result["miou"]),
                          "iou": {names[c]: num(result["iou"][c]) for c in classes},
                          "pixel_acc": num(result["pixel_acc"])}))
    else:
        print(format_table(result, classes))
    return 0


if __name__ == "__main__":
    sys.exit(main_guard(main))
