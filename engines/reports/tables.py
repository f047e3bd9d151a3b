"""Tables of a report: built once as ``Table`` (header + rows of strings), rendered to
Markdown or HTML, so both documents show the same numbers formatted the same way."""
from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from ignite_zoo.engines.metrics import PER_CLASS
from ignite_zoo.engines.reports.runs import Run, best_row, finite, metric_mode, short_metric

#: numbers in tables: 4 decimals (mIoU 0.6123), general format outside [1e-3, 1e4)
DECIMALS = 4
MISSING = "-"
NOT_SCORED = "not scored"


def fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return MISSING
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if v == 0 or 1e-3 <= abs(v) < 1e4:
        return f"{v:.{DECIMALS}f}"
    return f"{v:.3g}"


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    align: list[str] | None = None  # "l" | "r" per column; default: first left, rest right

    def aligns(self) -> list[str]:
        return self.align or ["l"] + ["r"] * (len(self.header) - 1)

    def markdown(self) -> str:
        def cell(s: str) -> str:
            return str(s).replace("|", "\\|")

        sep = ["---" if a == "l" else "---:" for a in self.aligns()]
        lines = ["| " + " | ".join(cell(h) for h in self.header) + " |", "| " + " | ".join(sep) + " |"]
        lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in self.rows]
        return "\n".join(lines)

    def html(self) -> str:
        al = self.aligns()

        def cells(tag: str, values: Sequence[str]) -> str:
            return "".join(f"<{tag} style='text-align:{'left' if a == 'l' else 'right'}'>{html.escape(str(v))}</{tag}>"
                           for v, a in zip(values, al))

        body = "".join(f"<tr>{cells('td', row)}</tr>" for row in self.rows)
        return f"<table><thead><tr>{cells('th', self.header)}</tr></thead><tbody>{body}</tbody></table>"


def comparison_table(runs: Sequence[Run], labels: Sequence[str], metric: str) -> Table:
    """``| epoch | FCN32s mIoU | FCN16s mIoU |`` for every epoch, then final, best, best epoch."""
    short = short_metric(metric)
    mode = metric_mode(runs, metric)
    header = ["epoch"] + [f"{lab} {short}" for lab in labels]
    by_run = [{r["epoch"]: r.get(metric) for r in run.history} for run in runs]
    epochs = sorted(set().union(*(d.keys() for d in by_run)))
    rows = [[str(e)] + [fmt(d.get(e)) for d in by_run] for e in epochs]
    finals, bests, best_epochs = [], [], []
    for run in runs:
        scored = [r for r in run.history if finite(r.get(metric))]
        finals.append(fmt(scored[-1][metric]) if scored else MISSING)
        b = best_row(run.history, metric, mode)
        bests.append(fmt(b[metric]) if b else MISSING)
        best_epochs.append(str(b["epoch"]) if b else MISSING)
    rows += [["final"] + finals, ["best"] + bests, ["best epoch"] + best_epochs]
    return Table(header, rows)


def summary_table(comparison: Table, labels: Sequence[str], metric: str) -> Table:
    """One row per run: final, best and best epoch (the last rows of ``comparison_table``)."""
    final, best, best_epoch = comparison.rows[-3:]
    short = short_metric(metric)
    return Table(["run", f"final {short}", f"best {short}", "best epoch"],
                 [[lab, final[i + 1], best[i + 1], best_epoch[i + 1]] for i, lab in enumerate(labels)])


def metrics_table(run: Run) -> Table:
    """Final and best value of every scalar the run recorded (per-class IoU left to its own table)."""
    final, best, key = run.final, run.best, run.metric.key
    keys: list[str] = []
    for row in run.history:
        keys += [k for k in row if k not in keys]
    keys = [k for k in keys if k != "epoch" and not _per_class(k) and not k.endswith("seconds") and k != "lr"]
    keys.sort(key=lambda k: (not k.startswith("val/"), k != key))
    header = ["metric", f"final (epoch {final['epoch']})",
              f"best {short_metric(key)} (epoch {best.get('epoch', MISSING)})"]
    return Table(header, [[k, fmt(final.get(k)), fmt(best.get(k))] for k in keys])


