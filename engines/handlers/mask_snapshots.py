"""Predicted masks of chosen validation images at chosen epochs, and one grid figure.

The report's "how the masks evolve" figure: for ids (default 0010, 0097, 0107) and epochs
(default first / middle / last) each prediction is saved as a palette PNG
``masks/epoch_<E>/<id>_mask.png`` (the course's format, readable by its evaluation), and at
the end ``masks/grid.png`` shows rows = images, columns = image, epochs..., ground truth.
The grid is drawn from the PNGs on disk, so a resumed run's figure still has every epoch.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from ignite.engine import Engine, Events

from engines.evaluator import predict_logits
from engines.trainer import StepConfig
from registry.errors import RecipeError

log = logging.getLogger("engines")


def resolve_epochs(spec: Sequence[Any], max_epochs: int) -> list[int]:
    """``[1, "mid", "last", 7]`` -> sorted epoch numbers within 1..max_epochs."""
    out = set()
    for i, e in enumerate(spec):
        if e == "last":
            out.add(max_epochs)
        elif e == "mid":
            out.add(max(1, math.ceil(max_epochs / 2)))
        elif e == "first":
            out.add(1)
        elif isinstance(e, int) and not isinstance(e, bool) and e >= 1:
            if e <= max_epochs:
                out.add(e)
        else:
            raise RecipeError(
                f"handlers.mask_snapshots.epochs[{i}]: expected an epoch number >= 1, 'first', 'mid' or 'last', got {e!r}"
            )
    return sorted(out)


class MaskSnapshots:
    """Saves predicted masks for ``ids`` at ``epochs`` and draws ``masks/grid.png`` at the end."""

    def __init__(self, dataset: Any, ids: Sequence[str], epochs: Sequence[Any], model: torch.nn.Module,
                 step_cfg: StepConfig, out_dir: str | Path, tensorboard: Any | None = None) -> None:
        self.dataset = dataset
        self.model = model
        self.step_cfg = step_cfg
        self.out_dir = Path(out_dir)
        self.epoch_spec = list(epochs)
        self.tensorboard = tensorboard
        not_str = [i for i in ids if not isinstance(i, str)]
        if not_str:
            raise RecipeError(
                f"handlers.mask_snapshots.ids: expected quoted file ids such as \"0010\", got {not_str} "
                "(unquoted, YAML reads 0010 as the octal number 8)"
            )
        known = set(dataset.ids)
        missing = [i for i in ids if str(i) not in known]
        if missing:
            log.warning("mask snapshots: validation ids %s not found in the validation split; skipped", missing)
        self.ids = [str(i) for i in ids if str(i) in known]
        self.epochs: list[int] = []

    def attach(self, trainer: Engine) -> None:
        trainer.add_event_handler(Events.STARTED, self._resolve)
        trainer.add_event_handler(Events.EPOCH_COMPLETED, self._maybe_snapshot)
        trainer.add_event_handler(Events.COMPLETED, self.draw_grid)

    def _resolve(self, engine: Engine) -> None:
        self.epochs = resolve_epochs(self.epoch_spec, engine.state.max_epochs)

    def _maybe_snapshot(self, engine: Engine) -> None:
        if engine.state.epoch in self.epochs and self.ids:
            self.snapshot(engine.state.epoch)

    def snapshot(self, epoch: int) -> None:
        from zoo.data.masks import colorize, write_mask

        folder = self.out_dir / f"epoch_{epoch}"
        folder.mkdir(parents=True, exist_ok=True)
        images = [self.dataset[self.dataset.index_of(id_)][0] for id_ in self.ids]
        device = self.step_cfg.device
        if len({tuple(x.shape) for x in images}) == 1:  # one forward: the weights are cast once, not per image
            logits = predict_logits(self.model, torch.stack(images).to(device), self.step_cfg)
            preds = list(logits.argmax(1).cpu().numpy())
        else:
            preds = [predict_logits(self.model, x.unsqueeze(0).to(device), self.step_cfg).argmax(1)[0].cpu().numpy()
                     for x in images]
        for id_, ids in zip(self.ids, preds):
            write_mask(folder / f"{id_}_mask.png", ids)
            if self.tensorboard is not None:
                self.tensorboard.add_image(f"masks/{id_}", colorize(ids), epoch)

    def draw_grid(self, engine: Engine | None = None) -> Path | None:
        """``masks/grid.png``: one row per image; columns image, each saved epoch, truth."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from zoo.data.masks import colorize, read_mask

        epochs = sorted(int(p.name.split("_")[1]) for p in self.out_dir.glob("epoch_*") if p.is_dir())
        if not self.ids or not epochs:
            return None
        cols = 2 + len(epochs)
        fig, axes = plt.subplots(len(self.ids), cols, figsize=(2.6 * cols, 2.6 * len(self.ids)), squeeze=False)
        for r, id_ in enumerate(self.ids):
            idx = self.dataset.index_of(id_)
            panels = [(self.dataset.read_image(idx), f"{id_} image")]
            for e in epochs:
                p = self.out_dir / f"epoch_{e}" / f"{id_}_mask.png"
                panels.append((colorize(read_mask(p)) if p.is_file() else None, f"epoch {e}"))
            panels.append((colorize(self.dataset.read_mask(idx)), "ground truth"))
            for c, (img, title) in enumerate(panels):
                ax = axes[r][c]
                if img is not None:
                    ax.imshow(img)
                ax.set_title(title, fontsize=9)
                ax.set_xticks([])
                ax.set_yticks([])  # keep the frame: an all-white (Barren) mask still shows
        fig.tight_layout()
        path = self.out_dir / "grid.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path
