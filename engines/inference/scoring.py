"""Scoring a folder of predicted masks against a folder of true masks: the mIoU of training.

Masks are matched by id and decoded with the dataset's own codec (``DatasetInfo.read_mask``:
colour, palette and class-index PNGs); the number is the one ``engines.metrics`` computes
during training (one confusion matrix over every pixel). Predictions that decode to almost
nothing but unknown/ignore (masks of another dataset or encoding) are scored, and said
loudly.
"""
from __future__ import annotations

import os
import warnings
from typing import Any, Iterator, Sequence

import numpy as np

from ignite_zoo.engines.inference.layout import dataset_info, masks
from ignite_zoo.registry.errors import DataError


class MostlyUnknownWarning(UserWarning):
    """The predictions decode to (almost) nothing but the unknown class: a wrong encoding?"""


def match_mask_folders(pred_dir: str | os.PathLike, gt_dir: str | os.PathLike,
                       info: Any = None) -> list[tuple[str, Any, Any]]:
    """``(id, pred, truth)`` for every id; ids present on one side only are a DataError naming them."""
    info = info or dataset_info()
    pred = masks(info, pred_dir, "prediction folder")
    truth = masks(info, gt_dir, "ground-truth folder")

    def some(ids: Sequence[str]) -> str:
        ids = sorted(ids)
        return ", ".join(ids[:10]) + (f" ... and {len(ids) - 10} more" if len(ids) > 10 else "")

    only_pred, only_truth = sorted(pred.keys() - truth.keys()), sorted(truth.keys() - pred.keys())
    problems = []
    if only_pred:
        problems.append(f"{len(only_pred)} prediction(s) without ground truth in {gt_dir}: {some(only_pred)}")
    if only_truth:
        problems.append(f"{len(only_truth)} ground-truth mask(s) without a prediction in {pred_dir}: "
                        f"{some(only_truth)}")
    if problems:
        raise DataError(f"ids do not match (expected the same {info.layout.mask_name('<id>')} names in both "
                        "folders): " + "; ".join(problems))
    return [(i, pred[i], truth[i]) for i in sorted(pred)]


