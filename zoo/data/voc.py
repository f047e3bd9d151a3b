"""Pascal VOC's segmentation layout, for VOC itself and any index-mask set laid out like it.

``ROOT/JPEGImages/<id>.jpg``, ``ROOT/SegmentationClass/<id>.png`` (palette PNGs whose
indices are class ids, 255 around objects = ignore) and ``ROOT/ImageSets/Segmentation/
<split>.txt`` listing the ids of each split. The split list, not the folder, decides what
is in a split, so the names are checked when the dataset is built: every listed id needs an
image and a mask (images may also be .jpeg or .png, for non-VOC sets in this layout).
Classes default to VOC's 21; ``data.args.classes`` names others, and then
``num_classes = len(classes)``. Colours follow VOC's colour map (its bit-interleaving
algorithm), so predictions open in VOC tools with the usual colours.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ignite_zoo.registry.errors import DataError, RecipeError
from ignite_zoo.registry.registry import DATASETS
from ignite_zoo.zoo.data.info import DatasetInfo, FolderLayout, existing_folder, recipe_split
from ignite_zoo.zoo.data.io import check_option, check_same_size, image_size, read_image
from ignite_zoo.zoo.data.sat import _some
from ignite_zoo.zoo.data.transforms import apply_pipeline

VOC_CLASSES: tuple[str, ...] = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)
IGNORE = 255
IMAGES, MASKS, LISTS = "JPEGImages", "SegmentationClass", Path("ImageSets") / "Segmentation"
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
#: validation ids shown as mask snapshots by default: the first ones of the split list
N_SNAPSHOTS = 3


def voc_colormap(n: int = 256) -> np.ndarray:
    """uint8 ``[n, 3]``: VOC's colours; the bits of an id are spread over the channels' high bits."""
    cmap = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        c, rgb = i, [0, 0, 0]
        for j in range(8):
            for ch in range(3):
                rgb[ch] |= ((c >> ch) & 1) << (7 - j)
            c >>= 3
        cmap[i] = rgb
    return cmap


class VocLayout(FolderLayout):
    """Images in ``JPEGImages/`` (or a plain folder of .jpg, else .png), masks in
    ``SegmentationClass/`` (or a plain folder of ``<id>.png``); predictions ``<id>.png``."""

    def images(self, folder: str | os.PathLike) -> list[tuple[str, Path]]:
        folder = existing_folder(folder, "image")
        if (folder / IMAGES).is_dir():
            folder = folder / IMAGES
        files = [Path(e.path) for e in os.scandir(folder) if e.is_file()]
        jpgs = [p for p in files if p.suffix.lower() in (".jpg", ".jpeg")]
        chosen = jpgs or [p for p in files if p.suffix.lower() == ".png"]
        return sorted((p.stem, p) for p in chosen)

    def masks(self, folder: str | os.PathLike) -> dict[str, Path]:
        folder = existing_folder(folder, "mask")
        if (folder / MASKS).is_dir():
            folder = folder / MASKS
        return {Path(e.name).stem: Path(e.path) for e in os.scandir(folder)
                if e.is_file() and e.name.lower().endswith(".png")}

    def mask_name(self, id_: str) -> str:
        return f"{id_}.png"


def check_classes(classes: Any) -> tuple[str, ...]:
    """``data.args.classes`` as a tuple of names; a RecipeError saying what is wrong otherwise."""
    if classes is None:
        return VOC_CLASSES
    if not isinstance(classes, (list, tuple)) or not all(isinstance(c, str) and c for c in classes):
        raise RecipeError(f"data.args.classes: expected a list of class names (index 0 first), got {classes!r}")
    if not 1 <= len(classes) <= IGNORE:
        raise RecipeError(f"data.args.classes: expected 1 to {IGNORE} names ({IGNORE} means ignore), got {len(classes)}")
    dups = sorted({c for c in classes if classes.count(c) > 1})
    if dups:
        raise RecipeError(f"data.args.classes: names given twice: {', '.join(dups)}")
    return tuple(classes)


def voc_info(classes: Any = None, snapshot_ids: Sequence[str] = ()) -> DatasetInfo:
    names = check_classes(classes)
    cmap = voc_colormap()
    return DatasetInfo(
        task="segmentation", classes=names, palette=tuple(tuple(int(v) for v in c) for c in cmap[: len(names)]),
        ignore_index=IGNORE, unknown_index=None, eval_classes=tuple(range(len(names))),
        snapshot_ids=tuple(snapshot_ids), layout=VocLayout(), ignore_colour=tuple(int(v) for v in cmap[IGNORE]),
        index_masks=True,
    )


def read_split_list(root: Path, split: str) -> list[str]:
    """The ids of ``ImageSets/Segmentation/<split>.txt`` in file order; a DataError if there is none."""
    path = root / LISTS / f"{split}.txt"
    try:
        text = path.read_text()
    except FileNotFoundError:
        have = sorted(p.stem for p in (root / LISTS).glob("*.txt")) if (root / LISTS).is_dir() else []
        hint = f"; the lists there are: {', '.join(have)}" if have else f"; {root / LISTS} holds no lists"
        raise DataError(f"voc: split list {path} not found (split {split!r}){hint}") from None
    except OSError as e:
        raise DataError(f"voc: cannot read the split list {path} ({e})") from None
    ids = [line.split()[0] for line in text.splitlines() if line.strip()]
    if not ids:
        raise DataError(f"voc: split list {path} lists no ids")
    return ids


def _by_stem(folder: Path, suffixes: tuple[str, ...]) -> dict[str, str]:
    if not folder.is_dir():
        raise DataError(f"voc: folder {folder} not found (expected {IMAGES}/ and {MASKS}/ under data.root)")
    found: dict[str, str] = {}
    for e in os.scandir(folder):
        stem, ext = os.path.splitext(e.name)
        if ext.lower() in suffixes and (stem not in found or ext.lower() == suffixes[0]):
            found[stem] = e.name
    return found


@DATASETS.register("voc")
class Voc(Dataset):
    """Pascal VOC segmentation (module doc). ``split`` names the list file (``train``, ``val``,
    ``trainval``); ``classes`` (default VOC's 21) and ``check`` ("header" | "full" | "none")."""

    task = "segmentation"

    def __init__(
        self,
        root: str | os.PathLike | None,
        split: str | None = "train",
        transforms: Callable[..., Any] | None = None,
        *,
        classes: Sequence[str] | None = None,
        check: str = "header",
    ) -> None:
        check_option(check)
        if root is None:
            raise DataError("voc: no root folder given (set data.root to the folder holding JPEGImages/)")
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"voc: dataset root {self.root} is {'a file' if self.root.exists() else 'not found'} "
                            f"(expected the folder holding {IMAGES}/, {MASKS}/ and {LISTS}/)")
        if not split:
            raise DataError("voc: no split given (the split names a list file in ImageSets/Segmentation)")
        self.split = split
        self.folder = self.root
        self.ids = read_split_list(self.root, split)
        self.info = voc_info(classes, self.ids[:N_SNAPSHOTS])
        self.classes = list(self.info.classes)
        self.num_classes = len(self.classes)
        self.image_paths, self.mask_paths = self._pair(self.ids)
        self._index = {i: k for k, i in enumerate(self.ids)}
        if transforms is None:
            from ignite_zoo.zoo.data.transforms import build_transforms

            transforms = build_transforms(None, self.task, mask_fill=self.info.mask_fill)
        self.transforms = transforms
        if check != "none":
            self._validate(full=check == "full")

    @classmethod
    def describe(cls, data_cfg: Mapping[str, Any] | None = None) -> DatasetInfo:
        """Classes from ``data.args.classes``; snapshot ids are the first ids of the validation
        list when ``data.root`` holds it (no image is read), else none."""
        data_cfg = data_cfg or {}
        args = data_cfg.get("args") or {}
        ids: list[str] = []
        root, split = data_cfg.get("root"), recipe_split(data_cfg, "val")
        if root is not None and split and (Path(root) / LISTS / f"{split}.txt").is_file():
            ids = read_split_list(Path(root), split)
        return voc_info(args.get("classes"), ids[:N_SNAPSHOTS])

    def _pair(self, ids: list[str]) -> tuple[list[Path], list[Path]]:
        images = _by_stem(self.root / IMAGES, _IMAGE_SUFFIXES)
        masks = _by_stem(self.root / MASKS, (".png",))
        lst = LISTS / f"{self.split}.txt"
        no_image = [i for i in ids if i not in images]
        no_mask = [i for i in ids if i not in masks]
        problems = []
        if no_image:
            problems.append(f"{len(no_image)} id(s) without an image {IMAGES}/<id>.jpg: {_some(no_image)}")
        if no_mask:
            problems.append(f"{len(no_mask)} id(s) without a mask {MASKS}/<id>.png: {_some(no_mask)}")
        if problems:
            raise DataError(f"{self.root}: {lst} lists " + "; ".join(problems))
        return ([self.root / IMAGES / images[i] for i in ids], [self.root / MASKS / masks[i] for i in ids])

    def _validate(self, full: bool) -> None:
        mismatched = []
        for img_path, mask_path in zip(self.image_paths, self.mask_paths):
            if full:
                (hi, wi), (hm, wm) = read_image(img_path).shape[:2], self.info.read_mask(mask_path).shape
            else:
                (wi, hi), (wm, hm) = image_size(img_path), image_size(mask_path)
            if (wi, hi) != (wm, hm):
                mismatched.append(f"{img_path.name} is {wi}x{hi} but {mask_path.name} is {wm}x{hm}")
        if mismatched:
            raise DataError(f"{self.root}: {len(mismatched)} image/mask pair(s) differ in size (WxH): "
                            f"{_some(mismatched)}")

    def check_same_size(self) -> tuple[int, int] | None:
        """The one image size of the split (headers only); DataError naming two files otherwise."""
        return check_same_size(self.image_paths, f"{self.root} ({self.split})")

    def read_image(self, i: int) -> np.ndarray:
        """RGB uint8 ``[H, W, 3]``, untransformed."""
        return read_image(self.image_paths[i])

    def read_mask(self, i: int) -> np.ndarray:
        """Class ids int64 ``[H, W]`` (255 = ignore), untransformed."""
        return self.info.read_mask(self.mask_paths[i])

    def index_of(self, id_: str) -> int:
        try:
            return self._index[str(id_)]
        except KeyError:
            raise DataError(f"{self.root}: no sample with id {id_!r} in split {self.split!r}") from None

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = read_image(self.image_paths[i])
        mask = self.read_mask(i).astype(np.uint8)  # ids < 255 and the ignore value fit a byte
        if image.shape[:2] != mask.shape:
            raise DataError(f"{self.image_paths[i]}: image is {image.shape[1]}x{image.shape[0]} but its mask "
                            f"{self.mask_paths[i].name} is {mask.shape[1]}x{mask.shape[0]}")
        return apply_pipeline(self.transforms, image, mask, source=self.image_paths[i])

    def __repr__(self) -> str:
        return f"Voc({self.root}, {self.split}, {len(self)} pairs, {self.num_classes} classes)"
