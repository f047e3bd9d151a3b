"""Masks for a folder of images, and the one choice between whole-image and tiled logits.

Images go through the run's evaluation pipeline in id order, a batch at a time (default:
the run's validation batch size), so the logits are those its evaluator computed. Images
larger than a size can be tiled instead (``SlideSettings``), which bounds memory for
large scenes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import torch

from ignite_zoo.engines.inference.layout import dataset_info, images
from ignite_zoo.engines.inference.loading import Predictor, StepFn, make_step_fn, val_batch_size
from ignite_zoo.engines.step import StepConfig
from ignite_zoo.registry.errors import RecipeError, RunError

MODES = ("whole", "slide")


@dataclass(frozen=True)
class SlideSettings:
    """How to predict an image: whole, or in ``tile`` windows overlapping by ``overlap``.

    ``above``: tile only images whose longer side exceeds that many pixels (None: all
    images when ``mode`` is "slide").
    """

    mode: str = "whole"
    tile: int = 512
    overlap: int = 128
    above: int | None = None
    batch_tiles: int = 4
    blend: str = "gaussian"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise RecipeError(f"eval.mode: {self.mode!r}; expected one of {', '.join(MODES)}")
        if self.tile < 1:
            raise RecipeError(f"tile {self.tile}: expected a positive number of pixels")
        if not 0 <= self.overlap < self.tile:
            raise RecipeError(f"overlap {self.overlap}: expected 0 or more and less than the tile ({self.tile})")
        if self.above is not None and self.above < 0:
            raise RecipeError(f"tile-above {self.above}: expected 0 or more pixels")
        if self.batch_tiles < 1:
            raise RecipeError(f"batch of tiles {self.batch_tiles}: expected a positive integer")

    def tiles(self, height: int, width: int) -> bool:
        """Whether an image of this size is predicted in windows."""
        return self.mode == "slide" and (self.above is None or max(height, width) > self.above)

    @classmethod
    def from_recipe(cls, recipe: Mapping[str, Any], **given: Any) -> "SlideSettings":
        """The recipe's ``eval.mode`` / ``eval.tile`` / ``eval.overlap`` (and ``eval.tile_above``),
        with the values in ``given`` that are not None on top. A tile or a size limit given
        without a mode turns tiling on; the overlap defaults to a quarter of the tile."""
        ev = recipe.get("eval") or {}
        values = {"mode": ev.get("mode") or "whole", "tile": ev.get("tile"), "overlap": ev.get("overlap"),
                  "above": ev.get("tile_above")}
        given = {k: v for k, v in given.items() if v is not None}
        if given.get("tile") is not None or given.get("above") is not None:
            values["mode"] = "slide"
        values.update(given)
        if values["overlap"] is None:  # a quarter of the tile: 128 for the default 512
            values["overlap"] = int(values["tile"] or cls.tile) // 4
        return cls(**{k: v for k, v in values.items() if v is not None})


def predict_logits_auto(model: torch.nn.Module | None, x: torch.Tensor, step_cfg: StepConfig | None,
                        mode: str = "whole", tile: int = 512, overlap: int = 128, *,
                        step_fn: StepFn | None = None, batch_tiles: int = 4, blend: str = "gaussian",
                        progress: bool = False) -> torch.Tensor:
    """float32 logits ``[N, K, H, W]`` on ``x``'s device, whole (``mode="whole"``) or tiled.

    The evaluator's entry point: ``mode``, ``tile`` and ``overlap`` are the recipe's
    ``eval.mode`` / ``eval.tile`` / ``eval.overlap``. ``step_fn`` defaults to
    ``make_step_fn(model, step_cfg)``.
    """
    from ignite_zoo.engines.inference.sliding_window import sliding_window_logits

    step = step_fn or make_step_fn(model, step_cfg)
    if mode == "whole":
        return step(x).to(x.device)
    if mode != "slide":
        raise RecipeError(f"eval.mode: {mode!r}; expected one of {', '.join(MODES)}")
    return sliding_window_logits(None, x, tile, overlap, batch_tiles=batch_tiles, blend=blend, step_fn=step,
                                 progress=progress).to(x.device)


class _ImageFiles(torch.utils.data.Dataset):
    def __init__(self, items: Sequence[tuple[str, Path]], pipeline: Any) -> None:
        self.items = list(items)
        self.pipeline = pipeline

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[str, torch.Tensor, tuple[int, int]]:
        from ignite_zoo.zoo.data import read_image

        id_, path = self.items[i]
        image = read_image(path)
        x, _ = self.pipeline(image)
        return id_, x, image.shape[:2]


def _same_size_runs(batch: list[tuple[str, torch.Tensor, tuple[int, int]]]) -> Iterator[list]:
    """Consecutive items whose tensors share a shape (stackable), in order."""
    run: list = []
    for item in batch:
        if run and item[1].shape != run[0][1].shape:
            yield run
            run = []
        run.append(item)
    if run:
        yield run


def check_input_folder(source: str | os.PathLike, input_dir: str | os.PathLike) -> None:
    """Fail on a folder without images of a run directory's dataset before its model loads
    (the recipe is a small file there); a checkpoint or exported file is checked after loading."""
    from ignite_zoo.engines.inference.layout import run_recipe

    if not Path(source).expanduser().is_dir():
        return
    recipe = run_recipe(source)
    if recipe.get("task") == "segmentation":
        images(dataset_info(recipe["data"]), input_dir, recipe["data"].get("type"))


@dataclass
class PredictResult:
    ids: list[str]
    out_dir: Path
    tiled: int = 0   # how many images were predicted in windows


def predict_folder(
    predictor: Predictor,
    input_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    batch_size: int | None = None,
    slide: SlideSettings | None = None,
    num_workers: int = 0,
    progress: bool = True,
    overwrite: bool = False,
) -> PredictResult:
    """Write one mask (palette PNG, input resolution) per image of ``input_dir``.

    The output folder is checked first (``engines.outputs.prepare_output_dir``): never the
    input folder or inside it, and holding other files than these masks only with
    ``overwrite``. If the pipeline changes the size, logits are resized (bilinear) back to
    the image's. Masks are written with the dataset's ``DatasetInfo.write_mask``.
    """
    from tqdm import tqdm

    from ignite_zoo.engines.inference.sliding_window import sliding_window_logits
    from ignite_zoo.engines.outputs import prepare_output_dir

    recipe = predictor.recipe
    if recipe.get("task") != "segmentation":
        raise RunError(f"{predictor.source}: a {recipe.get('task')!r} model; predicting masks needs a "
                       "segmentation run")
    info = dataset_info(recipe.get("data"))
    items = images(info, input_dir, recipe["data"].get("type"))
    # no manifest among the masks: evaluation scripts read every file of the folder
    out = prepare_output_dir(output_dir, [input_dir], overwrite, [info.layout.mask_name(i) for i, _ in items],
                             flag="OUTPUT_DIR", remember=False)
    bs = batch_size or val_batch_size(recipe)
    if bs < 1:
        raise RecipeError(f"--batch-size {bs}: expected a positive integer")
    slide = slide or SlideSettings.from_recipe(recipe)
    loader = torch.utils.data.DataLoader(_ImageFiles(items, predictor.pipeline()), batch_size=bs,
                                         shuffle=False, num_workers=num_workers, collate_fn=list)
    bar = tqdm(total=len(items), desc="predict", unit="img", disable=not progress, dynamic_ncols=True)
    tiled = 0
    try:
        for batch in loader:
            for run in _same_size_runs(batch):
                x = torch.stack([t for _, t, _ in run])
                if slide.tiles(*x.shape[-2:]):
                    logits = sliding_window_logits(None, x, slide.tile, slide.overlap, batch_tiles=slide.batch_tiles,
                                                   blend=slide.blend, step_fn=predictor.step, progress=progress)
                    tiled += len(run)
                else:
                    logits = predictor.step(x)
                for (id_, _, hw), lg in zip(run, logits):
                    if tuple(lg.shape[-2:]) != tuple(hw):
                        lg = torch.nn.functional.interpolate(lg[None], size=tuple(hw), mode="bilinear",
                                                             align_corners=False)[0]
                    info.write_mask(out / info.layout.mask_name(id_), lg.argmax(0).cpu().numpy())
                bar.update(len(run))
    finally:
        bar.close()
    return PredictResult([i for i, _ in items], out, tiled)
