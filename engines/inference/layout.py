"""What inference asks of a run's dataset, in one place: ``zoo.data.dataset_info``.

Predicting and scoring masks needs the dataset's facts (class names and colours, which id
means unknown, the mask codec) and its folder layout (how images and masks are named).
Datasets own them (``zoo.data.DatasetInfo``); this module adds only what a tool says when
a folder is missing or holds nothing of that layout.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from registry.errors import DataError

#: the dataset of mask folders that come without a recipe (tools/evaluate.py): the course's land cover
LAND_COVER: dict[str, Any] = {"type": "dlcv_sat"}


def dataset_info(data_cfg: Mapping[str, Any] | None = None) -> Any:
    """The ``zoo.data.DatasetInfo`` of a recipe's ``data`` section (default: land cover)."""
    from zoo.data import dataset_info as describe

    return describe(data_cfg or LAND_COVER)


def _folder(folder: str | os.PathLike, what: str, expected: str) -> Path:
    folder = Path(folder)
    if not folder.is_dir():
        state = "a file" if folder.exists() else "not found"
        raise DataError(f"{folder}: {what} is {state}; expected {expected}")
    return folder


def _example(info: Any, kind: str) -> str:
    return "<id>_sat.jpg" if kind == "image" else info.layout.mask_name("<id>")


def images(info: Any, folder: str | os.PathLike) -> list[tuple[str, Path]]:
    """``(id, path)`` of every image of ``folder`` in the dataset's layout, sorted by id."""
    info = info or dataset_info()
    name = _example(info, "image")
    found = info.layout.images(_folder(folder, "input folder", f"a folder of {name} images"))
    if not found:
        raise DataError(f"{folder}: no images named {name} (e.g. 0010_sat.jpg) found; expected the dataset's layout")
    return found


def masks(info: Any, folder: str | os.PathLike, what: str = "mask folder") -> dict[str, Path]:
    """``{id: path}`` of every mask of ``folder`` in the dataset's layout."""
    info = info or dataset_info()
    name = _example(info, "mask")
    found = info.layout.masks(_folder(folder, what, f"a folder of {name} files"))
    if not found:
        raise DataError(f"{folder}: no masks named {name} (e.g. {info.layout.mask_name('0010')}) found in this {what}")
    return found
