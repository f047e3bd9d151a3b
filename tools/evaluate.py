#!/usr/bin/env python
"""Score predicted masks against the ground truth: the mIoU training reports.

Examples:
  python tools/evaluate.py preds/ data/validation --run runs/seg_fcn8s_vgg16_sat/20240101-120000
  python tools/evaluate.py preds/ data/validation --json > score.json
  python tools/evaluate.py preds/ VOC/SegmentationClass --dataset voc --classes 1,2,3
  python tools/evaluate.py preds/ data/validation --strict

Which dataset the masks belong to decides their file names, classes and colours: --run
RUN takes it from a run directory's (or checkpoint's) recipe, with its eval.miou_classes;
--dataset NAME names a registered dataset type (python tools/run.py --list), with its
default settings; without either, the masks are read as the default dataset's (the
output says which). Both folders hold masks named as that dataset names them (the truth
folder may hold the images too); they are matched by id and every id must be in both.
Masks may be class-index PNGs (grey or palette) or colour PNGs in the dataset's colours,
decoded by the dataset's own rule. One confusion matrix is accumulated over all pixels of
all masks; IoU = TP / (TP + FP + FN) per class and mIoU is the mean over --classes
(default: the run's eval.miou_classes, else the dataset's evaluation classes: an
"unknown" class is left out of the mean, but its pixels still count as false positives
and negatives of the others). F1 (Dice), precision and recall per class, their mean F1,
frequency-weighted IoU and pixel accuracy come from the same confusion matrix; a class
outside --classes is shown as "not scored". A mask colour that is no class counts as the dataset's
unknown class, with a warning, where the dataset allows that; --strict makes it an
error. Predictions that decode to almost nothing but unknown (masks of another dataset or
encoding) are scored, with a warning. GeoTIFF class rasters (a .tif PRED_DIR and GT_DIR,
or folders of them paired by name) are matched by geotransform, not pixel indices, and
read window by window; nodata in either is left out; classes come from --run or a
classes.yaml beside the truth.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

if not __package__:  # a script in a checkout: ``ignite_zoo`` names this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _checkout  # noqa: F401

from ignite_zoo.registry.cli import main_guard, tool_parser  # noqa: E402  (light: no torch)
from ignite_zoo.registry.errors import UsageError  # noqa: E402


def parse_classes(text: str, num_classes: int, example: Sequence[int]) -> list[int]:
    """``--classes`` as distinct ids of the dataset's ``num_classes``."""
    try:
        classes = [int(c) for c in text.replace(" ", "").split(",") if c != ""]
    except ValueError:
        classes = []
    if not classes or any(not 0 <= c < num_classes for c in classes) or len(set(classes)) != len(classes):
        raise UsageError(f"--classes {text!r}: expected distinct class ids 0-{num_classes - 1} separated by commas, "
                         f"e.g. {','.join(map(str, example))}")
    return classes


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = tool_parser("tools/evaluate.py", __doc__)
    p.add_argument("pred_dir", metavar="PRED_DIR", help="folder of predicted masks")
    p.add_argument("gt_dir", metavar="GT_DIR", help="folder of ground-truth masks (may hold the images too)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--run", metavar="RUN",
                       help="a run directory, checkpoint .pt or exported .onnx: its recipe's dataset and "
                            "eval.miou_classes")
    which.add_argument("--dataset", metavar="NAME", help="a registered dataset type, with its default settings")
    p.add_argument("--json", action="store_true",
                   help='print only one JSON object {"miou": ..., "iou": {"<class name>": ..., ...}, "f1": {...}, '
                        '"precision": {...}, "recall": {...}, "mf1": ..., "fw_iou": ..., "pixel_acc": ..., '
                        '"not_scored": ["<class name>", ...]} (per-class maps hold the scored classes)')
    p.add_argument("--classes", default=None,
                   help="class ids averaged into the mIoU, e.g. 0,1,2 (default: the run's eval.miou_classes, "
                        "else the dataset's evaluation classes)")
    p.add_argument("--strict", action="store_true",
                   help="a mask colour that is no class is an error, not the unknown class (data.args.strict)")
    p.add_argument("--batch-size", type=int, default=16, help="masks scored per batch (default 16)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (it goes to stderr)")
    return p.parse_args(list(argv))


