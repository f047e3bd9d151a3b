"""Predicted masks of chosen validation images at chosen epochs, and one grid figure.

The report's "how the masks evolve" figure: for ids (default: the dataset's own
``snapshot_ids``) and epochs (default first / middle / last) each
prediction is saved as a palette PNG ``masks/epoch_<E>/<id>_mask.png`` (the format the
dataset's own evaluation reads), and at the end ``masks/grid.png`` shows rows = images,
columns = image, epochs..., ground truth, with a colour legend and each prediction's mIoU.
The grid is drawn from the files on disk, so a resumed run's figure still has every epoch.
"""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from ignite.engine import Engine, Events

from ignite_zoo.engines.events import RunContext, RunEvents
from ignite_zoo.engines.metrics import confusion_from_ids, miou_from_confusion
from ignite_zoo.registry import HANDLERS
from ignite_zoo.registry.errors import RecipeError

log = logging.getLogger("engines")
SCORES_FILE = "scores.json"


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


def beyond(spec: Sequence[Any], max_epochs: int) -> list[int]:
    """The epoch numbers of ``spec`` a run of ``max_epochs`` never reaches."""
    return [e for e in spec if isinstance(e, int) and not isinstance(e, bool) and e > max_epochs]


@HANDLERS.register("mask_snapshots")
class MaskSnapshots:
    """Saves predicted masks for ``ids`` at ``epochs`` and draws ``masks/grid.png`` at the end."""

    def __init__(self, ids: Sequence[str] | None = None, epochs: Sequence[Any] = (1, "mid", "last")) -> None:
        if ids is not None and not isinstance(ids, (list, tuple)):
            raise RecipeError(f"handlers.mask_snapshots.ids: expected a list of file ids such as [\"0010\"] or null, "
                              f"got {type(ids).__name__} {ids!r}")
        if not isinstance(epochs, (list, tuple)):
            raise RecipeError(f"handlers.mask_snapshots.epochs: expected a list such as [1, mid, last], "
                              f"got {type(epochs).__name__} {epochs!r}")
        resolve_epochs(epochs, 1)  # each entry a number >= 1, 'first', 'mid' or 'last'
        not_str = [i for i in ids or [] if not isinstance(i, str)]
        if not_str:
            raise RecipeError(
                f"handlers.mask_snapshots.ids: expected quoted file ids such as \"0010\", got {not_str} "
                "(unquoted, YAML reads a leading-zero id such as 0010 as the octal number 8)"
            )
        self.wanted = None if ids is None else list(ids)
        self.epoch_spec = list(epochs)
        self.epochs: list[int] = []

    def attach(self, run: RunContext) -> None:
        if run.recipe["task"] != "segmentation":
            return
        resolve_epochs(self.epoch_spec, run.recipe["train"]["epochs"])  # a bad entry fails now
        late = beyond(self.epoch_spec, run.recipe["train"]["epochs"])
        if late:
            log.warning("handlers.mask_snapshots.epochs: %s beyond train.epochs=%d; no masks are saved at %s",
                        late, run.recipe["train"]["epochs"], "them" if len(late) > 1 else "it")
        self.run, self.dataset, self.info = run, run.val_ds, run.dataset_info
        self.out_dir = run.run_dir.masks_dir
        wanted = self.wanted if self.wanted is not None else list(self.info.snapshot_ids)
        known = set(self.dataset.ids)
        missing = [i for i in wanted if str(i) not in known]
        if missing:
            log.warning("mask snapshots: validation ids %s not found in the validation split; skipped", missing)
        self.ids = [str(i) for i in wanted if str(i) in known]
        if not self.ids or not self.epoch_spec:
            return
        run.trainer.add_event_handler(Events.STARTED, self._resolve)
        run.trainer.add_event_handler(RunEvents.EPOCH_SUMMARY, self._maybe_snapshot)
        run.trainer.add_event_handler(Events.COMPLETED, self.draw_grid)

    def _resolve(self, engine: Engine) -> None:
        self.epochs = resolve_epochs(self.epoch_spec, engine.state.max_epochs)

    def _maybe_snapshot(self, engine: Engine) -> None:
        if engine.state.epoch in self.epochs:
            engine.state.saved_masks = self.snapshot(engine.state.epoch)
            engine.fire_event(RunEvents.MASKS_SAVED)

    def snapshot(self, epoch: int) -> dict[str, np.ndarray]:
        """Write this epoch's masks and their mIoU; returns id -> colour mask."""
        folder = self.out_dir / f"epoch_{epoch}"
        folder.mkdir(parents=True, exist_ok=True)
        samples = [self.dataset[self.dataset.index_of(id_)] for id_ in self.ids]
        predict = self.run.predictor  # the validation's own: tiles and TTA as it does
        images = [x for x, _ in samples]
        if len({tuple(x.shape) for x in images}) == 1:  # one forward for all of them
            preds = list(predict(torch.stack(images)).argmax(1).cpu().numpy())
        else:
            preds = [predict(x.unsqueeze(0)).argmax(1)[0].cpu().numpy() for x in images]
        classes = self.run.recipe["eval"]["miou_classes"]
        classes = list(self.info.eval_classes) if classes is None else classes
        scores, colours = {}, {}
        for id_, pred, (_, truth) in zip(self.ids, preds, samples):
            self.info.write_mask(folder / self.info.layout.mask_name(id_), pred)
            miou = miou_from_confusion(confusion_from_ids(pred, truth, len(self.info.classes)), classes)
            scores[id_] = None if math.isnan(miou) else miou
            colours[id_] = self.info.colorize(pred)
        (folder / SCORES_FILE).write_text(json.dumps(scores))
        return colours

    def draw_grid(self, engine: Engine | None = None) -> Path | None:
        """``masks/grid.png``: one row per image; columns image, each saved epoch, truth."""
        epochs = sorted(int(p.name.split("_")[1]) for p in self.out_dir.glob("epoch_*") if p.is_dir())
        if not self.ids or not epochs:
            return None
        rows = []
        for id_ in self.ids:
            idx = self.dataset.index_of(id_)
            cells = [(self.dataset.read_image(idx), f"{id_} image")]
            for e in epochs:
                p = self.out_dir / f"epoch_{e}" / self.info.layout.mask_name(id_)
                scores_path = p.parent / SCORES_FILE
                score = json.loads(scores_path.read_text()).get(id_) if scores_path.is_file() else None
                title = f"epoch {e}" + (f"  mIoU {score:.2f}" if score is not None else "")
                cells.append((self.info.colorize(self.info.read_mask(p)) if p.is_file() else None, title))
            cells.append((self.info.colorize(self.dataset.read_mask(idx)), "ground truth"))
            rows.append(cells)
        return draw_mask_grid(rows, self.info, self.out_dir / "grid.png")


def draw_mask_grid(rows: list[list[tuple[np.ndarray | None, str]]], info: Any, path: Path) -> Path:
    """Rows of (image, title) cells, with a legend of the dataset's class colours."""
    from matplotlib.patches import Patch

    from ignite_zoo.engines.reports.figures import pyplot, save_figure

    plt = pyplot()

    cols = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), cols, figsize=(2.6 * cols, 2.6 * len(rows) + 0.6), squeeze=False)
    for r, cells in enumerate(rows):
        for c in range(cols):
            ax = axes[r][c]
            img, title = cells[c] if c < len(cells) else (None, "")
            if img is not None:
                ax.imshow(img)
            ax.set_title(title, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])  # keep the frame: an all-white mask still shows
    handles = [Patch(facecolor=np.asarray(rgb) / 255.0, edgecolor="black", linewidth=0.5, label=name)
               for name, rgb in zip(info.classes, info.palette)]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 8), fontsize=8, frameon=False)
    return save_figure(fig, path, rect=(0, 0.6 / (2.6 * len(rows) + 0.6) + 0.02, 1, 1))
