"""What inference needs to know about a run's dataset, asked in one place.

Predicting and scoring masks needs the dataset's facts: class names and colours, which id
means "unknown", which ids the mIoU averages, how image and mask files are named, and the
mask codec. Datasets own these facts; ``dataset_facts(recipe["data"])`` is the single
question inference asks, so when datasets describe themselves
(``zoo.data.dataset_info``) only this module changes. Today every segmentation dataset
of the project uses the course's land-cover layout and colour codec
(``zoo.data.masks`` and the ``<id>_sat.jpg`` / ``<id>_mask.png`` names of ``zoo.data.sat``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from registry.errors import DataError


@dataclass(frozen=True)
class DatasetFacts:
    """The subset of a dataset's description that predicting and scoring masks reads."""

    classes: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]
    unknown_index: int | None
    ignore_index: int | None
    eval_classes: tuple[int, ...]
    image_example: str = "0010_sat.jpg"
    mask_example: str = "0010_mask.png"

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    # -- file layout -------------------------------------------------------------------------
    def images(self, folder: str | os.PathLike) -> list[tuple[str, Path]]:
        """``(id, path)`` of every image in ``folder``, sorted by id; a DataError if none."""
        from zoo.data.sat import _IMAGE_RE

        folder = _existing_folder(folder, "input folder", "a folder of <id>_sat.jpg images")
        found: dict[str, Path] = {}
        for entry in os.scandir(folder):
            m = _IMAGE_RE.fullmatch(entry.name)
            if m and entry.is_file():
                if m["id"] in found:
                    raise DataError(f"{folder}: id {m['id']!r} has two images ({found[m['id']].name} and "
                                    f"{entry.name})")
                found[m["id"]] = Path(entry.path)
        if not found:
            raise DataError(f"{folder}: no images named <id>_sat.jpg (e.g. {self.image_example}) found; "
                            "expected the course's layout")
        return [(i, found[i]) for i in sorted(found)]

    def masks(self, folder: str | os.PathLike, what: str = "mask folder") -> dict[str, Path]:
        """``{id: path}`` of every mask in ``folder``; a DataError naming ``what`` if none."""
        from zoo.data.sat import _MASK_RE

        folder = _existing_folder(folder, what, "a folder of <id>_mask.png files")
        out = {}
        for entry in os.scandir(folder):
            m = _MASK_RE.fullmatch(entry.name)
            if m and entry.is_file():
                out[m["id"]] = Path(entry.path)
        if not out:
            raise DataError(f"{folder}: no masks named <id>_mask.png (e.g. {self.mask_example}) found in this {what}")
        return out

    def mask_name(self, id_: str) -> str:
        return f"{id_}_mask.png"

    # -- codec ---------------------------------------------------------------------------------
    def read_mask(self, path: str | os.PathLike, foreign: str = "unknown") -> np.ndarray:
        """uint8 class ids ``[H, W]`` of a mask file, decoded as the dataset decodes its own."""
        from zoo.data import read_mask

        return read_mask(path, foreign=foreign, dtype=np.uint8)

    def write_mask(self, path: str | os.PathLike, ids: np.ndarray) -> None:
        from zoo.data import write_mask

        write_mask(path, ids)


def _existing_folder(folder: str | os.PathLike, what: str, expected: str) -> Path:
    folder = Path(folder)
    if not folder.is_dir():
        state = "a file" if folder.exists() else "not found"
        raise DataError(f"{folder}: {what} is {state}; expected {expected}")
    return folder


def land_cover() -> DatasetFacts:
    """The course's satellite land-cover dataset (7 classes, Unknown left out of the mIoU)."""
    from zoo.data import CLASSES, PALETTE, UNKNOWN

    return DatasetFacts(classes=tuple(CLASSES), palette=tuple(PALETTE), unknown_index=UNKNOWN,
                        ignore_index=None, eval_classes=tuple(c for c in range(len(CLASSES)) if c != UNKNOWN))


def dataset_facts(data_cfg: Mapping[str, Any] | None = None) -> DatasetFacts:
    """The facts of the dataset a recipe's ``data`` section names (reads no files).

    Every segmentation dataset of the project is land cover in the course's layout, so
    today the answer does not depend on ``data_cfg``.
    """
    return land_cover()
