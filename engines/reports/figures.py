"""Figures of a report: matplotlib PNGs sized for a report page, all saved by ``save_figure``."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from ignite_zoo.engines.reports.runs import Run, best_row, finite, metric_mode, short_metric

DPI = 150


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (reports are written without a display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | os.PathLike, rect: tuple[float, float, float, float] | None = None) -> Path:
    """Lay out (within ``rect``, leaving room for a figure legend), write the PNG and free the
    figure (pyplot keeps every open figure otherwise)."""
    path = Path(path)
    from ignite_zoo.engines.outputs import writing

    try:
        fig.tight_layout(rect=rect)
        with writing(path):
            fig.savefig(path, dpi=DPI)
    finally:
        pyplot().close(fig)
    return path


def _integer_epochs(ax: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_comparison(runs: Sequence[Run], labels: Sequence[str], metric: str, path: str | os.PathLike) -> Path:
    """One line per run, x = epoch; the best epoch of each run is marked."""
    fig, ax = pyplot().subplots(figsize=(6.4, 4.0))
    mode = metric_mode(runs, metric)
    for i, (run, lab) in enumerate(zip(runs, labels)):
        pts = [(r["epoch"], r[metric]) for r in run.history if finite(r.get(metric))]
        if not pts:
            continue
        xs, ys = zip(*pts)
        line, = ax.plot(xs, ys, marker="o", markersize=3.5, label=lab, color=f"C{i % 10}")
        b = best_row(run.history, metric, mode)
        if b:
            ax.plot([b["epoch"]], [b[metric]], marker="*", markersize=11, color=line.get_color(),
                    markeredgecolor="black", markeredgewidth=0.6, linestyle="none")
    ax.set_xlabel("epoch")
    ax.set_ylabel(short_metric(metric))
    ax.set_title(f"{short_metric(metric)} by epoch (star: best)")
    ax.grid(True, alpha=0.3)
    _integer_epochs(ax)
    if ax.get_legend_handles_labels()[0]:  # a run without a finite value draws no line
        ax.legend(frameon=False)
    return save_figure(fig, path)


def plot_curves(run: Run, path: str | os.PathLike, title: str | None = None) -> Path:
    """Training loss (left axis) and the run's validation metric (right axis) by epoch."""
    fig, ax = pyplot().subplots(figsize=(6.4, 3.8))
    loss = [(r["epoch"], r["train/loss"]) for r in run.history if finite(r.get("train/loss"))]
    if loss:
        ax.plot(*zip(*loss), color="C0", marker="o", markersize=3, label="train loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("train loss", color="C0")
    ax.grid(True, alpha=0.3)
    key = run.metric.key
    val = [(r["epoch"], r[key]) for r in run.history if finite(r.get(key))]
    if val:
        ax2 = ax.twinx()
        ax2.plot(*zip(*val), color="C3", marker="s", markersize=3, label=short_metric(key))
        ax2.set_ylabel(f"validation {short_metric(key)}", color="C3")
    _integer_epochs(ax)
    ax.set_title(title or run.path.name)
    return save_figure(fig, path)


def class_styles(k: int) -> list[tuple[Any, str]]:
    """(colour, marker) per class, all pairs distinct: tab10/tab20 colours times a marker cycle."""
    markers = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p"]
    palette = pyplot().get_cmap("tab10" if k <= 10 else "tab20")
    n = 10 if k <= 10 else 20
    return [(palette(i % n), markers[(i // n) % len(markers)]) for i in range(k)]


def plot_tsne(embedding: Any, labels: Any, class_names: Sequence[str], path: str | os.PathLike,
              title: str = "t-SNE of the second-last layer features") -> Path:
    """Scatter, one colour/marker per class, class names at the class centroids, legend beside."""
    import numpy as np
    from matplotlib import patheffects

    emb, labels = np.asarray(embedding), np.asarray(labels)
    k = len(class_names)
    styles = class_styles(k)
    ncol = 1 if k <= 25 else 2 if k <= 50 else 3
    fig, ax = pyplot().subplots(figsize=(8.0 + 1.3 * ncol, 8.0))
    size = 14 if len(emb) < 2000 else 6
    for c in range(k):
        sel = labels == c
        if not sel.any():
            continue
        colour, marker = styles[c]
        ax.scatter(emb[sel, 0], emb[sel, 1], s=size, color=colour, marker=marker, alpha=0.8, linewidths=0,
                   label=class_names[c])
    outline = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    for c in range(k):
        sel = labels == c
        if sel.any():
            cx, cy = np.median(emb[sel], axis=0)
            ax.text(cx, cy, class_names[c], fontsize=9 if k <= 20 else 7, fontweight="bold", ha="center",
                    va="center", color="black", path_effects=outline)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), ncol=ncol, fontsize=7 if k > 20 else 8,
              markerscale=1.6, frameon=False, title="class", handletextpad=0.2, columnspacing=0.8)
    return save_figure(fig, path)


def confusion_counts(labels: Any, predictions: Any, num_classes: int) -> Any:
    """int64 ``[K, K]`` counts, rows true class, columns predicted (scikit-learn's
    ``confusion_matrix`` over every class id, so absent classes keep their row and column)."""
    import numpy as np
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(np.asarray(labels, dtype=np.int64), np.asarray(predictions, dtype=np.int64),
                            labels=np.arange(num_classes)).astype(np.int64)


def plot_confusion(labels: Any, predictions: Any, class_names: Sequence[str], path: str | os.PathLike,
                   title: str | None = None) -> Path:
    """Row-normalised confusion matrix (rows: true class), names on both axes; values printed up
    to 15 classes, and the diagonal accuracy in the title."""
    return plot_confusion_matrix(confusion_counts(labels, predictions, len(class_names)), class_names, path, title)


def plot_confusion_matrix(counts: Any, class_names: Sequence[str], path: str | os.PathLike,
                          title: str | None = None) -> Path:
    """``plot_confusion`` of a ``[K, K]`` count matrix (rows true class), e.g. the pixel
    confusion matrix of a segmentation run's validation."""
    import numpy as np

    k = len(class_names)
    cm = np.asarray(counts, dtype=np.float64)
    rows = cm.sum(1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    side = max(5.5, 0.2 * k + 2.5)
    fig, ax = pyplot().subplots(figsize=(side + 1.0, side))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
    fs = 9 if k <= 15 else 8 if k <= 30 else 7 if k <= 60 else 5
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xticklabels(class_names, fontsize=fs, rotation=90 if k > 10 else 0)
    ax.set_yticklabels(class_names, fontsize=fs)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if k <= 15:
        for i in range(k):
            for j in range(k):
                if norm[i, j] >= 0.005:
                    ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if norm[i, j] > 0.5 else "black")
    acc = float(np.trace(cm) / cm.sum()) if cm.sum() else float("nan")
    ax.set_title(title or f"confusion matrix (row-normalised), accuracy {acc:.4f}")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    return save_figure(fig, path)
