"""Reading run directories back and turning them into tables, figures and reports.

Everything here works from what a run wrote (``recipe.yaml``, ``history.csv``,
``metrics.json``, ``masks/grid.png``, ``tsne.png``, ...), so a report can be regenerated
at any time without training. Tables are built once as ``Table`` (header + rows of
strings) and rendered to Markdown or HTML; figures are matplotlib PNGs sized for a report
page. Used by ``tools/compare.py``, ``tools/report.py`` and ``tools/tsne.py``.
"""
from __future__ import annotations

import base64
import html
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from registry.errors import RecipeError, RunError

#: numbers in tables: 4 decimals (mIoU 0.6123), general format outside [1e-3, 1e4)
DECIMALS = 4
MISSING = "-"


# --------------------------------------------------------------------------------------
# runs
# --------------------------------------------------------------------------------------
@dataclass
class Run:
    """A run directory as written by ``tools/run.py``."""

    path: Path
    recipe: dict[str, Any]
    history: list[dict[str, Any]]
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> str:
        return str(self.recipe.get("task", "segmentation"))

    @property
    def head_type(self) -> str:
        return str((self.recipe.get("model", {}).get("head") or {}).get("type", "model"))

    @property
    def best_metric(self) -> str:
        """The metric the run picked its best checkpoint by (``val/mIoU``, ``val/accuracy``)."""
        name = self.metrics.get("best_metric")
        if name:
            return str(name)
        metric = (self.recipe.get("eval") or {}).get("metric")
        if metric:
            return metric if metric.startswith("val/") else f"val/{metric}"
        return default_metric(self.task)

    @property
    def final(self) -> dict[str, Any]:
        return dict(self.history[-1]) if self.history else dict(self.metrics.get("final") or {})

    @property
    def best(self) -> dict[str, Any]:
        """The epoch row with the best ``best_metric`` (what the best checkpoint holds)."""
        if self.metrics.get("best"):
            return dict(self.metrics["best"])
        row = best_row(self.history, self.best_metric)
        return row or {}

    @property
    def class_names(self) -> list[str]:
        prefix = "val/IoU/"
        names: list[str] = []
        for row in self.history:
            names += [k[len(prefix):] for k in row if k.startswith(prefix) and k[len(prefix):] not in names]
        return names

    def find(self, *relative: str) -> Path | None:
        """The first of ``relative`` paths that exists in the run directory."""
        for rel in relative:
            p = self.path / rel
            if p.is_file():
                return p
        return None


def default_metric(task: str) -> str:
    return "val/mIoU" if task == "segmentation" else "val/accuracy"


def load_run(path: str | os.PathLike) -> Run:
    """Read a run directory; a missing folder or ``recipe.yaml`` is a RunError naming the path."""
    import json

    from engines.handlers.history import read_history
    from registry.recipe import load_yaml

    path = Path(path)
    if not path.is_dir():
        what = "a file" if path.exists() else "not found"
        raise RunError(f"{path}: run directory is {what}; expected a folder written by tools/run.py "
                       "(holding recipe.yaml, history.csv, checkpoints/)")
    recipe_path = path / "recipe.yaml"
    if not recipe_path.is_file():
        raise RunError(f"{path}: no recipe.yaml; expected a run directory written by tools/run.py")
    recipe = load_yaml(recipe_path)
    try:
        history = read_history(path / "history.csv")
    except (ValueError, KeyError) as e:
        raise RunError(f"{path / 'history.csv'}: cannot parse ({e}); expected the CSV tools/run.py writes") from None
    metrics: dict[str, Any] = {}
    mpath = path / "metrics.json"
    if mpath.is_file():
        try:
            metrics = json.loads(mpath.read_text())
        except (json.JSONDecodeError, OSError) as e:
            raise RunError(f"{mpath}: cannot read ({e}); expected the JSON tools/run.py writes") from None
    if not history and metrics.get("epochs"):
        history = list(metrics["epochs"])
    if not history:
        raise RunError(f"{path}: history.csv holds no epochs yet (has the run finished an epoch?)")
    return Run(path, recipe, history, metrics)


def lower_is_better(metric: str) -> bool:
    return "loss" in metric or metric.endswith("seconds")


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def best_row(history: Sequence[Mapping[str, Any]], metric: str) -> dict[str, Any] | None:
    scored = [r for r in history if _finite(r.get(metric))]
    if not scored:
        return None
    pick = min if lower_is_better(metric) else max
    return dict(pick(scored, key=lambda r: r[metric]))