def mask_pair_batches(pairs: Sequence[tuple[str, Any, Any]], batch_size: int = 16,
                      progress: bool = True, info: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(pred [N,H,W], truth [N,H,W])`` id batches decoded with the dataset's codec."""
    from tqdm import tqdm

    info = info or dataset_info()
    small = np.uint8 if info.num_classes <= 256 and (info.ignore_index or 0) < 256 else np.int64
    bar = tqdm(total=len(pairs), desc="evaluate", unit="mask", disable=not progress, dynamic_ncols=True)
    preds: list[np.ndarray] = []
    truths: list[np.ndarray] = []
    try:
        for _, p, t in pairs:
            pm = info.read_mask(p).astype(small)
            tm = info.read_mask(t).astype(small)
            if pm.shape != tm.shape:
                raise DataError(f"{p}: prediction is {pm.shape[1]}x{pm.shape[0]} but its ground truth {t} is "
                                f"{tm.shape[1]}x{tm.shape[0]} (expected full-resolution masks)")
            if preds and pm.shape != preds[0].shape:
                yield np.stack(preds), np.stack(truths)
                preds, truths = [], []
            preds.append(pm)
            truths.append(tm)
            if len(preds) == batch_size:
                yield np.stack(preds), np.stack(truths)
                preds, truths = [], []
            bar.update(1)
        if preds:
            yield np.stack(preds), np.stack(truths)
    finally:
        bar.close()


def warn_if_predictions_mostly_unknown(cm: np.ndarray, info: Any, pred_dir: str | os.PathLike) -> float:
    """Warn (``MostlyUnknownWarning``, so a caller can catch it) when the predicted pixels are
    almost all unknown or ignore while the truth is not; returns the predicted share."""
    from ignite_zoo.zoo.data import unknown_fraction
    from ignite_zoo.zoo.data.info import MOSTLY_UNKNOWN, mostly_unknown_message

    cm = np.asarray(cm, dtype=np.int64)
    pred_share = unknown_fraction(cm.sum(0), info)
    true_share = unknown_fraction(cm.sum(1), info)
    if pred_share > MOSTLY_UNKNOWN and true_share < 0.5:
        warnings.warn(mostly_unknown_message(str(pred_dir), pred_share, info, truth=true_share),
                      MostlyUnknownWarning, stacklevel=2)
    return pred_share


class ForeignMasksWarning(UserWarning):
    """The masks do not look like the named dataset's (other colours, or mostly no class)."""


#: masks sampled per folder to judge whether they look like the dataset's
SAMPLED_MASKS = 8


def foreign_palette_share(path: str | os.PathLike, info: Any) -> tuple[int, int, str]:
    """(pixels whose palette colour is not the dataset's colour of their index, pixels, an
    example) of a palette PNG, for a dataset whose rule reads palette indices as class ids
    whatever the colours (VOC); (0, 0, "") for masks of other kinds and datasets that decode
    the colours themselves (a foreign colour is then an error or the unknown class)."""
    from PIL import Image

    if info.palette is None or not info.index_masks:
        return 0, 0, ""
    with Image.open(path) as im:
        if im.mode != "P":
            return 0, 0, ""
        idx = np.asarray(im)
        pal = np.array(im.getpalette() or [], dtype=np.int64).reshape(-1, 3)
    counts = np.bincount(idx.ravel(), minlength=256)
    pal = np.vstack([pal, np.zeros((max(0, 256 - len(pal)), 3), dtype=np.int64)])
    own = info._palette_array().astype(np.int64)
    foreign, example = 0, ""
    for u in np.flatnonzero(counts):
        if u == info.ignore_index:
            continue
        if u >= info.num_classes or not (pal[u] == own[u]).all():
            foreign += int(counts[u])
            if not example:
                theirs = f"{info.classes[u]} is {tuple(int(v) for v in own[u])}" if u < info.num_classes else "no class"
                example = f"index {u} is {tuple(int(v) for v in pal[u])} there, the dataset's {theirs}"
    return foreign, int(counts.sum()), example


def warn_if_masks_foreign(folder: str | os.PathLike, files: Sequence[Any], info: Any, dataset: str) -> float:
    """Warn (``ForeignMasksWarning``) when a sample of the masks of ``folder`` do not look
    like ``dataset``'s: most of their pixels coloured other than the dataset colours their
    class ids (palette masks of another dataset, which an index rule reads as some class).
    Returns the share of such pixels."""
    foreign = total = 0
    example = ""
    for path in list(files)[:SAMPLED_MASKS]:
        try:
            f, t, e = foreign_palette_share(path, info)
        except (OSError, ValueError):
            continue  # scoring reads it again and names what is wrong
        foreign, total, example = foreign + f, total + t, example or e
    share = foreign / total if total else 0.0
    if share > 0.5:
        warnings.warn(f"{folder}: these masks do not look like {dataset}'s: {share:.0%} of the pixels of the "
                      f"sampled masks have colours that are not {dataset}'s colours of their class ids ({example}); "
                      "are they masks of another dataset (name theirs with --dataset or --run)?",
                      ForeignMasksWarning, stacklevel=2)
    return share


def evaluate_folders(pred_dir: str | os.PathLike, gt_dir: str | os.PathLike, classes: Sequence[int] | None = None,
                     batch_size: int = 16, progress: bool = True, info: Any = None,
                     dataset: str | None = None) -> dict[str, Any]:
    """The mIoU of two folders of masks (``engines.metrics.evaluate_mask_pairs``), the number
    training reports for the same masks.

    ``info``: the masks' ``DatasetInfo`` (default: ``layout.dataset_info()``, the dataset
    ``zoo.data`` declares the default); ``classes``: the ids averaged into the mIoU
    (default: the dataset's ``eval_classes``); ``dataset``: its name, for warnings.

    Returns ``{"miou", "iou" (per class id, all classes), "pixel_acc", "cm", "ids"}`` and
    warns (``MostlyUnknownWarning``) when the predictions are nearly all unknown, and
    (``ForeignMasksWarning``) when the masks' colours are not the dataset's.
    """
    from ignite_zoo.engines.metrics import evaluate_mask_pairs

    info = info or dataset_info()
    k = info.num_classes
    classes = list(info.eval_classes if classes is None else classes)
    bad = [c for c in classes if not 0 <= c < k]
    if bad or not classes:
        raise DataError(f"--classes {classes}: expected class ids in 0..{k - 1}")
    pairs = match_mask_folders(pred_dir, gt_dir, info)
    name = dataset or "the dataset"
    if not warn_if_masks_foreign(gt_dir, [t for _, _, t in pairs], info, name):
        warn_if_masks_foreign(pred_dir, [p for _, p, _ in pairs], info, name)
    out = evaluate_mask_pairs(mask_pair_batches(pairs, batch_size, progress, info), k, classes)
    warn_if_predictions_mostly_unknown(out["cm"].cpu().numpy(), info, pred_dir)
    return {"miou": float(out["mIoU"]), "iou": [float(v) for v in out["IoU"].tolist()],
            "pixel_acc": float(out["pixel_acc"]), "cm": out["cm"], "ids": [i for i, _, _ in pairs]}
