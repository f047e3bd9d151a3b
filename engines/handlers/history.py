"""Per-epoch history: ``history.csv`` (one row per epoch) and ``metrics.json``."""
from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any

from ignite.engine import Engine, Events


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_history(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a ``history.csv`` with numbers parsed (empty cells -> None)."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            rows.append({k: (float(v) if v not in ("", None) else None) if k != "epoch" else int(v)
                         for k, v in row.items()})
    return rows


class History:
    """Records ``trainer.state.epoch_row`` (train loss, lr, validation scalars) each epoch.

    On resume the rows of epochs the resumed run will redo are dropped, so the file always
    matches the weights. Both files are rewritten atomically.
    """

    def __init__(self, run_dir: str | Path, best_metric: str | None = None, mode: str = "max") -> None:
        self.run_dir = Path(run_dir)
        self.csv_path = self.run_dir / "history.csv"
        self.json_path = self.run_dir / "metrics.json"
        self.best_metric = best_metric
        self.mode = mode
        self.rows: list[dict[str, Any]] = []

    def attach(self, trainer: Engine) -> None:
        trainer.add_event_handler(Events.STARTED, self._load)
        trainer.add_event_handler(Events.EPOCH_COMPLETED, self._record)

    def _load(self, engine: Engine) -> None:
        self.rows = [r for r in read_history(self.csv_path) if r["epoch"] <= engine.state.epoch]

    def _record(self, engine: Engine) -> None:
        row = {"epoch": engine.state.epoch, **getattr(engine.state, "epoch_row", {})}
        self.rows = [r for r in self.rows if r["epoch"] != row["epoch"]] + [row]
        self._write()

    def _write(self) -> None:
        keys: list[str] = []
        for r in self.rows:
            keys += [k for k in r if k not in keys]
        lines = [",".join(keys)]
        for r in self.rows:
            lines.append(",".join("" if r.get(k) is None else (str(r[k]) if k == "epoch" else f"{r[k]:.6g}")
                                  for k in keys))
        atomic_write_text(self.csv_path, "\n".join(lines) + "\n")
        summary: dict[str, Any] = {"epochs": self.rows, "final": self.rows[-1] if self.rows else {}}
        scored = [r for r in self.rows if self.best_metric and isinstance(r.get(self.best_metric), float)
                  and not math.isnan(r[self.best_metric])]
        if scored:
            pick = max if self.mode == "max" else min
            summary["best"] = pick(scored, key=lambda r: r[self.best_metric])
            summary["best_metric"] = self.best_metric
        atomic_write_text(self.json_path, json.dumps(summary, indent=2, allow_nan=True))