# --------------------------------------------------------------------------------------
# labels and metric names
# --------------------------------------------------------------------------------------
def default_label(recipe: Mapping[str, Any]) -> str:
    """``fcn32s`` -> ``FCN32s``; a classifier is named by its backbone (``VGG16``)."""
    model = recipe.get("model") or {}
    head = str((model.get("head") or {}).get("type", "model"))
    if head.lower().startswith("fcn"):
        return "FCN" + head[3:]
    backbone = str((model.get("backbone") or {}).get("type", ""))
    if head == "classifier" and backbone:
        name = backbone.split(":", 1)[1] if ":" in backbone else backbone.upper()
        return name
    return head


def run_labels(runs: Sequence[Run], labels: str | Sequence[str] | None = None) -> list[str]:
    """Column labels: ``--labels a,b`` (one per run) or each recipe's default, made unique."""
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


def resolve_metric(name: str | None, runs: Sequence[Run]) -> str:
    """A history column present in every run: ``mIoU`` and ``val/mIoU`` both work."""
    if name is None:
        tasks = {r.task for r in runs}
        name = default_metric(tasks.pop()) if len(tasks) == 1 else runs[0].best_metric
    columns = [set().union(*(row.keys() for row in r.history)) for r in runs]
    candidates = [name] if "/" in name else [f"val/{name}", name]
    for key in candidates:
        missing = [str(r.path) for r, cols in zip(runs, columns) if key not in cols]
        if not missing:
            return key
    key = candidates[0]
    missing = [str(r.path) for r, cols in zip(runs, columns) if key not in cols]
    common = sorted(set.intersection(*columns) - {"epoch"}) if columns else []
    raise RecipeError(f"--metric {name!r}: no column {key!r} in the history.csv of {', '.join(missing)}; "
                      f"columns all runs have: {', '.join(common)}")


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


