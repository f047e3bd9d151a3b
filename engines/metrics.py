"""The project's metrics: one confusion matrix, one IoU/mIoU, used by training and tools.

mIoU follows the course: a confusion matrix accumulated over all pixels of the whole set,
IoU_c = TP / (TP + FP + FN) per class, and the mean over the classes in ``miou_classes``
(default: the dataset's ``eval_classes``; a class left out of the mean still has its pixels
counted, so a pixel whose truth is such a class and whose prediction is c is a false
positive for c). A per-image average is a different (and wrong) number. The loss's ``ignore_index`` never reaches this code.

Every other score is derived from the same matrix, so they can never disagree: per class
precision TP / (TP + FP), recall TP / (TP + FN), F1 (Dice) 2TP / (2TP + FP + FN), and over
the scored classes mF1 and frequency-weighted IoU (each class's IoU weighted by its share of
the true pixels). A score whose denominator is zero is NaN ("n/a"), never 0 or 1; a class
outside ``miou_classes`` is "not scored" (None in history and metrics.json).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch
from ignite.metrics import Accuracy, ConfusionMatrix, Metric, MetricsLambda, TopKCategoricalAccuracy
from ignite.metrics.confusion_matrix import cmAccuracy

from ignite_zoo.registry.errors import RecipeError


def iou_from_confusion(cm: torch.Tensor) -> torch.Tensor:
    """IoU per class; a class absent from both truth and prediction gets NaN (not 0 or 1)."""
    cm = cm.double()
    tp = cm.diag()
    denom = cm.sum(0) + cm.sum(1) - tp
    return torch.where(denom > 0, tp / denom.clamp(min=1), torch.full_like(tp, float("nan")))


def _ratio(num: torch.Tensor, denom: torch.Tensor) -> torch.Tensor:
    return torch.where(denom > 0, num / denom.clamp(min=1), torch.full_like(num, float("nan")))


def class_scores_from_confusion(cm: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-class ``IoU``, ``F1``, ``precision`` and ``recall`` (float64 vectors) of one
    confusion matrix (rows truth, columns prediction); NaN where a denominator is zero."""
    cm = cm.double()
    tp, truth, pred = cm.diag(), cm.sum(1), cm.sum(0)
    return {"IoU": _ratio(tp, truth + pred - tp), "F1": _ratio(2 * tp, truth + pred),
            "precision": _ratio(tp, pred), "recall": _ratio(tp, truth)}


def _mean_over(values: torch.Tensor, classes: Sequence[int]) -> float:
    v = values[list(classes)]
    v = v[~torch.isnan(v)]
    return float(v.mean()) if v.numel() else float("nan")


def fw_iou_from_confusion(cm: torch.Tensor, classes: Sequence[int]) -> float:
    """Frequency-weighted IoU over ``classes``: their IoUs weighted by their true pixel counts."""
    cm = cm.double()
    idx = list(classes)
    truth = cm.sum(1)[idx]
    iou = iou_from_confusion(cm)[idx]
    keep = truth > 0
    return float((truth[keep] * iou[keep]).sum() / truth[keep].sum()) if bool(keep.any()) else float("nan")


def miou_from_confusion(cm: torch.Tensor, classes: Sequence[int]) -> float:
    """Mean IoU over ``classes``; NaN entries (class absent everywhere) are skipped."""
    return _mean_over(iou_from_confusion(cm), classes)


#: the per-class scores of a segmentation run, each ``val/<name>/<class>`` in its history
PER_CLASS = ("IoU", "F1", "precision", "recall")


def segmentation_metrics(num_classes: int, miou_classes: Sequence[int],
                         device: torch.device | str = "cpu") -> dict[str, Metric]:
    """Ignite metrics over (logits [N,K,H,W], target [N,H,W]) for the evaluator.

    ``cm`` is ignite's ConfusionMatrix accumulated over every pixel of the set; the per-class
    vectors (``IoU``, ``F1``, ``precision``, ``recall``), ``mIoU``, ``mF1`` and ``fwIoU`` are
    derived from it with the functions above, ``pixel_acc`` with ignite's own ``cmAccuracy``.
    """
    cm = ConfusionMatrix(num_classes=num_classes, device=device)
    classes = list(miou_classes)
    per_class = {name: MetricsLambda(lambda m, n=name: class_scores_from_confusion(m)[n], cm)
                 for name in PER_CLASS}
    return {
        "cm": cm,
        **per_class,
        "mIoU": MetricsLambda(lambda m: miou_from_confusion(m, classes), cm),
        "mF1": MetricsLambda(lambda m: _mean_over(class_scores_from_confusion(m)["F1"], classes), cm),
        "fwIoU": MetricsLambda(lambda m: fw_iou_from_confusion(m, classes), cm),
        "pixel_acc": cmAccuracy(cm),
    }


def confusion_from_ids(pred: Any, truth: Any, num_classes: int) -> torch.Tensor:
    """[K, K] counts (rows truth, columns prediction) of two id maps, in this process only
    (no all-reduce: for one image's score, e.g. a mask snapshot's title). Truth ids outside
    [0, K) (ignore) are left out, as ignite's ConfusionMatrix leaves them out."""
    pred, truth = torch.as_tensor(pred).long().flatten(), torch.as_tensor(truth).long().flatten()
    keep = (truth >= 0) & (truth < num_classes)
    idx = truth[keep] * num_classes + pred[keep].clamp(0, num_classes - 1)
    return torch.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


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


