"""``compare.md`` + ``compare.png``: runs of one task side by side, epoch by epoch."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from ignite_zoo.engines.outputs import prepare_output_dir, undo_on_failure
from ignite_zoo.engines.reports.figures import plot_comparison
from ignite_zoo.engines.outputs import atomic_write_text
from ignite_zoo.engines.reports.runs import comparable_metric, open_run, run_labels, short_metric
from ignite_zoo.engines.reports.tables import Table, comparison_table

COMPARE_FILES = ("compare.md", "compare.png")


def write_comparison(run_dirs: Sequence[str | os.PathLike], out: str | os.PathLike, labels: str | None = None,
                     metric: str | None = None, overwrite: bool = False) -> tuple[Table, Path, Path]:
    """Compare runs on their common metric (or ``metric``); write compare.md and compare.png in ``out``.

    Every input is checked before anything is written: runs of different tasks or metric
    specs are refused, and ``out`` must pass ``engines.outputs.prepare_output_dir``.
    """
    runs = [open_run(p) for p in run_dirs]
    names = run_labels(runs, labels)
    key = comparable_metric(runs, metric)
    with undo_on_failure(out):  # a comparison that fails half-way leaves no half-written folder
        folder = prepare_output_dir(out, run_dirs, overwrite, COMPARE_FILES)
        table = comparison_table(runs, names, key)
        sources = "\n".join(f"- {lab}: `{run.path}`" for lab, run in zip(names, runs))
        md = f"## {short_metric(key)} by epoch\n\n{table.markdown()}\n\nRuns:\n{sources}\n\n![{key}](compare.png)\n"
        md_path = folder / "compare.md"
        atomic_write_text(md_path, md)
        return table, md_path, plot_comparison(runs, names, key, folder / "compare.png")
