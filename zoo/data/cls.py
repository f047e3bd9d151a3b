"""Classification datasets: the course's flat ``<class>_<index>.png`` folders, torchvision-style
class folders, and scikit-learn's bundled digits as a demo that needs no download.

All three share ``ClassificationDataset``: a list of samples (id, label) read through the
project's one image reader and passed through the same pipeline type as segmentation.
"""
from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
from torch.utils.data import Dataset

from ignite_zoo.registry.errors import DataError, RecipeError
from ignite_zoo.registry.registry import DATASETS
from ignite_zoo.zoo.data.info import DatasetInfo, recipe_split
from ignite_zoo.zoo.data.io import check_option, check_same_size, image_size, read_image
from ignite_zoo.zoo.data.sat import _some, resolve_split_folder
from ignite_zoo.zoo.data.transforms import apply_pipeline

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp")
_CLS_NAME_RE = re.compile(r"(?P<label>\d+)_(?P<index>\d+)")


class ClassificationDataset(Dataset):
    """``(FloatTensor[3, H, W], int)`` samples; subclasses fill ``ids``, ``targets``, ``classes``."""

    task = "classification"
    ids: list[str]
    targets: list[int]
    classes: list[str]

    def __init__(self, transforms: Callable[..., Any] | None) -> None:
        if transforms is None:
            from ignite_zoo.zoo.data.transforms import build_transforms

            transforms = build_transforms(None, self.task)
        self.transforms = transforms

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def info(self) -> DatasetInfo:
        return classification_info(self.classes)

    @classmethod
    def describe(cls, data_cfg: Mapping[str, Any]) -> DatasetInfo:  # pragma: no cover - overridden
        """The dataset's facts from a recipe's ``data`` section, decoding no image."""
        raise NotImplementedError

    def read_image(self, i: int) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def index_of(self, id_: str) -> int:
        try:
            return self.ids.index(str(id_))
        except ValueError:
            raise DataError(f"{type(self).__name__}: no sample with id {id_!r}") from None

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image, _ = apply_pipeline(self.transforms, self.read_image(i), source=self._source(i))
        return image, int(self.targets[i])

    def _source(self, i: int) -> str:
        return f"{type(self).__name__} sample {self.ids[i]}"


def classification_info(classes: Any) -> DatasetInfo:
    classes = tuple(str(c) for c in classes)
    return DatasetInfo(task="classification", classes=classes, eval_classes=tuple(range(len(classes))))


class _FileDataset(ClassificationDataset):
    """Samples backed by image files, validated at build time like the segmentation folders."""

    paths: list[Path]

    def _validate(self, check: str) -> None:
        if check_option(check) == "header":
            for p in self.paths:
                image_size(p)
        elif check == "full":
            for p in self.paths:
                read_image(p)

    def read_image(self, i: int) -> np.ndarray:
        return read_image(self.paths[i])

    def _source(self, i: int) -> str:
        return str(self.paths[i])

    def check_same_size(self) -> tuple[int, int] | None:
        """The one image size of the split (headers only); DataError naming two files otherwise."""
        return check_same_size(self.paths, str(self.folder))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.folder}, {len(self)} images, {self.num_classes} classes)"


def _image_files(folder: Path) -> list[os.DirEntry]:
    return [e for e in os.scandir(folder) if e.is_file() and e.name.lower().endswith(IMAGE_SUFFIXES)]


@DATASETS.register("dlcv_cls")
class DlcvCls(_FileDataset):
    """A flat folder of ``<class>_<index>.png`` (``train_50/12_345.png`` is class 12).

    ``num_classes`` is inferred as the largest label + 1 unless given (give it when a split
    may miss the last classes). ``split`` None or ``""`` reads ``root`` itself. Files that
    are not images are skipped; an image whose name does not parse is a DataError.
    """

    def __init__(
        self,
        root: str | os.PathLike | None,
        split: str | None = None,
        transforms: Callable[..., Any] | None = None,
        *,
        num_classes: int | None = None,
        check: str = "header",
    ) -> None:
        super().__init__(transforms)
        self.folder = resolve_split_folder(root, split, "dlcv_cls")
        samples = _parse_cls_names(self.folder)
        top = max(s[0] for s in samples)
        if num_classes is None:
            num_classes = top + 1
        elif top >= num_classes:
            over = sorted(s[2] for s in samples if s[0] >= num_classes)
            raise DataError(
                f"{self.folder}: num_classes is {num_classes} but {len(over)} file(s) have a larger "
                f"class: {_some(over)}"
            )
        self.classes = [str(c) for c in range(num_classes)]
        self.ids = [Path(s[2]).stem for s in samples]
        self.targets = [s[0] for s in samples]
        self.paths = [self.folder / s[2] for s in samples]
        self._validate(check)


    @classmethod
    def describe(cls, data_cfg: Mapping[str, Any]) -> DatasetInfo:
        """Classes 0..num_classes-1; without ``data.args.num_classes``, from the train split's file names."""
        n = (data_cfg.get("args") or {}).get("num_classes")
        if n is None:
            folder = resolve_split_folder(data_cfg.get("root"), recipe_split(data_cfg, "train"), "dlcv_cls")
            n = max(s[0] for s in _parse_cls_names(folder)) + 1
        return classification_info(range(n))


