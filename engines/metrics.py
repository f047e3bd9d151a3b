"""The project's metrics: one confusion matrix, one IoU/mIoU, used by training and tools.

mIoU follows the course: a confusion matrix accumulated over all pixels of the whole set,
IoU_c = TP / (TP + FP + FN) per class, and the mean over the classes in ``miou_classes``
(default 0-5: Unknown is left out of the mean but its pixels still count, so a pixel whose
truth is Unknown and whose prediction is c is a false positive for c). A per-image average
is a different (and wrong) number. The loss's ``ignore_index`` never reaches this code.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from ignite.metrics import Accuracy, ConfusionMatrix, Metric, MetricsLambda, TopKCategoricalAccuracy


def iou_from_confusion(cm: torch.Tensor) -> torch.Tensor:
    """IoU per class; a class absent from both truth and prediction gets NaN (not 0 or 1)."""
    cm = cm.double()
    tp = cm.diag()
    denom = cm.sum(0) + cm.sum(1) - tp
    return torch.where(denom > 0, tp / denom.clamp(min=1), torch.full_like(tp, float("nan")))


def miou_from_confusion(cm: torch.Tensor, classes: Sequence[int]) -> float:
    """Mean IoU over ``classes``; NaN entries (class absent everywhere) are skipped."""
    iou = iou_from_confusion(cm)[list(classes)]
    iou = iou[~torch.isnan(iou)]
    return float(iou.mean()) if iou.numel() else float("nan")


def pixel_accuracy_from_confusion(cm: torch.Tensor) -> float:
    total = cm.sum()
    return float(cm.diag().sum().double() / total) if total > 0 else float("nan")


def default_miou_classes(num_classes: int, unknown: int | None = 6) -> list[int]:
    return [c for c in range(num_classes) if c != unknown]


def segmentation_metrics(num_classes: int, miou_classes: Sequence[int],
                         device: torch.device | str = "cpu") -> dict[str, Metric]:
    """Ignite metrics over (logits [N,K,H,W], target [N,H,W]) for the evaluator.

    ``cm`` is ignite's ConfusionMatrix accumulated over every pixel of the set; ``IoU`` (a
    vector), ``mIoU`` and ``pixel_acc`` are derived from it with the functions above.
    """
    cm = ConfusionMatrix(num_classes=num_classes, device=device)
    classes = list(miou_classes)
    return {
        "cm": cm,
        "IoU": MetricsLambda(iou_from_confusion, cm),
        "mIoU": MetricsLambda(lambda m: miou_from_confusion(m, classes), cm),
        "pixel_acc": MetricsLambda(pixel_accuracy_from_confusion, cm),
    }


def ids_as_scores(ids: torch.Tensor, num_classes: int) -> torch.Tensor:
    """[N,H,W] class ids -> [N,K,H,W] one-hot scores, so saved masks feed the same metrics.

    Ids outside [0, K) (a foreign colour mapped to ignore) score nothing and fall back to
    class 0 under argmax; truth-side filtering is the metric's job.
    """
    ids = ids.long()
    # classes innermost in memory (a permuted [N,H,W,K] tensor): the argmax over dim 1 the
    # metric takes is then a contiguous reduction, several times faster on CPU
    scores = torch.zeros((*ids.shape, num_classes), dtype=torch.float32, device=ids.device)
    valid = (ids >= 0) & (ids < num_classes)
    scores.scatter_(-1, ids.clamp(0, num_classes - 1).unsqueeze(-1), valid.unsqueeze(-1).float())
    return scores.movedim(-1, 1)


def evaluate_mask_pairs(pairs, num_classes: int, miou_classes: Sequence[int]) -> dict[str, object]:
    """Metrics of predicted vs true id maps (``pairs`` yields ``(pred [N,H,W], truth [N,H,W])``).

    The exact metric objects training uses, so ``tools/evaluate.py`` on a run's saved masks
    prints the run's own validation mIoU.
    """
    metrics = segmentation_metrics(num_classes, miou_classes)
    cm = metrics["cm"]
    cm.reset()
    for pred, truth in pairs:
        cm.update((ids_as_scores(torch.as_tensor(pred), num_classes), torch.as_tensor(truth).long()))
    return {name: m.compute() for name, m in metrics.items()}


def classification_metrics(num_classes: int, device: torch.device | str = "cpu") -> dict[str, Metric]:
    metrics: dict[str, Metric] = {
        "accuracy": Accuracy(device=device),
        "cm": ConfusionMatrix(num_classes=num_classes, device=device),
    }
    if num_classes > 5:
        metrics["top5"] = TopKCategoricalAccuracy(k=5, device=device)
    return metrics


def best_metric_name(task: str) -> str:
    return "mIoU" if task == "segmentation" else "accuracy"


def flatten_metrics(metrics: dict, class_names: Sequence[str] | None = None, prefix: str = "val/") -> dict[str, float]:
    """Scalars for history/TensorBoard: vectors become ``val/IoU/<class>``; ``cm`` is left out."""
    out: dict[str, float] = {}
    for name, value in metrics.items():
        if name == "cm":
            continue
        if isinstance(value, torch.Tensor) and value.ndim == 1:
            for i, v in enumerate(value.tolist()):
                label = class_names[i] if class_names and i < len(class_names) else str(i)
                out[f"{prefix}{name}/{label}"] = float(v)
        else:
            out[f"{prefix}{name}"] = float(value)
    return out


def score_fn(name: str) -> Callable:
    """Ignite score function reading ``name`` from an evaluator's metrics."""

    def score(engine) -> float:
        v = float(engine.state.metrics[name])
        return -float("inf") if v != v else v

    return score
