"""The whole homework in one document: classification first, then segmentation.

Each task gets its own section: per run its settings (with what the backbone started
from), architecture table, training curves, metrics and figures (t-SNE and confusion
matrix for classification, the mask grid for segmentation); then, when a task has more
than one run, the comparison plot and the per-epoch table on the task's metric. Everything
is read from the run directories, so the report can be regenerated after more training.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Mapping, Sequence

from ignite_zoo.engines.outputs import prepare_output_dir, undo_on_failure, writing
from ignite_zoo.engines.outputs import atomic_write_text
from ignite_zoo.engines.reports.architecture import recipe_architecture_text
from ignite_zoo.engines.reports.document import Doc
from ignite_zoo.engines.reports.figures import plot_comparison, plot_curves
from ignite_zoo.engines.reports.runs import Run, comparable_metric, open_run, run_labels, short_metric
from ignite_zoo.engines.reports.tables import (class_iou_table, class_scores_table, comparison_table, metrics_table,
                                               recipe_table, summary_table)
from ignite_zoo.registry.errors import RecipeError, UserError

REPORT_FILES = ("report.md", "report.html", "figures")
#: the course's order: problem 1 (classification), then problem 2 (segmentation)
TASK_ORDER = ("classification", "segmentation")
CLS_FIGURES = (("tsne.png", "t-SNE", "t-SNE of the second-last layer features of the validation images"),
               ("confusion_matrix.png", "Confusion matrix", "confusion matrix on the validation set (row-normalised)"))
#: a segmentation run's pixel confusion matrix (engines/handlers/confusion.py)
SEG_CONFUSION = "confusion_matrix.png"


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text).strip("_").lower() or "run"


class _Writer:
    """Adds one run's or one comparison's blocks to ``doc``, figures into ``figs``."""

    def __init__(self, doc: Doc, figs: Path, architecture: bool) -> None:
        self.doc, self.figs, self.architecture = doc, figs, architecture
        self.count = 0

    def copy_figure(self, src: Path, name: str, caption: str) -> None:
        dst = self.figs / f"{self.count}_{name}.png"
        with writing(dst):
            shutil.copyfile(src, dst)
        self.doc.image(dst, caption)

    def run(self, lab: str, run: Run) -> None:
        self.count += 1
        doc, metric = self.doc, short_metric(run.metric.key)
        doc.heading(lab, 3)
        doc.text(f"Run directory: `{run.path}`; {len(run.history)} epoch(s) recorded.")
        doc.heading("Settings", 4)
        doc.table(recipe_table(run))
        if self.architecture:
            doc.heading("Architecture", 4)
            try:
                doc.code(recipe_architecture_text(run.recipe, str(run.path)))
            except UserError as e:
                doc.text(f"(architecture table unavailable: {e})")
        doc.heading("Training curves", 4)
        doc.image(plot_curves(run, self.figs / f"{self.count}_{_slug(lab)}_curves.png", title=lab),
                  f"{lab}: training loss and validation {metric} by epoch")
        doc.heading(f"Metrics ({metric}: {'higher' if run.metric.mode == 'max' else 'lower'} is better)", 4)
        doc.table(metrics_table(run))
        iou = class_iou_table(run)
        if iou is not None:
            doc.heading("Per-class IoU", 4)
            doc.table(iou)
        scores = class_scores_table(run)
        if scores is not None:
            doc.heading("Per-class scores", 4)
            doc.table(scores)
        if run.task == "classification":
            self.classification_figures(lab, run)
        else:
            self.mask_grid(lab, run)
            src = run.find(SEG_CONFUSION)
            if src is not None:
                self.doc.heading("Confusion matrix", 4)
                self.copy_figure(src, f"{_slug(lab)}_confusion", f"{lab}: pixel confusion matrix of the last "
                                 "validation (row-normalised)")

    def classification_figures(self, lab: str, run: Run) -> None:
        for rel, heading, caption in CLS_FIGURES:
            src = run.find(rel)
            if src is not None:
                self.doc.heading(heading, 4)
                self.copy_figure(src, f"{_slug(lab)}_{Path(rel).stem}", f"{lab}: {caption}")
        if run.find("tsne.png") is None:
            self.doc.text(f"(no t-SNE yet: run `python tools/tsne.py {run.path}` and regenerate this report)")

    def mask_grid(self, lab: str, run: Run) -> None:
        src = run.find("masks/grid.png")
        if src is None:
            return
        epochs = ", ".join(map(str, run.mask_epochs)) or "the chosen epochs"
        self.doc.heading("Predicted masks", 4)
        self.copy_figure(src, f"{_slug(lab)}_grid", f"{lab}: predicted masks of validation images at epochs {epochs} "
                         "(columns: image, those epochs, ground truth)")

    def comparison(self, task: str, runs: Sequence[Run], labels: Sequence[str], key: str) -> None:
        short = short_metric(key)
        self.doc.heading(f"Comparison: {short}", 3)
        self.doc.image(plot_comparison(runs, labels, key, self.figs / f"compare_{task}.png"),
                       f"Validation {short} by epoch; star: each run's best epoch")
        table = comparison_table(runs, labels, key)
        self.doc.table(table)
        self.doc.table(summary_table(table, labels, key))


def write_report(run_dirs: Sequence[str | os.PathLike], out: str | os.PathLike, labels: str | None = None,
                 metric: str | None = None, title: str | None = None, architecture: bool = True,
                 overwrite: bool = False) -> tuple[Path, Path]:
    """Write ``report.md``, ``report.html`` and ``figures/`` for classification and segmentation
    runs together; every input is checked before anything is written."""
    runs = [open_run(p) for p in run_dirs]
    names = run_labels(runs, labels)
    groups = {task: [(lab, r) for lab, r in zip(names, runs) if r.task == task] for task in TASK_ORDER}
    groups = {task: group for task, group in groups.items() if group}
    keys = report_metrics(groups, metric)
    with undo_on_failure(out):  # a report that fails half-way leaves no half-written folder
        folder = prepare_output_dir(out, run_dirs, overwrite, REPORT_FILES)
        return _write(folder, runs, groups, keys, title, architecture)


def report_metrics(groups: Mapping[str, Sequence[tuple[str, Run]]], metric: str | None) -> dict[str, str]:
    """The comparison column of each task with more than one run. A ``metric`` (--metric) is
    checked against every task's runs, one run too: it must name a column of some task's
    runs (a task with several runs must all have it), else the error lists the columns."""
    keys: dict[str, str] = {}
    errors: list[Exception] = []
    for task, group in groups.items():
        runs = [r for _, r in group]
        if len(runs) > 1:
            keys[task] = comparable_metric(runs, metric)
        elif metric is not None:
            try:
                comparable_metric(runs, metric)
            except RecipeError as e:
                errors.append(e)
    if metric is not None and errors and len(errors) == len(groups):
        raise errors[0]
    return keys


def _write(folder: Path, runs: Sequence[Run], groups: Mapping[str, Sequence[tuple[str, Run]]],
           keys: Mapping[str, str], title: str | None, architecture: bool) -> tuple[Path, Path]:
    figs = folder / "figures"
    figs.mkdir(exist_ok=True)

    ordered = [lab for group in groups.values() for lab, _ in group]
    doc = Doc(title or f"Report: {' and '.join(groups)} ({', '.join(ordered)})")
    doc.text("Generated by `tools/report.py` from the run directories: "
             + ", ".join(f"`{r.path}`" for r in runs) + ".")
    writer = _Writer(doc, figs, architecture)
    for task, group in groups.items():
        doc.heading(task.capitalize(), 2)
        for lab, run in group:
            writer.run(lab, run)
        if task in keys:
            writer.comparison(task, [r for _, r in group], [lab for lab, _ in group], keys[task])
    md_path, html_path = folder / "report.md", folder / "report.html"
    atomic_write_text(md_path, doc.markdown(folder))
    atomic_write_text(html_path, doc.html())
    return md_path, html_path
