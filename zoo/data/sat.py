"""The course's satellite land-cover layout: ``NNNN_sat.jpg`` + ``NNNN_mask.png`` pairs.

A broken dataset should fail before training starts, with the file to fix, not hours
later inside a worker. So the folder is validated when the dataset is built: every image
has a mask and vice versa, ids are unique, and (``check="header"``, the default) every
file opens and image/mask sizes match, reading only headers (about a second for the 257
validation pairs). ``check="full"`` decodes everything (catches truncated files and, with
``strict``, foreign mask colours); ``check="none"`` only pairs the names.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
from torch.utils.data import Dataset

from ignite_zoo.registry.errors import DataError, RecipeError
from ignite_zoo.registry.registry import DATASETS
from ignite_zoo.zoo.data import masks as codec
from ignite_zoo.zoo.data.info import DatasetInfo, FolderLayout, existing_folder
from ignite_zoo.zoo.data.io import check_option, check_same_size, image_size, read_image, scan_files
from ignite_zoo.zoo.data.transforms import apply_pipeline

_IMAGE_RE = re.compile(r"(?P<id>.+)_sat\.(?:jpg|jpeg|png)", re.IGNORECASE)
_MASK_RE = re.compile(r"(?P<id>.+)_mask\.png", re.IGNORECASE)
#: validation ids the course's report shows masks of
SNAPSHOT_IDS = ("0010", "0097", "0107")
_SHOW = 5  # file names shown in an error before "... and N more"


def _some(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOW])
    return shown + (f" ... and {len(names) - _SHOW} more" if len(names) > _SHOW else "")


def _count_pairs(folder: Path) -> int:
    try:
        return sum(1 for e in os.scandir(folder) if _IMAGE_RE.fullmatch(e.name))
    except OSError:
        return 0


def resolve_split_folder(root: str | os.PathLike | None, split: str | None, kind: str) -> Path:
    """``root/split``, or ``root`` itself when ``split`` is None or empty; a clear error otherwise."""
    if root is None:
        raise DataError(f"{kind}: no root folder given (set data.root in the recipe)")
    root = Path(root)
    if not root.is_dir():
        what = "a file, not a folder" if root.exists() else "not found"
        raise DataError(f"{kind}: dataset root {root} is {what} (expected a folder holding the split folders)")
    if not split:
        return root
    folder = root / split
    if folder.is_dir():
        return folder
    subdirs = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    hint = f"; {root} has the folders: {', '.join(subdirs)}" if subdirs else f"; {root} has no sub-folders"
    n_here = _count_pairs(root)
    if n_here:
        hint += f". {root} itself holds {n_here} images: set the split to '' to use it directly"
    raise DataError(f"{kind}: split folder {folder} not found (split {split!r}){hint}")


class LandcoverLayout(FolderLayout):
    """``NNNN_sat.jpg`` + ``NNNN_mask.png`` side by side in one folder; predictions ``NNNN_mask.png``."""

    def images(self, folder: str | os.PathLike) -> list[tuple[str, Path]]:
        folder = existing_folder(folder, "image")
        found = [(m["id"], folder / e.name) for e in scan_files(folder) if (m := _IMAGE_RE.fullmatch(e.name))]
        return sorted(found)

    def masks(self, folder: str | os.PathLike) -> dict[str, Path]:
        folder = existing_folder(folder, "mask")
        return {m["id"]: folder / e.name for e in scan_files(folder) if (m := _MASK_RE.fullmatch(e.name))}

    def mask_name(self, id_: str) -> str:
        return f"{id_}_mask.png"


def landcover_info(foreign: str = "unknown", strict: bool = False, ignore_index: int = 255) -> DatasetInfo:
    """The land-cover facts; ``ignore_index`` is only in play when foreign colours are ignored."""
    if foreign not in codec.FOREIGN_CHOICES:
        raise RecipeError(
            f"data.args.foreign: expected one of {', '.join(map(repr, codec.FOREIGN_CHOICES))}, got {foreign!r}"
        )
    if not isinstance(ignore_index, int) or isinstance(ignore_index, bool):
        raise RecipeError(f"data.args.ignore_index: expected an integer, got {ignore_index!r}")
    foreign = "error" if strict else foreign
    ignore = ignore_index if foreign == "ignore" else None
    warned: set[str] = set()

    def decode(rgb: np.ndarray, source: Path) -> np.ndarray:
        return codec.decode_mask(rgb, source=source, foreign=foreign, ignore_index=ignore_index, warned=warned)

    return DatasetInfo(
        task="segmentation", classes=codec.CLASSES, palette=codec.PALETTE, ignore_index=ignore,
        unknown_index=codec.UNKNOWN, eval_classes=tuple(c for c in range(codec.NUM_CLASSES) if c != codec.UNKNOWN),
        snapshot_ids=SNAPSHOT_IDS, layout=LandcoverLayout(), rgb_decoder=decode,
    )


def scan_pairs(folder: Path) -> tuple[list[str], list[Path], list[Path]]:
    """Sorted ids with their image and mask paths; orphans and duplicates are DataErrors."""
    images: dict[str, list[str]] = {}
    masks: dict[str, list[str]] = {}
    for entry in scan_files(folder):
        if m := _IMAGE_RE.fullmatch(entry.name):
            images.setdefault(m["id"], []).append(entry.name)
        elif m := _MASK_RE.fullmatch(entry.name):
            masks.setdefault(m["id"], []).append(entry.name)
    if not images and not masks:
        nested = [p.name for p in sorted(folder.iterdir()) if p.is_dir() and _count_pairs(p)]
        hint = f"; its sub-folders {', '.join(nested)} hold pairs: is the split set?" if nested else ""
        raise DataError(
            f"{folder}: no image/mask pairs found (expected files named NNNN_sat.jpg with NNNN_mask.png){hint}"
        )
    dups = [sorted(v) for d in (images, masks) for v in d.values() if len(v) > 1]
    if dups:
        raise DataError(
            f"{folder}: {len(dups)} id(s) have more than one file, so it is ambiguous which to use: "
            + "; ".join(" and ".join(v) for v in dups[:_SHOW])
        )
    no_mask = sorted(images[i][0] for i in images.keys() - masks.keys())
    no_image = sorted(masks[i][0] for i in masks.keys() - images.keys())
    problems = []
    if no_mask:
        problems.append(f"{len(no_mask)} image(s) without a mask (expected <id>_mask.png beside them): {_some(no_mask)}")
    if no_image:
        problems.append(f"{len(no_image)} mask(s) without an image (expected <id>_sat.jpg): {_some(no_image)}")
    if problems:
        raise DataError(f"{folder}: " + "; ".join(problems))
    ids = sorted(images)
    return ids, [folder / images[i][0] for i in ids], [folder / masks[i][0] for i in ids]


def id_slice(split: str | None) -> slice | None:
    """``"[a:b]"`` (either bound optional, negative counts from the end) as a slice, else None."""
    m = re.fullmatch(r"\[\s*(-?\d*)\s*:\s*(-?\d*)\s*\]", split or "")
    if m is None:
        return None
    return slice(int(m[1]) if m[1] else None, int(m[2]) if m[2] else None)


@DATASETS.register("dlcv_sat")
class DlcvSat(Dataset):
    """Satellite tiles with colour masks in the course layout (``root/split/NNNN_sat.jpg``).

    ``split`` None or ``""`` reads ``root`` itself (a folder that directly holds the pairs,
    like the course's ``validation/``); a slice such as ``"[:200]"`` or ``"[200:]"`` takes
    those of ``root``'s pairs in sorted id order (one folder split into training and
    validation without copying files). Options: ``foreign`` ("unknown" | "error" |
    "ignore", see ``zoo.data.masks``), ``strict`` (True means ``foreign="error"``),
    ``ignore_index`` (mask value of ignored pixels: foreign colours under "ignore", padding
    of crops) and ``check`` ("header" | "full" | "none", what to validate when built).
    ``index_of(id)`` raises DataError for an id not in the split.
    """

    task = "segmentation"
    classes: list[str] = list(codec.CLASSES)
    num_classes = codec.NUM_CLASSES

    def __init__(
        self,
        root: str | os.PathLike | None,
        split: str | None = None,
        transforms: Callable[..., Any] | None = None,
        *,
        foreign: str = "unknown",
        strict: bool = False,
        ignore_index: int = 255,
        check: str = "header",
    ) -> None:
        check_option(check)
        self.info = landcover_info(foreign, strict, ignore_index)
        self.root = Path(root) if root is not None else None
        self.split = split
        window = id_slice(split)
        self.folder = resolve_split_folder(root, None if window else split, type(self).__name__)
        self.foreign = "error" if strict else foreign
        self.ignore_index = ignore_index
        # masks travel through augmentation as uint8 (what OpenCV warps fastest) when ids fit
        self._mask_dtype = np.uint8 if 0 <= ignore_index <= 255 else np.int16
        self.ids, self.image_paths, self.mask_paths = scan_pairs(self.folder)
        if window is not None:
            self.ids, self.image_paths, self.mask_paths = (v[window] for v in (self.ids, self.image_paths,
                                                                               self.mask_paths))
            if not self.ids:
                raise DataError(f"{type(self).__name__}: split {split!r} selects no pairs of the "
                                f"{len(scan_pairs(self.folder)[0])} in {self.folder}")
        self._index = {i: k for k, i in enumerate(self.ids)}
        self._warned: set[str] = set()
        if transforms is None:
            from ignite_zoo.zoo.data.transforms import build_transforms

            transforms = build_transforms(None, self.task)
        self.transforms = transforms
        if check != "none":
            self._validate(full=check == "full")

    @classmethod
    def describe(cls, data_cfg: Mapping[str, Any] | None = None) -> DatasetInfo:
        """The dataset's facts for a recipe's ``data`` section (only its ``args``); touches no file."""
        args = (data_cfg or {}).get("args") or {}
        return landcover_info(args.get("foreign", "unknown"), bool(args.get("strict", False)),
                              args.get("ignore_index", 255))

    def check_same_size(self) -> tuple[int, int] | None:
        """The one image size of the split (headers only); DataError naming two files otherwise."""
        return check_same_size(self.image_paths, str(self.folder))

    # -- validation ------------------------------------------------------------------------
    def _validate(self, full: bool) -> None:
        mismatched = []
        for img_path, mask_path in zip(self.image_paths, self.mask_paths):
            if full:
                shape_img = read_image(img_path).shape[:2]
                shape_mask = self._decode_mask(mask_path).shape[:2]
                wi, hi, wm, hm = shape_img[1], shape_img[0], shape_mask[1], shape_mask[0]
            else:
                (wi, hi), (wm, hm) = image_size(img_path), image_size(mask_path)
                if self.foreign == "error":  # strict: a foreign colour must fail now, not epochs later
                    self._decode_mask(mask_path)
            if (wi, hi) != (wm, hm):
                mismatched.append(f"{img_path.name} is {wi}x{hi} but {mask_path.name} is {wm}x{hm}")
        if mismatched:
            raise DataError(
                f"{self.folder}: {len(mismatched)} image/mask pair(s) differ in size (WxH): {_some(mismatched)}"
            )

    # -- reading -----------------------------------------------------------------------------
    def _decode_mask(self, path: Path) -> np.ndarray:
        return codec.read_mask(
            path, foreign=self.foreign, ignore_index=self.ignore_index, dtype=self._mask_dtype, warned=self._warned
        )

    def read_image(self, i: int) -> np.ndarray:
        """RGB uint8 ``[H, W, 3]``, untransformed."""
        return read_image(self.image_paths[i])

    def read_mask(self, i: int) -> np.ndarray:
        """Class ids int64 ``[H, W]``, untransformed."""
        return self._decode_mask(self.mask_paths[i]).astype(np.int64)

    def index_of(self, id_: str) -> int:
        try:
            return self._index[str(id_)]
        except KeyError:
            raise DataError(f"{self.folder}: no sample with id {id_!r} (ids run {self.ids[0]} .. {self.ids[-1]})") from None

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = read_image(self.image_paths[i])
        mask = self._decode_mask(self.mask_paths[i])
        if image.shape[:2] != mask.shape:
            raise DataError(
                f"{self.image_paths[i]}: image is {image.shape[1]}x{image.shape[0]} but its mask "
                f"{self.mask_paths[i].name} is {mask.shape[1]}x{mask.shape[0]}"
            )
        return apply_pipeline(self.transforms, image, mask, source=self.image_paths[i])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.folder}, {len(self)} pairs, transforms={self.transforms!r})"
