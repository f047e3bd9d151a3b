"""Checkpoints: the last one (the whole training state, to resume) and the best ones
(weights and recipe, to predict), through ignite's ``Checkpoint`` and the atomic saver."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ignite.engine import Engine, Events
from ignite.handlers import Checkpoint

from ignite_zoo.engines.checkpoint import SafeDiskSaver
from ignite_zoo.engines.events import RunContext, RunEvents
from ignite_zoo.engines.handlers.args import count
from ignite_zoo.engines.run_dir import BEST_PREFIX, LAST_PREFIX, checkpoint_epoch, checkpoint_score
from ignite_zoo.registry import HANDLERS

log = logging.getLogger("engines")


def adopt(handler: Checkpoint, found: list[tuple[float, Path]], keep: int) -> None:
    """Hand files already on disk to ``handler`` (``found`` is (priority, path) ascending),
    so ``keep`` counts them and a crash's extra files are pruned now, not kept for good.

    Only ignite's public ``state_dict`` / ``load_state_dict`` are used: the state's one
    key is taken from ``state_dict()`` itself, whatever ignite calls it.
    """
    extra = found[:-keep] if keep > 0 else found
    for _, path in extra:
        path.unlink(missing_ok=True)
    kept = found[len(extra):]
    (key,) = handler.state_dict().keys()
    handler.load_state_dict({key: [(priority, path.name) for priority, path in kept]})


@HANDLERS.register("checkpoint")
class CheckpointHandler:
    """``last_checkpoint_<E>.pt`` every ``every`` epochs and at the end (``keep_last`` kept);
    ``best_checkpoint_<E>_<metric>=<v>.pt`` on the run's metric (``keep_best`` kept)."""

    def __init__(self, keep_last: int = 1, keep_best: int = 1, every: int = 1) -> None:
        self.keep_last = count(keep_last, "handlers.checkpoint.keep_last", 1)
        self.keep_best = count(keep_best, "handlers.checkpoint.keep_best", 0)
        self.every = count(every, "handlers.checkpoint.every", 1)
        self._sizes_shown: set[str] = set()

    def attach(self, run: RunContext) -> None:
        folder = run.run_dir.checkpoints_dir
        saver = SafeDiskSaver(str(folder), require_empty=False)
        trainer = run.trainer
        self.last = Checkpoint(run.to_save, saver, filename_prefix=LAST_PREFIX, n_saved=self.keep_last,
                               global_step_transform=lambda e, _: e.state.epoch)
        saved_at = {"epoch": -1}

        def save_last(engine: Engine) -> None:
            if saved_at["epoch"] != engine.state.epoch:
                self.last(engine)
                saved_at["epoch"] = engine.state.epoch
                self._show_size(self.last, "last")

        def on_summary(engine: Engine) -> None:
            if engine.state.epoch % self.every == 0 or engine.state.epoch == engine.state.max_epochs:
                save_last(engine)

        trainer.add_event_handler(RunEvents.EPOCH_SUMMARY, on_summary)
        trainer.add_event_handler(Events.COMPLETED, save_last)  # an early stop between `every`s
        self.best = None
        if self.keep_best > 0:
            spec = run.metric
            # with train.ema the averaged weights: the ones the validation scored
            weights = {"model": run.to_save.get("ema_model", run.to_save["model"]), "recipe": run.to_save["recipe"]}
            self.best = Checkpoint(weights, saver, filename_prefix=BEST_PREFIX, n_saved=self.keep_best,
                                   score_function=lambda e: spec.score(e.state.epoch_summary[spec.key]),
                                   score_name=spec.file_label, global_step_transform=lambda e, _: e.state.epoch)

            def save_best(engine: Engine) -> None:
                if spec.key in engine.state.epoch_summary:
                    self.best(engine)
                    self._show_size(self.best, "best")

            trainer.add_event_handler(RunEvents.EPOCH_SUMMARY, save_best)
        for stray in folder.glob("tmp*"):  # a write interrupted by a crash (atomic: never renamed)
            stray.unlink(missing_ok=True)
        adopt(self.last, sorted((checkpoint_epoch(p), p) for p in folder.glob(f"{LAST_PREFIX}_*.pt")), self.keep_last)
        if self.best is not None:
            adopt(self.best, sorted((checkpoint_score(p), p) for p in folder.glob(f"{BEST_PREFIX}_*.pt")),
                  self.keep_best)

    def _show_size(self, handler: Checkpoint, kind: str) -> None:
        """Say how big a checkpoint is the first time one is written: a full-size model's
        is over a gigabyte, and a user planning disk space needs to know."""
        path: Any = handler.last_checkpoint
        if kind in self._sizes_shown or path is None or not Path(path).is_file():
            return
        self._sizes_shown.add(kind)
        log.info("checkpoint %s: %.1f MiB (%s)", Path(path).name, Path(path).stat().st_size / 2**20,
                 "whole training state, for resume" if kind == "last" else "weights and recipe, for prediction")
