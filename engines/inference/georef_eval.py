"""A predicted class raster against a truth raster, matched on the map, read block by block.

Two rasters of one place need not share a pixel grid origin: a prediction of a clipped
scene, or a truth raster digitised over a larger area, are offset by whole pixels. They
are matched by geotransform (map coordinates), not by pixel indices: both must have the
same CRS, pixel size and orientation, and origins a whole number of pixels apart;
anything else (a reprojection or resampling is needed) and grids that do not overlap at
all are errors that say so. The overlap is read in blocks (memory bounded by the block,
not the scene) into the confusion matrix of ``engines.metrics``; pixels that are nodata
in either raster, or whose truth value is no class, are left out.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ignite_zoo.engines.metrics import confusion_from_ids, iou_from_confusion, miou_from_confusion
from ignite_zoo.registry.errors import DataError
from ignite_zoo.zoo.data.geo import ClassTable, import_rasterio

#: a grid offset within this share of a pixel counts as whole pixels (float rounding of origins)
TOLERANCE = 1e-3


def aligned_windows(pred: Any, truth: Any, pred_path: Path, truth_path: Path) -> tuple[Any, Any]:
    """(window of ``pred``, window of ``truth``) covering the same map area: their overlap."""
    from rasterio.windows import Window

    if pred.crs != truth.crs:
        raise DataError(f"{pred_path}: CRS {pred.crs} differs from the truth's {truth.crs} ({truth_path}); "
                        "reproject one of them first (e.g. gdalwarp -t_srs)")
    a, b = pred.transform, truth.transform
    if not np.allclose([a.a, a.b, a.d, a.e], [b.a, b.b, b.d, b.e], rtol=1e-9, atol=0):
        raise DataError(f"{pred_path}: pixel size/orientation {(a.a, a.b, a.d, a.e)} differs from the truth's "
                        f"{(b.a, b.b, b.d, b.e)} ({truth_path}); resample one onto the other's grid first")
    # the truth's origin in the prediction's pixel coordinates
    col, row = (~a) @ (b.c, b.f)
    if abs(col - round(col)) > TOLERANCE or abs(row - round(row)) > TOLERANCE:
        raise DataError(f"{truth_path}: its grid is offset from the prediction's by a fraction of a pixel "
                        f"({col:.3f}, {row:.3f} pixels); resample one onto the other's grid first")
    col, row = int(round(col)), int(round(row))
    c0, r0 = max(0, col), max(0, row)
    c1, r1 = min(pred.width, col + truth.width), min(pred.height, row + truth.height)
    if c1 <= c0 or r1 <= r0:
        raise DataError(f"{pred_path} and {truth_path}: the rasters do not overlap on the map "
                        f"(bounds {tuple(pred.bounds)} and {tuple(truth.bounds)})")
    return Window(c0, r0, c1 - c0, r1 - r0), Window(c0 - col, r0 - row, c1 - c0, r1 - r0)


def evaluate_rasters(pred_path: str | os.PathLike, truth_path: str | os.PathLike, table: ClassTable,
                     classes: Sequence[int] | None = None, block: int = 1024,
                     pred_values: Sequence[int] | None = None) -> dict[str, Any]:
    """IoU per class, mIoU over ``classes`` (default all) and pixel accuracy of two rasters.

    Both hold the class values of ``table`` (``predict_scene`` writes them); ``pred_values``
    gives other codes for the prediction (e.g. plain ids). Returns ``{"iou", "miou",
    "pixel_acc", "cm", "pixels", "window"}``.
    """
    rasterio = import_rasterio()
    from rasterio.windows import Window

    pred_path, truth_path = Path(pred_path), Path(truth_path)
    k = len(table)
    ignore = k  # outside [0, K): confusion_from_ids leaves such truth pixels out
    pred_table = table if pred_values is None else ClassTable(tuple(pred_values), table.names, table.colours)
    cm = torch.zeros(k, k, dtype=torch.long)
    for p in (pred_path, truth_path):
        if not p.is_file():
            raise DataError(f"{p}: raster not found")
    with rasterio.open(pred_path) as pred, rasterio.open(truth_path) as truth:
        pw, tw = aligned_windows(pred, truth, pred_path, truth_path)
        h, w = int(pw.height), int(pw.width)
        for r in range(0, h, block):
            for c in range(0, w, block):
                bh, bw = min(block, h - r), min(block, w - c)
                pv = pred.read(1, window=Window(pw.col_off + c, pw.row_off + r, bw, bh))
                tv = truth.read(1, window=Window(tw.col_off + c, tw.row_off + r, bw, bh))
                p_ids = pred_table.ids(pv, ignore, np.int64)
                t_ids = table.ids(tv, ignore, np.int64)
                drop = p_ids == ignore  # no prediction here (nodata)
                if pred.nodata is not None:
                    drop |= pv == pred.nodata
                if truth.nodata is not None:
                    drop |= tv == truth.nodata
                t_ids[drop] = ignore
                cm += confusion_from_ids(torch.from_numpy(p_ids), torch.from_numpy(t_ids), k)
    chosen = list(range(k)) if classes is None else list(classes)
    total = int(cm.sum())
    return {"iou": iou_from_confusion(cm).tolist(), "miou": miou_from_confusion(cm, chosen),
            "pixel_acc": float(cm.diag().sum()) / total if total else float("nan"), "cm": cm, "pixels": total,
            "window": (int(pw.col_off), int(pw.row_off), w, h), "ids": [pred_path.stem]}
