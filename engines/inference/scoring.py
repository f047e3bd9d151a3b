"""Scoring a folder of predicted masks against a folder of true masks: the course mIoU.

Masks are matched by id and decoded with the dataset's own codec; the number is the one
``engines.metrics`` computes during training (one confusion matrix over every pixel).
A prediction folder in another encoding (class indices as grey values, another palette)
decodes to almost nothing but Unknown; that is said loudly rather than scored quietly.
"""
from __future__ import annotations

import os
import warnings
from typing import Any, Iterator, Sequence

import numpy as np

from engines.inference.layout import DatasetFacts, dataset_facts
from registry.errors import DataError

#: warn when at least this share of predicted pixels decodes as unknown/ignored
MOSTLY_UNKNOWN = 0.9


class MostlyUnknownWarning(UserWarning):
    """The predictions decode to (almost) nothing but the unknown class: a wrong encoding?"""


def match_mask_folders(pred_dir: str | os.PathLike, gt_dir: str | os.PathLike,
                       facts: DatasetFacts | None = None) -> list[tuple[str, Any, Any]]:
    """``(id, pred, truth)`` for every id; ids present on one side only are a DataError naming them."""
    facts = facts or dataset_facts()
    pred = facts.masks(pred_dir, "prediction folder")
    truth = facts.masks(gt_dir, "ground-truth folder")

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
        raise DataError("ids do not match (expected the same <id>_mask.png names in both folders): " + "; ".join(problems))
    return [(i, pred[i], truth[i]) for i in sorted(pred)]


def mask_pair_batches(pairs: Sequence[tuple[str, Any, Any]], batch_size: int = 16, foreign: str = "unknown",
                      progress: bool = True, facts: DatasetFacts | None = None
                      ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(pred [N,H,W], truth [N,H,W])`` uint8 id batches decoded with the dataset's codec."""
    from tqdm import tqdm

    facts = facts or dataset_facts()
    bar = tqdm(total=len(pairs), desc="evaluate", unit="mask", disable=not progress, dynamic_ncols=True)
    preds: list[np.ndarray] = []
    truths: list[np.ndarray] = []
    try:
        for _, p, t in pairs:
            pm = facts.read_mask(p, foreign=foreign)
            tm = facts.read_mask(t, foreign=foreign)
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


def unknown_share(cm: np.ndarray, unknown: int | None) -> tuple[float, float]:
    """(share of predicted, share of true) pixels that are ``unknown`` or outside the classes."""
    cm = np.asarray(cm, dtype=np.float64)
    total = cm.sum()
    if total <= 0 or unknown is None:
        return 0.0, 0.0
    return float(cm[:, unknown].sum() / total), float(cm[unknown, :].sum() / total)


def warn_if_mostly_unknown(cm: np.ndarray, facts: DatasetFacts, pred_dir: str | os.PathLike) -> None:
    pred_share, true_share = unknown_share(cm, facts.unknown_index)
    if pred_share >= MOSTLY_UNKNOWN and true_share < 0.5:
        name = facts.classes[facts.unknown_index]
        colours = ", ".join(f"{n} {c}" for n, c in zip(facts.classes, facts.palette))
        warnings.warn(f"{pred_dir}: {pred_share:.1%} of the predicted pixels decode as {name} (the ground truth has "
                      f"{true_share:.1%}): are the predictions in another encoding, e.g. class indices as grey "
                      f"values? Masks are read as colour masks ({colours})", MostlyUnknownWarning, stacklevel=2)


def evaluate_folders(pred_dir: str | os.PathLike, gt_dir: str | os.PathLike, classes: Sequence[int],
                     batch_size: int = 16, foreign: str = "unknown", progress: bool = True,
                     facts: DatasetFacts | None = None) -> dict[str, Any]:
    """The course mIoU of two folders of masks (``engines.metrics.evaluate_mask_pairs``).

    Returns ``{"miou", "iou" (per class id, all classes), "pixel_acc", "cm", "ids"}`` and
    warns (``MostlyUnknownWarning``) when the predictions are nearly all unknown.
    """
    from engines.metrics import evaluate_mask_pairs

    facts = facts or dataset_facts()
    k = facts.num_classes
    bad = [c for c in classes if not 0 <= c < k]
    if bad or not classes:
        raise DataError(f"--classes {list(classes)}: expected class ids in 0..{k - 1}")
    pairs = match_mask_folders(pred_dir, gt_dir, facts)
    out = evaluate_mask_pairs(mask_pair_batches(pairs, batch_size, foreign, progress, facts), k, classes)
    cm = out["cm"].cpu().numpy()
    warn_if_mostly_unknown(cm, facts, pred_dir)
    return {"miou": float(out["mIoU"]), "iou": [float(v) for v in out["IoU"].tolist()],
            "pixel_acc": float(out["pixel_acc"]), "cm": out["cm"], "ids": [i for i, _, _ in pairs]}
