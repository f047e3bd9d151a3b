"""The course mIoU: hand-built confusion matrices and real masks vs an independent numpy version."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ignite_zoo.engines.metrics import (
    evaluate_mask_pairs,
    ids_as_scores,
    iou_from_confusion,
    miou_from_confusion,
    segmentation_metrics,
)


def test_hand_built_confusion_matrix():
    # rows = truth, cols = prediction, 3 classes
    cm = torch.tensor([[5, 1, 0],
                       [2, 3, 1],
                       [0, 0, 4]])
    iou = iou_from_confusion(cm)
    # class 0: TP 5, FP 2, FN 1 -> 5/8; class 1: 3/(3+1+3) = 3/7; class 2: 4/(4+1+0) = 4/5
    assert iou.tolist() == pytest.approx([5 / 8, 3 / 7, 4 / 5])
    assert miou_from_confusion(cm, [0, 1, 2]) == pytest.approx((5 / 8 + 3 / 7 + 4 / 5) / 3)
    assert miou_from_confusion(cm, [0, 1]) == pytest.approx((5 / 8 + 3 / 7) / 2)


def test_pixel_accuracy_is_ignites_cmaccuracy_and_equals_the_share_of_right_pixels():
    """ignite's cmAccuracy replaced the project's own formula: the numbers are unchanged."""
    g = torch.Generator().manual_seed(0)
    truth = torch.randint(0, 7, (3, 20, 24), generator=g)
    pred = torch.where(torch.rand(truth.shape, generator=g) < 0.6, truth, torch.randint(0, 7, truth.shape, generator=g))
    out = evaluate_mask_pairs([(pred, truth)], 7, list(range(6)))
    cm = out["cm"].double()
    assert out["pixel_acc"] == pytest.approx(float((pred == truth).double().mean()), abs=1e-12)
    assert out["pixel_acc"] == pytest.approx(float(cm.diag().sum() / cm.sum()), abs=1e-12)  # the old formula


def test_absent_class_is_nan_and_skipped_in_mean():
    cm = torch.tensor([[4, 0], [0, 0]])
    iou = iou_from_confusion(cm)
    assert iou[0] == 1.0 and math.isnan(iou[1])
    assert miou_from_confusion(cm, [0, 1]) == 1.0


def test_unknown_truth_predicted_as_c_is_a_false_positive_for_c():
    # truth Unknown (6) everywhere, predicted as class 0: IoU_0 = 0 although 6 is outside the mean
    truth = torch.full((1, 4, 4), 6)
    truth[0, 0, 0] = 0
    pred = torch.zeros((1, 4, 4), dtype=torch.long)
    out = evaluate_mask_pairs([(pred, truth)], num_classes=7, miou_classes=range(6))
    assert float(out["IoU"][0]) == pytest.approx(1 / 16)


def test_ignite_metrics_accumulate_over_all_pixels_not_per_image():
    # image A: perfect on 1 pixel of class 1; image B: 15 wrong pixels. Per-image mean != set mIoU.
    metrics = segmentation_metrics(2, [0, 1])
    cm = metrics["cm"]
    cm.reset()
    ta = torch.tensor([[[1]]]); pa = ids_as_scores(ta, 2)
    tb = torch.ones((1, 3, 5), dtype=torch.long); tb[0, 0, 0] = 0
    pb = ids_as_scores(torch.zeros_like(tb), 2)
    cm.update((pa, ta)); cm.update((pb, tb))
    m = cm.compute()
    assert m.tolist() == [[1, 0], [14, 1]]
    assert metrics["mIoU"].compute() == pytest.approx(((1 / 15) + (1 / 15)) / 2)


def _numpy_course_miou(pred: np.ndarray, truth: np.ndarray) -> float:
    """The course's formula, written independently: per class over all pixels, mean of 0-5."""
    ious = []
    for c in range(6):
        tp = np.sum((pred == c) & (truth == c))
        fp_fn = np.sum(pred == c) + np.sum(truth == c) - tp
        ious.append(tp / fp_fn)
    return float(np.mean(ious))


def _decode_np(path) -> np.ndarray:
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    rgb = (bgr[..., ::-1] >= 128).astype(np.int64)
    code = 4 * rgb[..., 0] + 2 * rgb[..., 1] + rgb[..., 2]
    lut = np.full(8, 6)
    lut[[3, 6, 5, 2, 1, 7, 0]] = [0, 1, 2, 3, 4, 5, 6]
    return lut[code]


def test_miou_matches_numpy_course_formula_on_real_masks(shared_data):
    files = sorted((shared_data / "sat512").glob("*_mask.png"))[:24]
    rng = np.random.default_rng(0)
    truths = np.stack([_decode_np(f) for f in files])
    noisy = truths.copy()
    flip = rng.random(noisy.shape) < 0.2
    noisy[flip] = rng.integers(0, 7, size=int(flip.sum()))
    ours = evaluate_mask_pairs([(torch.from_numpy(noisy[i:i + 8]), torch.from_numpy(truths[i:i + 8]))
                                for i in range(0, len(files), 8)], 7, range(6))
    assert ours["mIoU"] == pytest.approx(_numpy_course_miou(noisy, truths), abs=1e-12)
    assert 0.3 < ours["mIoU"] < 0.95