def _parse_cls_names(folder: Path) -> list[tuple[int, int, str]]:
    """Sorted ``(label, index, file name)`` of a ``<class>_<index>.png`` folder (names only)."""
    samples, bad = [], []
    for e in _image_files(folder):
        m = _CLS_NAME_RE.fullmatch(Path(e.name).stem)
        if m is None:
            bad.append(e.name)
        else:
            samples.append((int(m["label"]), int(m["index"]), e.name))
    if bad:
        raise DataError(
            f"{folder}: {len(bad)} file name(s) do not parse as <class>_<index>.png "
            f"(e.g. 12_345.png is class 12): {_some(sorted(bad))}"
        )
    if not samples:
        raise DataError(f"{folder}: no images found (expected files named <class>_<index>.png)")
    return sorted(samples)


@DATASETS.register("image_folder")
class ImageFolder(_FileDataset):
    """torchvision's layout: ``root/split/<class>/*.png|jpg``; classes are the sorted folder names.

    An empty class folder is an error (a typo'd or half-copied class would shift every
    later label). ``split`` None or ``""`` reads ``root`` itself. Ids are ``<class>/<stem>``.
    """

    def __init__(
        self,
        root: str | os.PathLike | None,
        split: str | None = None,
        transforms: Callable[..., Any] | None = None,
        *,
        check: str = "header",
    ) -> None:
        super().__init__(transforms)
        self.folder = resolve_split_folder(root, split, "image_folder")
        class_dirs = _class_dirs(self.folder)
        self.classes = [p.name for p in class_dirs]
        self.ids, self.targets, self.paths = [], [], []
        empty = []
        for label, d in enumerate(class_dirs):
            files = sorted(_image_files(d), key=lambda e: e.name)
            if not files:
                empty.append(d.name)
            for e in files:
                self.ids.append(f"{d.name}/{Path(e.name).stem}")
                self.targets.append(label)
                self.paths.append(d / e.name)
        if empty:
            raise DataError(
                f"{self.folder}: class folder(s) with no images ({', '.join(IMAGE_SUFFIXES)}): {_some(empty)}"
            )
        self._validate(check)


    @classmethod
    def describe(cls, data_cfg: Mapping[str, Any]) -> DatasetInfo:
        """Classes are the train split's sub-folder names (listed, nothing opened)."""
        folder = resolve_split_folder(data_cfg.get("root"), recipe_split(data_cfg, "train"), "image_folder")
        return classification_info(p.name for p in _class_dirs(folder))


def _class_dirs(folder: Path) -> list[Path]:
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise DataError(f"{folder}: no class folders found (expected {folder}/<class>/<image>.png)")
    return class_dirs


@functools.lru_cache(maxsize=1)
def _digits_rgb32() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 digits as uint8 ``[N, 32, 32, 3]`` and their labels."""
    import cv2
    from sklearn.datasets import load_digits

    d = load_digits()
    small = np.rint(d.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)  # values are 0..16
    big = np.stack([cv2.resize(im, (32, 32), interpolation=cv2.INTER_LINEAR) for im in small])
    rgb = np.repeat(big[..., None], 3, axis=3)
    rgb.flags.writeable = False
    return rgb, d.target.astype(np.int64)


@DATASETS.register("digits")
class Digits(ClassificationDataset):
    """scikit-learn's bundled handwritten digits, 32x32 RGB: a classification demo offline.

    The 8x8 images are scaled to 0-255 and upsampled bilinearly; the train/validation split
    is stratified and seeded, so it is the same on every machine. ``root`` is ignored.
    Splits: ``train``, ``validation`` (alias ``val``).
    """

    SPLITS = ("train", "validation", "val")

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        split: str | None = "train",
        transforms: Callable[..., Any] | None = None,
        *,
        val_fraction: float = 0.2,
        seed: int = 0,
    ) -> None:
        from sklearn.model_selection import train_test_split

        super().__init__(transforms)
        if split not in self.SPLITS:
            raise DataError(f"digits: unknown split {split!r}; expected one of {', '.join(map(repr, self.SPLITS))}")
        if not 0 < val_fraction < 1:
            raise RecipeError(f"data.args.val_fraction: expected a number between 0 and 1, got {val_fraction!r}")
        images, labels = _digits_rgb32()
        train_idx, val_idx = train_test_split(
            np.arange(len(labels)), test_size=val_fraction, random_state=seed, stratify=labels
        )
        idx = np.sort(train_idx if split == "train" else val_idx)
        self.split = split
        self._images = images
        self._index_array = idx
        self.ids = [f"{i:04d}" for i in idx]
        self.targets = [int(labels[i]) for i in idx]
        self.classes = list(self.describe().classes)

    @classmethod
    def describe(cls, data_cfg: Mapping[str, Any] | None = None) -> DatasetInfo:
        return classification_info(range(10))

    def read_image(self, i: int) -> np.ndarray:
        return self._images[self._index_array[i]].copy()

    def __repr__(self) -> str:
        return f"Digits({self.split}, {len(self)} images)"