#: The validation metrics each task computes, by the name a recipe's ``eval.metric`` uses.
#: ``top5`` exists only with more than five classes.
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "segmentation": ("mIoU", "mF1", "fwIoU", "pixel_acc", "loss"),
    "classification": ("accuracy", "top5", "loss"),
}
_DEFAULT_METRIC = {"segmentation": "mIoU", "classification": "accuracy"}


@dataclass(frozen=True)
class MetricSpec:
    """The one metric that ranks a run's epochs: best checkpoint, early stopping, history's
    "best" row, reports and compare all read it from here, so they can never disagree."""

    name: str
    mode: str = "max"  # "max" | "min"

    @property
    def key(self) -> str:
        """The column in history.csv and the TensorBoard tag: ``val/<name>``."""
        return f"val/{self.name}"

    @property
    def file_label(self) -> str:
        """The name as it can appear in a file name (``IoU/Rangeland`` -> ``IoU-Rangeland``);
        a metric where lower is better is ranked (and named) by its negative: ``neg_loss=-1.9377``,
        never a ``loss=`` that reads as a negative loss."""
        label = self.name.replace("/", "-")
        return label if self.mode == "max" else f"neg_{label}"

    def score(self, value: float) -> float:
        """Larger is better, whatever the mode; NaN ranks below everything."""
        v = float(value)
        if v != v:
            return -float("inf")
        return v if self.mode == "max" else -v

    def best(self, rows: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
        """The row of ``rows`` (history rows) with the best value of this metric, or None."""
        scored = [r for r in rows if isinstance(r.get(self.key), (int, float)) and r[self.key] == r[self.key]]
        return max(scored, key=lambda r: self.score(r[self.key])) if scored else None


def available_metrics(task: str) -> tuple[str, ...]:
    return TASK_METRICS[task]


def scored_classes(recipe: Mapping[str, Any], info: Any = None) -> list[int]:
    """The class ids a segmentation run scores: ``eval.miou_classes``, else the dataset's
    evaluation classes (``info``: its ``DatasetInfo``, read from the recipe when None)."""
    chosen = recipe["eval"]["miou_classes"]
    if chosen is not None:
        return list(chosen)
    if info is None:
        from ignite_zoo.zoo.data import dataset_info

        info = dataset_info(recipe["data"])
    return list(info.eval_classes)


def _check_class_metric(recipe: Mapping[str, Any], name: str) -> None:
    """``IoU/<class>`` (or F1, precision, recall) names a class the run scores."""
    from ignite_zoo.zoo.data import dataset_info

    info = dataset_info(recipe["data"])
    label = name.split("/", 1)[1]
    if label not in info.classes:
        raise RecipeError(f"eval.metric={recipe['eval']['metric']!r}: {label!r} is not a class of {recipe['data']['type']}; "
                          f"expected one of {', '.join(info.classes)}")
    if info.classes.index(label) not in scored_classes(recipe, info):
        raise RecipeError(f"eval.metric={recipe['eval']['metric']!r}: class {label!r} is not scored "
                          "(not in eval.miou_classes); expected a scored class")


def metric_spec(recipe: Mapping[str, Any]) -> MetricSpec:
    """The run's metric from ``eval.metric`` (``mIoU`` or ``val/mIoU``, or one class's score
    such as ``val/IoU/Rangeland``) and the task.

    Checked here, before any work, so a typo fails in a second and not after an epoch.
    """
    task = recipe["task"]
    name = recipe["eval"]["metric"] or _DEFAULT_METRIC[task]
    name = name[len("val/"):] if name.startswith("val/") else name
    known = available_metrics(task)
    if task == "segmentation" and name.split("/", 1)[0] in PER_CLASS and "/" in name:
        _check_class_metric(recipe, name)
    elif name not in known:
        per_class = f", {'/<class>, '.join(PER_CLASS)}/<class>" if task == "segmentation" else ""
        raise RecipeError(f"eval.metric={recipe['eval']['metric']!r}: a {task} run computes "
                          f"{', '.join(known)}{per_class}; expected one of those (or null for {_DEFAULT_METRIC[task]})")
    return MetricSpec(name, "min" if "loss" in name.lower() else "max")


def flatten_metrics(metrics: dict, class_names: Sequence[str] | None = None, prefix: str = "val/",
                    scored: Sequence[int] | None = None) -> dict[str, float | None]:
    """Scalars for history/TensorBoard: vectors become ``val/IoU/<class>``; ``cm`` is left out.

    With ``scored``, a class outside it gets None ("not scored": an empty cell in history,
    null in metrics.json, no TensorBoard point) rather than a number that reads like a score.
    """
    out: dict[str, float | None] = {}
    for name, value in metrics.items():
        if name == "cm":
            continue
        if isinstance(value, torch.Tensor) and value.ndim == 1:
            for i, v in enumerate(value.tolist()):
                label = class_names[i] if class_names and i < len(class_names) else str(i)
                out[f"{prefix}{name}/{label}"] = None if scored is not None and i not in scored else float(v)
        else:
            out[f"{prefix}{name}"] = float(value)
    return out
