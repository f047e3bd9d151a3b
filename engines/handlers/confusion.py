"""The pixel confusion matrix of a segmentation run's latest validation, as a figure."""
from __future__ import annotations

import json

from ignite.engine import Engine

from ignite_zoo.engines.events import RunContext, RunEvents
from ignite_zoo.registry import HANDLERS

#: written into the run directory, beside classification's (tools/tsne.py) of the same name
FIGURE = "confusion_matrix.png"
COUNTS = "confusion_matrix.json"


@HANDLERS.register("confusion")
class ConfusionFigure:
    """After each validation of a segmentation run: ``confusion_matrix.png`` (row-normalised,
    rows true class) and ``confusion_matrix.json`` (the counts, with the epoch and class
    names). It is the same matrix every score comes from, so the figure explains the
    per-class IoU, F1, precision and recall beside it. Classification runs get theirs from
    ``tools/tsne.py``."""

    def attach(self, run: RunContext) -> None:
        if run.recipe["task"] != "segmentation":
            return
        self.run = run
        run.trainer.add_event_handler(RunEvents.EPOCH_SUMMARY, self._write)

    def _write(self, engine: Engine) -> None:
        if "val/seconds" not in engine.state.epoch_summary:  # not a validation epoch
            return
        cm = self.run.evaluator.state.metrics.get("cm")
        if cm is None:
            return
        from ignite_zoo.engines.reports.figures import plot_confusion_matrix

        counts = cm.cpu().long().tolist()
        names = list(getattr(self.run.dataset_info, "classes", None) or range(len(counts)))
        path = self.run.run_dir.path
        total = sum(map(sum, counts))
        acc = sum(counts[i][i] for i in range(len(counts))) / total if total else float("nan")
        plot_confusion_matrix(counts, [str(n) for n in names], path / FIGURE,
                              title=f"epoch {engine.state.epoch}: pixel confusion (row-normalised), "
                                    f"pixel accuracy {acc:.4f}")
        (path / COUNTS).write_text(json.dumps({"epoch": engine.state.epoch, "classes": [str(n) for n in names],
                                               "counts": counts}), encoding="utf-8")
