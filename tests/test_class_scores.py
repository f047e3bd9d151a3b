"""Per-class scores from the one confusion matrix against scikit-learn's, on random masks
with ignored pixels; "not scored" classes; per-class scores as the run's metric."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import jaccard_score, precision_recall_fscore_support

from ignite_zoo.engines.handlers.console import class_score_lines
from ignite_zoo.engines.metrics import flatten_metrics, metric_spec, segmentation_metrics
from ignite_zoo.registry.errors import RecipeError

K, IGNORE = 5, 255


def _scores(seed: int, scored: list[int]) -> tuple[dict, np.ndarray, np.ndarray]:
    g = torch.Generator().manual_seed(seed)
    truth = torch.randint(0, K, (3, 17, 13), generator=g)
    truth[torch.rand(truth.shape, generator=g) < 0.2] = IGNORE
    truth[truth == 3] = 0  # class 3 never true: its recall is undefined
    logits = torch.randn(3, K, 17, 13, generator=g)
    metrics = segmentation_metrics(K, scored)
    metrics["cm"].reset()
    for i in range(3):  # several updates: the matrix accumulates over the whole set
        metrics["cm"].update((logits[i:i + 1], truth[i:i + 1]))
    out = {name: m.compute() for name, m in metrics.items()}
    keep = (truth != IGNORE).flatten()
    return out, truth.flatten()[keep].numpy(), logits.argmax(1).flatten()[keep].numpy()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_per_class_scores_match_scikit_learn(seed):
    out, t, p = _scores(seed, [0, 1, 2, 3, 4])
    precision, recall, f1, support = precision_recall_fscore_support(
        t, p, labels=list(range(K)), average=None, zero_division=np.nan)
    iou = jaccard_score(t, p, labels=list(range(K)), average=None, zero_division=0.0)
    absent = [c for c in range(K) if not ((t == c) | (p == c)).any()]
    iou[absent] = np.nan  # absent from truth and prediction: undefined
    for name, expected in (("precision", precision), ("recall", recall), ("F1", f1), ("IoU", iou)):
        np.testing.assert_allclose(out[name].numpy(), expected, rtol=1e-12, equal_nan=True, err_msg=name)
    assert np.isnan(out["recall"][3].item())  # no true pixel of class 3: undefined, not 0 or 1
    assert out["pixel_acc"] == pytest.approx((t == p).mean())
    fw = (support * iou)[support > 0].sum() / support.sum()
    assert out["fwIoU"] == pytest.approx(fw, rel=1e-12)
    assert out["mF1"] == pytest.approx(np.nanmean(f1), rel=1e-12)


def test_means_use_only_the_scored_classes():
    out, t, p = _scores(3, [0, 2])
    _, _, f1, support = precision_recall_fscore_support(t, p, labels=[0, 2], average=None)
    iou = jaccard_score(t, p, labels=[0, 2], average=None)
    assert out["mF1"] == pytest.approx(f1.mean()) and out["mIoU"] == pytest.approx(iou.mean())
    assert out["fwIoU"] == pytest.approx((support * iou).sum() / support.sum())


def test_a_class_outside_the_metric_is_not_scored():
    out, _, _ = _scores(4, [0, 1, 2, 3])
    names = ["a", "b", "c", "d", "Unknown"]
    flat = flatten_metrics(out, names, scored=[0, 1, 2, 3])
    assert {f"val/{s}/Unknown" for s in ("IoU", "F1", "precision", "recall")} <= set(flat)
    assert all(flat[f"val/{s}/Unknown"] is None for s in ("IoU", "F1", "precision", "recall"))
    assert isinstance(flat["val/IoU/a"], float) and "val/cm" not in flat
    lines = class_score_lines(flat, names)
    unknown = next(line for line in lines if line.strip().startswith("Unknown"))
    assert "not scored" in unknown and "0.0" not in unknown
    assert any(line.strip().startswith("a ") and "n/a" not in line for line in lines)


def _recipe(metric: str | None, miou_classes=None) -> dict:
    return {"task": "segmentation", "data": {"type": "dlcv_sat", "args": {}},
            "eval": {"metric": metric, "miou_classes": miou_classes}}


def test_any_score_can_be_the_run_metric():
    for name in ("val/IoU/Rangeland", "F1/Rangeland", "val/precision/Urban", "recall/Water", "mF1", "val/fwIoU"):
        spec = metric_spec(_recipe(name))
        assert spec.mode == "max" and spec.key == "val/" + name.removeprefix("val/")
    with pytest.raises(RecipeError, match="'Rangland' is not a class.*Rangeland"):
        metric_spec(_recipe("val/IoU/Rangland"))
    with pytest.raises(RecipeError, match="'Unknown' is not scored"):
        metric_spec(_recipe("val/F1/Unknown"))
    with pytest.raises(RecipeError, match="'Water' is not scored"):
        metric_spec(_recipe("IoU/Water", miou_classes=[0, 1]))
    with pytest.raises(RecipeError, match="mF1, fwIoU.*F1/<class>"):
        metric_spec(_recipe("dice"))
