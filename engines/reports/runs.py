"""A finished (or running) run directory as the reports see it.

``open_run`` reads it through the run directory's owner (``engines.run_dir.RunDir``), which
validates the stored recipe through the schema again: every recipe key exists and nothing
here invents a default of its own. The run's metric is its ``engines.metrics.MetricSpec``.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from ignite_zoo.engines.metrics import MetricSpec, metric_spec
from ignite_zoo.engines.run_dir import RunDir
from ignite_zoo.registry.errors import RecipeError, RunError

def finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def lower_is_better(key: str) -> bool:
    """For a history column that is not the run's own metric (``train/loss``, ``val/seconds``)."""
    return "loss" in key or key.endswith("seconds")


def best_row(history: Sequence[Mapping[str, Any]], key: str, mode: str | None = None) -> dict[str, Any] | None:
    """The epoch row with the best finite ``key``; ``mode`` defaults to what the column's name says."""
    scored = [r for r in history if finite(r.get(key))]
    if not scored:
        return None
    if mode is None:
        mode = "min" if lower_is_better(key) else "max"
    pick = min if mode == "min" else max
    return dict(pick(scored, key=lambda r: r[key]))


@dataclass
class Run:
    """A run directory as written by ``tools/run.py``; ``recipe`` is the validated recipe."""

    path: Path
    recipe: dict[str, Any]
    history: list[dict[str, Any]]
    summary: dict[str, Any] = field(default_factory=dict)  # metrics.json

    @property
    def task(self) -> str:
        return self.recipe["task"]

    @property
    def metric(self) -> MetricSpec:
        return metric_spec(self.recipe)

    @property
    def final(self) -> dict[str, Any]:
        return dict(self.history[-1])

    @property
    def best(self) -> dict[str, Any]:
        """The epoch row with the best value of the run's metric (what its best checkpoint holds)."""
        return dict(self.metric.best(self.history) or {})

    @property
    def init(self) -> Any:
        """What the backbone started from, as the run recorded it (metrics.json ``init``), or None."""
        return self.summary.get("init")

    @property
    def class_names(self) -> list[str]:
        prefix = "val/IoU/"
        names: list[str] = []
        for row in self.history:
            names += [k[len(prefix):] for k in row if k.startswith(prefix) and k[len(prefix):] not in names]
        return names

    @property
    def eval_classes(self) -> list[int]:
        """Class ids averaged into mIoU: the recipe's ``eval.miou_classes``, else the dataset's eval classes."""
        chosen = self.recipe["eval"]["miou_classes"]
        if chosen is not None:
            return list(chosen)
        from ignite_zoo.zoo.data import dataset_info

        return list(dataset_info(self.recipe["data"]).eval_classes)

    @property
    def mask_epochs(self) -> list[int]:
        """Epochs whose predicted masks the run saved (``masks/epoch_<E>/``)."""
        folder = self.path / "masks"
        if not folder.is_dir():
            return []
        return sorted(int(p.name[6:]) for p in folder.glob("epoch_*") if p.is_dir() and p.name[6:].isdigit())

    def find(self, *relative: str) -> Path | None:
        """The first of ``relative`` paths that is a file in the run directory."""
        for rel in relative:
            p = self.path / rel
            if p.is_file():
                return p
        return None


def open_run(path: str | os.PathLike) -> Run:
    """Read a run directory; anything missing or unreadable is a RunError naming the file."""
    run = RunDir.open(path)
    try:
        history = run.history()
    except (ValueError, KeyError) as e:
        raise RunError(f"{run.history_path}: cannot parse ({e}); expected the CSV tools/run.py writes") from None
    if not history:
        raise RunError(f"{run.path}: history.csv holds no epochs yet (has the run finished an epoch?)")
    return Run(run.path, run.recipe, history, run.summary())


# --------------------------------------------------------------------------------------
# labels and metric names
# --------------------------------------------------------------------------------------
def default_label(recipe: Mapping[str, Any]) -> str:
    """``fcn32s`` -> ``FCN32s``; a classifier is named by its backbone (``VGG16``)."""
    head = str(recipe["model"]["head"]["type"])
    if head.lower().startswith("fcn"):
        return "FCN" + head[3:]
    if head == "classifier":
        backbone = str(recipe["model"]["backbone"]["type"])
        return backbone.split(":", 1)[1] if ":" in backbone else backbone.upper()
    return head


def run_labels(runs: Sequence[Run], labels: str | Sequence[str] | None = None) -> list[str]:
    """Names of the runs: ``--labels a,b`` (one per run) or each recipe's default, made unique."""
    if labels:
        given = [s.strip() for s in labels.split(",")] if isinstance(labels, str) else list(labels)
        if len(given) != len(runs) or any(not g for g in given):
            raise RecipeError(f"--labels {','.join(given)!r}: expected {len(runs)} non-empty comma-separated "
                              f"labels, one per run directory, got {len(given)}")
        return given
    out = [default_label(r.recipe) for r in runs]
    dup = {lab for lab in out if out.count(lab) > 1}
    out = [f"{lab} ({run.path.name})" if lab in dup else lab for lab, run in zip(out, runs)]
    seen: dict[str, int] = {}
    for i, lab in enumerate(out):  # same head and same folder name: number them
        seen[lab] = seen.get(lab, 0) + 1
        if seen[lab] > 1:
            out[i] = f"{lab} #{seen[lab]}"
    return out


def short_metric(key: str) -> str:
    """``val/mIoU`` -> ``mIoU``; ``train/loss`` -> ``train loss``."""
    if key.startswith("val/"):
        return key[4:]
    return key.replace("/", " ")


def comparable_metric(runs: Sequence[Run], name: str | None = None) -> str:
    """The history column to compare ``runs`` on: their common metric spec, or ``name``.

    Runs of different tasks are never comparable; without ``name`` their metric specs must
    agree too. ``mIoU`` and ``val/mIoU`` both name the column ``val/mIoU``.
    """
    first = runs[0]
    for run in runs[1:]:
        if run.task != first.task or (name is None and run.metric != first.metric):
            raise RunError(f"cannot compare {first.path} ({first.task}, {first.metric.name}) with "
                           f"{run.path} ({run.task}, {run.metric.name}): runs of one task and one metric "
                           "are compared" + ("" if run.task != first.task else "; pick a common one with --metric"))
    if name is None:
        return first.metric.key
    columns = [set().union(*(row.keys() for row in r.history)) for r in runs]
    candidates = [name] if "/" in name else [f"val/{name}", name]
    for key in candidates:
        if all(key in cols for cols in columns):
            return key
    key = candidates[0]
    missing = [str(r.path) for r, cols in zip(runs, columns) if key not in cols]
    common = sorted(set.intersection(*columns) - {"epoch"})
    raise RecipeError(f"--metric {name!r}: no column {key!r} in the history.csv of {', '.join(missing)}; "
                      f"columns all runs have: {', '.join(common)}")


def metric_mode(runs: Sequence[Run], key: str) -> str:
    """``min`` or ``max`` for column ``key``: the runs' own spec when it is their metric."""
    if key == runs[0].metric.key:
        return runs[0].metric.mode
    return "min" if lower_is_better(key) else "max"