# --------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------
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
        head = "".join(f"<th style='text-align:{'left' if a == 'l' else 'right'}'>{html.escape(str(h))}</th>"
                       for h, a in zip(self.header, al))
        body = "".join(
            "<tr>" + "".join(f"<td style='text-align:{'left' if a == 'l' else 'right'}'>{html.escape(str(c))}</td>"
                             for c, a in zip(row, al)) + "</tr>"
            for row in self.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def comparison_table(runs: Sequence[Run], labels: Sequence[str], metric: str) -> Table:
    """``| epoch | FCN32s mIoU | FCN16s mIoU |`` for every epoch, then final, best, best epoch."""
    short = short_metric(metric)
    header = ["epoch"] + [f"{lab} {short}" for lab in labels]
    by_run = [{r["epoch"]: r.get(metric) for r in run.history} for run in runs]
    epochs = sorted(set().union(*(d.keys() for d in by_run)))
    rows = [[str(e)] + [fmt(d.get(e)) for d in by_run] for e in epochs]
    finals, bests, best_epochs = [], [], []
    for run in runs:
        scored = [r for r in run.history if _finite(r.get(metric))]
        finals.append(fmt(scored[-1][metric]) if scored else MISSING)
        b = best_row(run.history, metric)
        bests.append(fmt(b[metric]) if b else MISSING)
        best_epochs.append(str(b["epoch"]) if b else MISSING)
    rows += [["final"] + finals, ["best"] + bests, ["best epoch"] + best_epochs]
    return Table(header, rows)


def metrics_table(run: Run) -> Table:
    """Final and best value of every scalar the run recorded (per-class IoU left to its own table)."""
    final, best = run.final, run.best
    keys: list[str] = []
    for row in run.history:
        keys += [k for k in row if k not in keys]
    keys = [k for k in keys if k != "epoch" and not k.startswith("val/IoU/") and not k.endswith("seconds")
            and k != "lr"]
    keys.sort(key=lambda k: (not k.startswith("val/"), k != run.best_metric))
    header = ["metric", f"final (epoch {final.get('epoch', '?')})",
              f"best {short_metric(run.best_metric)} (epoch {best.get('epoch', '?')})"]
    return Table(header, [[k, fmt(final.get(k)), fmt(best.get(k))] for k in keys])


def class_iou_table(run: Run, miou_classes: Sequence[int] | None = None) -> Table | None:
    """Per-class IoU at the final and best epochs; None for runs without ``val/IoU/*``."""
    names = run.class_names
    if not names:
        return None
    if miou_classes is None:
        miou_classes = (run.recipe.get("eval") or {}).get("miou_classes")
    if miou_classes is None:
        miou_classes = [i for i, n in enumerate(names) if n != "Unknown"]
    final, best = run.final, run.best
    rows = []
    for i, n in enumerate(names):
        label = n if i in miou_classes else f"{n} (not in mIoU)"
        rows.append([label, fmt(final.get(f"val/IoU/{n}")), fmt(best.get(f"val/IoU/{n}"))])
    rows.append(["mIoU", fmt(final.get("val/mIoU")), fmt(best.get("val/mIoU"))])
    return Table(["class", f"IoU final (epoch {final.get('epoch', '?')})",
                  f"IoU best (epoch {best.get('epoch', '?')})"], rows)


def recipe_table(run: Run) -> Table:
    """The settings a reader of a report asks about first."""
    r = run.recipe
    model, data, tr = r.get("model") or {}, r.get("data") or {}, r.get("train") or {}

    def comp(c: Any) -> str:
        if not isinstance(c, Mapping):
            return str(c)
        rest = ", ".join(f"{k}={v}" for k, v in c.items() if k != "type" and v is not None)
        return f"{c.get('type')}" + (f" ({rest})" if rest else "")

    loader = data.get("loader") or {}
    rows = [
        ["task", str(r.get("task"))],
        ["backbone", comp(model.get("backbone"))],
        ["head", comp(model.get("head"))],
        ["data", f"{data.get('type')} ({data.get('root')})" if data.get("root") else str(data.get("type"))],
        ["loss", comp(r.get("loss"))],
        ["optimizer", comp(r.get("optim"))],
        ["schedule", comp(r.get("sched")) if r.get("sched") else "constant"],
        ["epochs", f"{len(run.history)} recorded (of {tr.get('epochs')} planned)"],
        ["batch size", str(loader.get("batch_size"))],
        ["amp", str(tr.get("amp"))],
        ["seed", str(r.get("seed"))],
    ]
    return Table(["setting", "value"], rows, align=["l", "l"])


def architecture_text(recipe: Mapping[str, Any]) -> str:
    """torchsummary table of the recipe's model at ``model.input_size`` (no weights loaded)."""
    import copy

    from registry.plugins import import_modules
    from zoo import build_model
    from zoo.summary import summarize

    import_modules(recipe.get("imports") or [])
    cfg = copy.deepcopy(dict(recipe["model"]))
    if isinstance(cfg.get("backbone"), dict) and cfg["backbone"].get("weights"):
        cfg["backbone"]["weights"] = None  # shapes only; the table must not need the weights file
    size = cfg.pop("input_size", None) or ([3, 512, 512] if recipe.get("task") == "segmentation" else [3, 32, 32])
    zoo_log = logging.getLogger("zoo")
    level = zoo_log.level
    zoo_log.setLevel(logging.ERROR)  # "no weights given, randomly initialised" is expected here
    try:
        model = build_model(cfg)
    finally:
        zoo_log.setLevel(level)
    return f"input size: {','.join(map(str, size))}\n" + summarize(model, tuple(size))


# --------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------
def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_comparison(runs: Sequence[Run], labels: Sequence[str], metric: str, path: str | os.PathLike) -> Path:
    """One line per run, x = epoch; the best epoch of each run is marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for i, (run, lab) in enumerate(zip(runs, labels)):
        pts = [(r["epoch"], r[metric]) for r in run.history if _finite(r.get(metric))]
        if not pts:
            continue
        xs, ys = zip(*pts)
        line, = ax.plot(xs, ys, marker="o", markersize=3.5, label=lab, color=f"C{i % 10}")
        b = best_row(run.history, metric)
        if b:
            ax.plot([b["epoch"]], [b[metric]], marker="*", markersize=11, color=line.get_color(),
                    markeredgecolor="black", markeredgewidth=0.6, linestyle="none")
    ax.set_xlabel("epoch")
    ax.set_ylabel(short_metric(metric))
    ax.set_title(f"{short_metric(metric)} by epoch (star: best)")
    ax.grid(True, alpha=0.3)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if any(run.history for run in runs):
        ax.legend(frameon=False)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def plot_curves(run: Run, path: str | os.PathLike, title: str | None = None) -> Path:
    """Training loss (left axis) and the run's validation metric (right axis) by epoch."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    loss = [(r["epoch"], r["train/loss"]) for r in run.history if _finite(r.get("train/loss"))]
    if loss:
        ax.plot(*zip(*loss), color="C0", marker="o", markersize=3, label="train loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("train loss", color="C0")
    ax.grid(True, alpha=0.3)
    metric = run.best_metric
    val = [(r["epoch"], r[metric]) for r in run.history if _finite(r.get(metric))]
    if val:
        ax2 = ax.twinx()
        ax2.plot(*zip(*val), color="C3", marker="s", markersize=3, label=short_metric(metric))
        ax2.set_ylabel(f"validation {short_metric(metric)}", color="C3")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title or run.path.name)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def class_styles(k: int) -> list[tuple[Any, str]]:
    """(colour, marker) per class, all pairs distinct: tab10/tab20 colours times a marker cycle."""
    plt = _pyplot()
    markers = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p"]
    palette = plt.get_cmap("tab10" if k <= 10 else "tab20")
    n = 10 if k <= 10 else 20
    return [(palette(i % n), markers[(i // n) % len(markers)]) for i in range(k)]


def plot_tsne(embedding: Any, labels: Any, class_names: Sequence[str], path: str | os.PathLike,
              title: str = "t-SNE of the second-last layer features") -> Path:
    """Scatter, one colour/marker per class, class names at the class centroids, legend beside."""
    import numpy as np
    from matplotlib import patheffects

    plt = _pyplot()
    emb, labels = np.asarray(embedding), np.asarray(labels)
    k = len(class_names)
    styles = class_styles(k)
    ncol = 1 if k <= 25 else 2 if k <= 50 else 3
    fig, ax = plt.subplots(figsize=(8.0 + 1.3 * ncol, 8.0))
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
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def plot_confusion(labels: Any, predictions: Any, class_names: Sequence[str], path: str | os.PathLike,
                   title: str | None = None) -> Path:
    """Row-normalised confusion matrix (rows: true class), names on both axes; values printed up
    to 15 classes, and the diagonal accuracy in the title."""
    import numpy as np

    plt = _pyplot()
    k = len(class_names)
    y, p = np.asarray(labels, dtype=np.int64), np.asarray(predictions, dtype=np.int64)
    cm = np.bincount(y * k + p, minlength=k * k).reshape(k, k).astype(np.float64)
    rows = cm.sum(1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    side = max(5.5, 0.2 * k + 2.5)
    fig, ax = plt.subplots(figsize=(side + 1.0, side))
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
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------------------
# documents: one structure, rendered to Markdown and self-contained HTML
# --------------------------------------------------------------------------------------
@dataclass
class Doc:
    title: str
    blocks: list[tuple] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(("h", level, text))

    def text(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, table: Table) -> None:
        self.blocks.append(("table", table))

    def code(self, text: str) -> None:
        self.blocks.append(("code", text))

    def image(self, path: Path, caption: str) -> None:
        self.blocks.append(("img", Path(path), caption))

    def markdown(self, base: Path) -> str:
        """Markdown with images linked relative to ``base`` (the folder the file goes in)."""
        out = [f"# {self.title}", ""]
        for b in self.blocks:
            if b[0] == "h":
                out += ["#" * b[1] + " " + b[2], ""]
            elif b[0] == "p":
                out += [b[1], ""]
            elif b[0] == "table":
                out += [b[1].markdown(), ""]
            elif b[0] == "code":
                out += ["```", b[1].rstrip("\n"), "```", ""]
            elif b[0] == "img":
                rel = Path(os.path.relpath(b[1], base)).as_posix()
                out += [f"![{b[2]}]({rel})", "", f"*{b[2]}*", ""]
        return "\n".join(out)

    def html(self) -> str:
        """One HTML file with every image embedded (base64), so it can be mailed or printed alone."""
        parts = [f"<h1>{html.escape(self.title)}</h1>"]
        for b in self.blocks:
            if b[0] == "h":
                slug = "".join(ch if ch.isalnum() else "-" for ch in b[2].lower()).strip("-")
                parts.append(f"<h{b[1]} id='{html.escape(slug)}'>{html.escape(b[2])}</h{b[1]}>")
            elif b[0] == "p":
                parts.append(f"<p>{_inline_html(b[1])}</p>")
            elif b[0] == "table":
                parts.append(b[1].html())
            elif b[0] == "code":
                parts.append(f"<pre>{html.escape(b[1])}</pre>")
            elif b[0] == "img":
                data = base64.b64encode(Path(b[1]).read_bytes()).decode("ascii")
                parts.append(f"<figure><img alt='{html.escape(b[2])}' src='data:image/png;base64,{data}'>"
                             f"<figcaption>{html.escape(b[2])}</figcaption></figure>")
        style = (
            "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1000px;margin:2em auto;"
            "padding:0 1em;color:#222;line-height:1.45}"
            "table{border-collapse:collapse;margin:0.6em 0 1.2em}"
            "th,td{border:1px solid #ccc;padding:0.25em 0.6em;font-variant-numeric:tabular-nums}"
            "th{background:#f3f3f3}pre{background:#f7f7f7;padding:0.8em;overflow-x:auto;font-size:0.8em}"
            "figure{margin:1em 0}img{max-width:100%}figcaption{font-style:italic;color:#555}"
            "code{background:#f3f3f3;padding:0 0.2em}"
        )
        return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
                f"<title>{html.escape(self.title)}</title><style>{style}</style></head><body>\n"
                + "\n".join(parts) + "\n</body></html>\n")


def _inline_html(text: str) -> str:
    """Escape, then render Markdown's `code` spans (the only inline markup reports use)."""
    pieces = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces))