def format_table(result: dict, classes: Sequence[int], names: Sequence[str]) -> str:
    """IoU, F1, precision and recall per class (a class outside ``classes``: "not scored"),
    then the means, frequency-weighted IoU and pixel accuracy."""
    labels = [name if c in classes else f"{name} (not in mIoU)" for c, name in enumerate(names)]
    width = max(22, *(len(label) + 1 for label in labels))
    cols = ("iou", "f1", "precision", "recall")
    rule = "-" * (width + 11 * len(cols))
    lines = [f"{'class':<{width}}" + "".join(f" {h:>10}" for h in ("IoU", "F1", "precision", "recall")), rule]
    for c, label in enumerate(labels):
        if c not in classes:
            lines.append(f"{label:<{width}} {'not scored':>10}")
            continue
        cells = ["n/a" if result[k][c] != result[k][c] else f"{result[k][c]:.4f}" for k in cols]
        lines.append(f"{label:<{width}}" + "".join(f" {v:>10}" for v in cells))
    lines += [rule, f"{'mIoU':<{width}} {result['miou']:>10.4f}", f"{'mean F1':<{width}} {result['mf1']:>10.4f}",
              f"{'frequency-weighted IoU':<{width}} {result['fw_iou']:>10.4f}",
              f"{'pixel accuracy':<{width}} {result['pixel_acc']:>10.4f}",
              f"({len(result['ids'])} masks, mean over classes {','.join(map(str, classes))})"]
    return "\n".join(lines)


def add_class_scores(result: dict, classes: Sequence[int]) -> dict:
    """F1, precision, recall per class, mean F1 and frequency-weighted IoU from the result's
    confusion matrix (the one the IoU came from)."""
    from ignite_zoo.engines.metrics import class_scores_from_confusion, fw_iou_from_confusion

    scores = {k.lower(): [float(v) for v in t.tolist()] for k, t in class_scores_from_confusion(result["cm"]).items()}
    f1 = [scores["f1"][c] for c in classes if scores["f1"][c] == scores["f1"][c]]
    return {**result, "f1": scores["f1"], "precision": scores["precision"], "recall": scores["recall"],
            "mf1": sum(f1) / len(f1) if f1 else float("nan"), "fw_iou": fw_iou_from_confusion(result["cm"], classes)}


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    if args.batch_size < 1:
        raise UsageError(f"--batch-size {args.batch_size}: expected a positive integer")
    import json
    import math
    import warnings

    from ignite_zoo.engines.inference import evaluate_folders, mask_dataset
    from ignite_zoo.zoo.data import ForeignColourWarning

    from ignite_zoo.engines.inference.scenes import is_scene_input

    scenes = is_scene_input(args.pred_dir)  # GeoTIFF rasters: matched on the map, window by window
    if scenes:
        from ignite_zoo.engines.inference.layout import MaskDataset
        from ignite_zoo.engines.inference.scenes import scene_table
        from ignite_zoo.zoo.data.geotiff import GeoTiff

        table, source = scene_table(args.run, Path(args.gt_dir))
        data = MaskDataset(GeoTiff.make_info(table, 255), "geotiff", tuple(range(len(table))), source)
    else:
        data = mask_dataset(args.run, args.dataset, {"strict": True} if args.strict else None)
    info = data.info
    classes = (list(data.eval_classes) if args.classes is None
               else parse_classes(args.classes, info.num_classes, data.eval_classes))
    print(f"dataset: {data.name} ({'default' if data.source == 'default' else 'from ' + data.source}), "
          f"masks named {data.mask_example()}", file=sys.stderr)

    def show_warning(message: Any, category: type, filename: str, lineno: int, file: Any = None,
                     line: Any = None) -> None:
        text = str(message).split(" (use ")[0]  # the codec's hint names recipe options
        hint = "; --strict makes it an error" if issubclass(category, ForeignColourWarning) else ""
        print(f"warning: {text}{hint}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show_warning  # one line on stderr, never on stdout (--json)
        if scenes:
            from ignite_zoo.engines.inference.scenes import evaluate_scenes

            result = evaluate_scenes(args.pred_dir, args.gt_dir, table, classes)
        else:
            result = evaluate_folders(args.pred_dir, args.gt_dir, classes, batch_size=args.batch_size,
                                      progress=not args.no_progress, info=info, dataset=data.name)
    names = info.classes
    result = add_class_scores(result, classes)
    if args.json:
        def num(v: float) -> float | None:
            return None if math.isnan(v) else v

        per_class = {key: {names[c]: num(result[key][c]) for c in classes}
                     for key in ("iou", "f1", "precision", "recall")}
        print(json.dumps({"miou": num(result["miou"]), **per_class, "mf1": num(result["mf1"]),
                          "fw_iou": num(result["fw_iou"]), "pixel_acc": num(result["pixel_acc"]),
                          "not_scored": [n for c, n in enumerate(names) if c not in classes]}))
    else:
        print(format_table(result, classes, names))
    return 0


if __name__ == "__main__":
    sys.exit(main_guard(main))