def _per_class(key: str) -> bool:
    return any(key.startswith(f"val/{s}/") for s in PER_CLASS)


def class_iou_table(run: Run) -> Table | None:
    """Per-class IoU at the final and best epochs; None for runs without ``val/IoU/*``.
    A class outside the mean reads "not scored" (whatever an older run recorded for it)."""
    names = run.class_names
    if not names:
        return None
    in_miou = run.eval_classes
    final, best = run.final, run.best
    rows = []
    for i, n in enumerate(names):
        if i not in in_miou:
            rows.append([f"{n} (not in mIoU)", NOT_SCORED, NOT_SCORED])
            continue
        rows.append([n, fmt(final.get(f"val/IoU/{n}")), fmt(best.get(f"val/IoU/{n}"))])
    rows.append(["mIoU", fmt(final.get("val/mIoU")), fmt(best.get("val/mIoU"))])
    return Table(["class", f"IoU final (epoch {final['epoch']})",
                  f"IoU best (epoch {best.get('epoch', MISSING)})"], rows)


def class_scores_table(run: Run) -> Table | None:
    """IoU, F1, precision and recall per class at the final epoch, all from the run's one
    confusion matrix; None for runs that recorded only IoU (or no per-class score)."""
    names, final = run.class_names, run.final
    if not names or not any(f"val/F1/{n}" in final for n in names):
        return None
    in_miou = run.eval_classes
    rows = [[n, *([fmt(final.get(f"val/{s}/{n}")) for s in PER_CLASS] if i in in_miou
                  else [NOT_SCORED] * len(PER_CLASS))] for i, n in enumerate(names)]
    means = [fmt(final.get("val/mIoU")), fmt(final.get("val/mF1")), MISSING, MISSING]
    rows.append(["mean (scored classes)", *means])
    return Table([f"class (epoch {final['epoch']})", *PER_CLASS], rows)


def _component(c: Any) -> str:
    if not isinstance(c, Mapping):
        return str(c)
    rest = ", ".join(f"{k}={v}" for k, v in c.items() if k != "type" and v is not None)
    return f"{c['type']}" + (f" ({rest})" if rest else "")


def backbone_init(run: Run) -> str:
    """What the backbone started from: what the run recorded, else the recipe's weights file
    named (``zoo.backbones.weights.describe_weights``, the run's own wording)."""
    from ignite_zoo.zoo.backbones.weights import describe_weights

    init = run.init
    if isinstance(init, Mapping) and init.get("file"):
        sha = init.get("sha256")
        return f"{Path(str(init['file'])).name}" + (f" (sha256 {str(sha)[:12]})" if sha else "")
    if isinstance(init, str) and init:
        return init
    backbone = run.recipe["model"]["backbone"]
    return describe_weights(backbone.get("weights"), str(backbone.get("type")), digest=False)


def recipe_table(run: Run) -> Table:
    """The settings a reader of a report asks about first."""
    r = run.recipe
    model, data, tr = r["model"], r["data"], r["train"]
    rows = [
        ["task", r["task"]],
        ["backbone", _component(model["backbone"])],
        ["backbone init", backbone_init(run)],
        ["head", _component(model["head"])],
        ["data", f"{data['type']} ({data['root']})" if data["root"] else str(data["type"])],
        ["loss", _component(r["loss"])],
        ["optimizer", _component(r["optim"])],
        ["schedule", _component(r["sched"]) if r["sched"] else "constant"],
        ["best checkpoint by", f"{run.metric.name} ({run.metric.mode})"],
        ["epochs", f"{len(run.history)} recorded (of {tr['epochs']} planned)"],
        ["batch size", str(data["loader"]["batch_size"])],
        ["amp", str(tr["amp"])],
        ["seed", str(r["seed"])],
    ]
    return Table(["setting", "value"], rows, align=["l", "l"])
