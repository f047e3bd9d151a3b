"""The run told on the console: a header, one line per epoch, a closing table."""
from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

from ignite.engine import Engine, Events

from ignite_zoo.engines.events import RunContext, RunEvents
from ignite_zoo.registry import HANDLERS


def _fmt(value: Any) -> str:
    return "-" if value is None else (f"{value:.4g}" if isinstance(value, float) else str(value))


def class_score_lines(row: Mapping[str, Any], class_names: Sequence[str], indent: str = "  ") -> list[str]:
    """The per-class scores of one history row as an aligned table; a class without values
    (outside the scored classes) reads "not scored", an undefined score "n/a"."""
    from ignite_zoo.engines.metrics import PER_CLASS

    names = [n for n in class_names if any(f"val/{s}/{n}" in row for s in PER_CLASS)]
    if not names:
        return []
    width = max(len("class"), *(len(n) for n in names))
    lines = [indent + f"{'class':<{width}}" + "".join(f"  {s:>9}" for s in PER_CLASS)]
    for n in names:
        values = [row.get(f"val/{s}/{n}") for s in PER_CLASS]
        if all(v is None for v in values):
            lines.append(indent + f"{n:<{width}}  {'not scored':>9}")
            continue
        cells = ["n/a" if v is None or v != v else f"{v:.4f}" for v in values]
        lines.append(indent + f"{n:<{width}}" + "".join(f"  {c:>9}" for c in cells))
    return lines


@HANDLERS.register("console")
class Console:
    """``epoch 3/20  loss 1.79  val/mIoU 0.412 (best 0.412 @3)  34 s`` after each epoch and,
    at the end, the final and best value of the run's metric, where the best checkpoint is,
    how long it took and (segmentation) the final epoch's per-class scores. Plain lines,
    readable in a log file."""

    def __init__(self) -> None:
        self.best: tuple[float, int] | None = None
        self.started = 0.0

    def attach(self, run: RunContext) -> None:
        self.run = run
        run.trainer.add_event_handler(Events.STARTED, self._header)
        run.trainer.add_event_handler(RunEvents.EPOCH_SUMMARY, self._epoch)
        run.trainer.add_event_handler(Events.COMPLETED, self._closing)

    def _header(self, engine: Engine) -> None:
        self.started = time.perf_counter()
        r, spec = self.run.recipe, self.run.metric
        prior = self.run.run_dir.summary().get("best") if engine.state.epoch else None
        if prior and spec.key in prior:
            self.best = (prior[spec.key], prior["epoch"])
        cfg = self.run.step_cfg
        amp = {None: "fp32"}.get(cfg.amp_dtype, str(cfg.amp_dtype).replace("torch.", ""))
        start = f"resuming after epoch {engine.state.epoch}" if engine.state.epoch else "starting"
        print(f"run {self.run.run_dir.path}: {start}; {r['train']['epochs']} epochs on {cfg.device} ({amp}); "
              f"{r['model']['head']['type']} on {r['model']['backbone']['type']}, "
              f"backbone from {self.run.provenance.get('init', 'random init')}; metric {spec.key} ({spec.mode})",
              flush=True)

    def _epoch(self, engine: Engine) -> None:
        s, spec = engine.state.epoch_summary, self.run.metric
        parts = [f"epoch {engine.state.epoch}/{engine.state.max_epochs}", f"loss {_fmt(s.get('train/loss'))}"]
        if spec.key in s:
            value = s[spec.key]
            if self.best is None or spec.score(value) > spec.score(self.best[0]):
                self.best = (value, engine.state.epoch)
            parts.append(f"{spec.key} {value:.3f} (best {self.best[0]:.3f} @{self.best[1]})")
        seconds = (s.get("train/seconds") or 0.0) + (s.get("val/seconds") or 0.0)
        parts.append(f"{seconds:.0f} s")
        print("  ".join(parts), flush=True)

    def _closing(self, engine: Engine) -> None:
        run_dir, spec = self.run.run_dir, self.run.metric
        summary = run_dir.summary()
        final, best = summary.get("final") or {}, summary.get("best") or {}
        best_ckpt = run_dir.best_checkpoint() or run_dir.last_checkpoint()
        rows = [("metric", spec.key),
                ("final", f"{_fmt(final.get(spec.key))} (epoch {final.get('epoch', '-')})"),
                ("best", f"{_fmt(best.get(spec.key))} (epoch {summary.get('best_epoch') or '-'})"),
                ("run directory", str(run_dir.path)),
                ("best checkpoint", str(best_ckpt) if best_ckpt else "-"),
                ("wall time", f"{time.perf_counter() - self.started:.0f} s")]
        for name in ("pixel_acc", "fwIoU", "mF1"):
            if f"val/{name}" in final and f"val/{name}" != spec.key:
                rows.insert(3, (f"final {name}", _fmt(final[f"val/{name}"])))
        width = max(len(k) for k, _ in rows)
        lines = [f"  {k:<{width}}  {v}" for k, v in rows]
        classes = list(getattr(self.run.dataset_info, "classes", None) or [])
        table = class_score_lines(final, classes, indent="    ")
        if table:
            lines += [f"  per class  epoch {final.get('epoch', '-')}", *table]
        print("\n".join(lines), flush=True)
