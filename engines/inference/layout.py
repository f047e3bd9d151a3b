"""What inference asks of a dataset, in one place: ``zoo.data.dataset_info``.

Predicting and scoring masks needs the dataset's facts (class names and colours, which id
means unknown, the mask codec) and its folder layout (how images and masks are named).
Datasets own them (``zoo.data.DatasetInfo``); nothing here names a dataset, a class or a
file name. This module finds which dataset a tool is working with (a run's recipe, a
registered dataset type, or the default ``zoo.data`` declares) and words what a tool says
when a folder is missing or holds nothing of that layout.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ignite_zoo.registry.errors import DataError, RunError


def default_data() -> dict[str, Any]:
    """The ``data`` section mask folders are read with when nothing names a dataset."""
    from ignite_zoo.zoo.data import DEFAULT_MASK_DATASET

    return {"type": DEFAULT_MASK_DATASET}


def dataset_info(data_cfg: Mapping[str, Any] | None = None) -> Any:
    """The ``zoo.data.DatasetInfo`` of a recipe's ``data`` section (default: ``default_data()``)."""
    from ignite_zoo.zoo.data import dataset_info as describe

    return describe(data_cfg or default_data())


@dataclass(frozen=True)
class MaskDataset:
    """The dataset a folder of masks belongs to: its ``DatasetInfo``, its name, the class ids
    averaged into the mIoU and where that choice came from (for what a tool prints)."""

    info: Any
    name: str
    eval_classes: tuple[int, ...]
    source: str            # "run <path>", "--dataset", "default"

    def mask_example(self) -> str:
        return self.info.layout.mask_name("<id>")


def run_recipe(path: str | os.PathLike) -> dict[str, Any]:
    """The resolved recipe of a run directory (its ``recipe.yaml``), a checkpoint ``.pt`` or
    an exported ``.onnx`` file, without building the model."""
    path = Path(path).expanduser()
    if not path.exists():
        raise RunError(f"{path}: not found; expected a run directory, a checkpoint .pt or an exported .onnx file")
    if path.is_dir():
        from ignite_zoo.engines.run_dir import RunDir

        return RunDir.open(path).recipe
    if path.suffix.lower() == ".onnx":
        from ignite_zoo.engines.inference.onnx_model import OnnxModel

        return OnnxModel(path).recipe
    from ignite_zoo.engines.checkpoint import read_checkpoint, recipe_of

    return recipe_of(read_checkpoint(path), path)


def mask_dataset(run: str | os.PathLike | None = None, dataset: str | None = None,
                 args: Mapping[str, Any] | None = None) -> MaskDataset:
    """The dataset of a run (``run``: its ``data`` section and ``eval.miou_classes``), of a
    registered dataset type (``dataset``: its default facts), or ``default_data()``.
    ``args`` go on top of the data section's ``args`` (e.g. ``{"strict": True}``)."""
    if run is not None and dataset is not None:
        raise RunError("give a run or a dataset type, not both: a run's recipe names its dataset")
    chosen: Any = None
    if run is not None:
        recipe = run_recipe(run)
        if recipe.get("task") != "segmentation":
            raise RunError(f"{run}: a {recipe.get('task')!r} run; scoring masks needs a segmentation run")
        data, source, chosen = dict(recipe["data"]), f"run {run}", (recipe.get("eval") or {}).get("miou_classes")
    elif dataset is not None:
        data, source = {"type": dataset}, "--dataset"
    else:
        data, source = default_data(), "default"
    if args:
        data["args"] = {**(data.get("args") or {}), **args}
    info = dataset_info(data)
    if info.task != "segmentation" or info.layout is None:
        raise RunError(f"dataset {data['type']!r} is a {info.task} dataset without mask files; "
                       "expected a segmentation dataset")
    classes = tuple(info.eval_classes if chosen is None else chosen)
    return MaskDataset(info, str(data["type"]), classes, source)


def _folder(folder: str | os.PathLike, what: str, expected: str) -> Path:
    folder = Path(folder)
    if not folder.is_dir():
        state = "a file" if folder.exists() else "not found"
        raise DataError(f"{folder}: {what} is {state}; expected {expected}")
    return folder


def _holds(folder: Path) -> str:
    """A few of the folder's file names, so an error shows what is there instead."""
    names = sorted(e.name for e in os.scandir(folder) if e.is_file() and not e.name.startswith("."))
    if not names:
        return "it is empty"
    more = f" ... and {len(names) - 3} more" if len(names) > 3 else ""
    return f"it holds {', '.join(names[:3])}{more}"


def _named(name: str | None) -> str:
    return f"the {name!r} dataset" if name else "the dataset"


def images(info: Any, folder: str | os.PathLike, name: str | None = None) -> list[tuple[str, Path]]:
    """``(id, path)`` of every image of ``folder`` in the dataset's layout, sorted by id.

    ``name``: the dataset type, for the error a folder without such images gives.
    """
    info = info or dataset_info()
    folder = _folder(folder, "input folder", f"a folder of images of {_named(name)}")
    found = info.layout.images(folder)
    if not found:
        raise DataError(f"{folder}: no images named as {_named(name)} names them ({_holds(folder)}); expected "
                        f"the images whose predicted masks are written as {info.layout.mask_name('<id>')}")
    return found


def masks(info: Any, folder: str | os.PathLike, what: str = "mask folder") -> dict[str, Path]:
    """``{id: path}`` of every mask of ``folder`` in the dataset's layout."""
    info = info or dataset_info()
    name = info.layout.mask_name("<id>")
    found = info.layout.masks(_folder(folder, what, f"a folder of {name} files"))
    if not found:
        raise DataError(f"{folder}: no masks named {name} found in this {what} ({_holds(Path(folder))})")
    return found
