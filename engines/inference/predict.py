"""Masks for a folder of images.

Images go through the run's evaluation pipeline in id order, a batch at a time (default:
the run's validation batch size), and through the run's ``Predictor``, so the logits are
those its evaluator computed; the predictor decides per image whether to tile (bounded
memory for large scenes) and applies the test-time augmentation.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from ignite_zoo.engines.inference.layout import dataset_info, images
from ignite_zoo.engines.inference.loading import TrainedModel, val_batch_size
from ignite_zoo.registry.errors import RecipeError, RunError

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
    trained: TrainedModel,
    input_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    batch_size: int | None = None,
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

    from ignite_zoo.engines.outputs import prepare_output_dir

    recipe, predictor = trained.recipe, trained.predictor
    if recipe.get("task") != "segmentation":
        raise RunError(f"{trained.source}: a {recipe.get('task')!r} model; predicting masks needs a "
                       "segmentation run")
    info = dataset_info(recipe.get("data"))
    items = images(info, input_dir, recipe["data"].get("type"))
    # no manifest among the masks: evaluation scripts read every file of the folder
    out = prepare_output_dir(output_dir, [input_dir], overwrite, [info.layout.mask_name(i) for i, _ in items],
                             flag="OUTPUT_DIR", remember=False)
    bs = batch_size or val_batch_size(recipe)
    if bs < 1:
        raise RecipeError(f"--batch-size {bs}: expected a positive integer")
    loader = torch.utils.data.DataLoader(_ImageFiles(items, trained.pipeline()), batch_size=bs,
                                         shuffle=False, num_workers=num_workers, collate_fn=list)
    bar = tqdm(total=len(items), desc="predict", unit="img", disable=not progress, dynamic_ncols=True)
    tiled = 0
    try:
        for batch in loader:
            for run in _same_size_runs(batch):
                x = torch.stack([t for _, t, _ in run])
                tiled += len(run) if predictor.tiles(*x.shape[-2:]) else 0
                logits = predictor(x, progress=progress)
                for (id_, _, hw), lg in zip(run, logits):
                    if tuple(lg.shape[-2:]) != tuple(hw):
                        lg = torch.nn.functional.interpolate(lg[None], size=tuple(hw), mode="bilinear",
                                                             align_corners=False)[0]
                    info.write_mask(out / info.layout.mask_name(id_), lg.argmax(0).cpu().numpy())
                bar.update(len(run))
    finally:
        bar.close()
    return PredictResult([i for i, _ in items], out, tiled)
