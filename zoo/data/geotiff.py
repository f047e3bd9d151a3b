"""The ``geotiff`` dataset: multi-band scenes and class rasters, read window by window.

Scenes of 10,000-30,000 pixels a side do not fit a batch and should not be decoded whole
to cut a crop out of them, so every read here is a rasterio *windowed* read of exactly the
pixels a sample needs. The training split draws ``windows_per_epoch`` random windows a
epoch (a scene picked in proportion to its area); every other split is a fixed grid of
windows over each scene, so validation sees every pixel once and always the same ones.

Images come back as float32 ``[C, H, W]`` of RAW band values (the model normalises,
``model.normalize``), in the band order ``bands`` asks for. Masks are class ids: raster
values go through the class table (``zoo.data.geo``), and nodata pixels (the image's or
the mask's, or values that are no class) become ``ignore_index``, which the loss and
the confusion matrix both leave out.

Layout: ``root/<split>/images/NAME.tif`` with ``root/<split>/masks/NAME.tif``, or a
split file ``root/<split>.txt`` listing names of ``root/images`` / ``root/masks``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
from torch.utils.data import Dataset

from ignite_zoo.registry.errors import DataError, RecipeError
from ignite_zoo.registry.registry import DATASETS
from ignite_zoo.zoo.data.geo import (
    TIFF_SUFFIXES, ClassTable, check_bands, grid_starts, import_rasterio, load_classes, nodata_mask,
)
from ignite_zoo.zoo.data.geo_transforms import band_pipeline
from ignite_zoo.zoo.data.info import DatasetInfo, FolderLayout, existing_folder


def _tiffs(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() in TIFF_SUFFIXES}


class GeoTiffLayout(FolderLayout):
    """``images/NAME.tif`` + ``masks/NAME.tif`` (or the rasters directly in the folder)."""

    def images(self, folder: str | os.PathLike) -> list[tuple[str, Path]]:
        folder = existing_folder(folder, "image")
        sub = folder / "images"
        return sorted(_tiffs(sub if sub.is_dir() else folder).items())

    def masks(self, folder: str | os.PathLike) -> dict[str, Path]:
        folder = existing_folder(folder, "mask")
        sub = folder / "masks"
        return _tiffs(sub if sub.is_dir() else folder)

    def mask_name(self, id_: str) -> str:
        return f"{id_}.tif"


def _int(v: Any, where: str, least: int = 1) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v < least:
        raise RecipeError(f"{where}: expected an integer >= {least}, got {v!r}")
    return v


def _pair(v: Any, where: str) -> tuple[int, int]:
    if isinstance(v, (list, tuple)) and len(v) == 2:
        return _int(v[0], where), _int(v[1], where)
    n = _int(v, where)
    return n, n


def scene_pairs(root: Path, split: str | None) -> list[tuple[str, Path, Path]]:
    """(name, image, mask) of a split: a split folder, a split file ``root/<split>.txt``, or ``root``."""
    if not root.is_dir():
        raise DataError(f"geotiff: data.root {root} is {'a file' if root.exists() else 'not found'}; "
                        "expected a folder of scenes")
    names: list[str] | None = None
    folder = root
    if split:
        if (root / split).is_dir():
            folder = root / split
        elif (root / f"{split}.txt").is_file():
            names = [ln.strip() for ln in (root / f"{split}.txt").read_text().splitlines() if ln.strip()]
            names = [Path(n).stem for n in names if not n.startswith("#")]
        else:
            raise DataError(f"geotiff: split {split!r} is neither a folder {root / split} nor a list {root / split}.txt")
    if not (folder / "images").is_dir() or not (folder / "masks").is_dir():
        raise DataError(f"{folder}: expected images/ and masks/ folders of GeoTIFFs with matching names")
    images, masks = _tiffs(folder / "images"), _tiffs(folder / "masks")
    wanted = names if names is not None else sorted(images)
    missing = [n for n in wanted if n not in images or n not in masks]
    if missing:
        raise DataError(f"{folder}: {len(missing)} scene(s) lack an image in images/ or a mask in masks/ "
                        f"(both NAME.tif): {', '.join(missing[:5])}")
    if not wanted:
        raise DataError(f"{folder}: no GeoTIFF scenes (expected images/NAME.tif with masks/NAME.tif)")
    return [(n, images[n], masks[n]) for n in wanted]


@DATASETS.register("geotiff")
class GeoTiff(Dataset):
    """GeoTIFF scenes with class rasters (module doc). Options (``data.args``):

    ``classes`` (table or file; default ``classes.yaml`` in ``root``), ``bands`` (1-based,
    in the order the model sees them; default all), ``nodata`` (default the file's),
    ``ignore_index`` (255), ``window`` (pixels, or ``[h, w]``; 256), ``windows_per_epoch``
    (training samples per epoch; 256), ``stride`` (of the validation grid; the window),
    ``train_split`` (the split sampled at random; "train"), ``nodata_fill`` (the raw value
    nodata pixels get in the image; 0).
    """

    task = "segmentation"

    def __init__(self, root: str | os.PathLike | None, split: str | None = "train",
                 transforms: Callable[..., Any] | None = None, *, classes: Any = None, bands: Any = None,
                 nodata: float | None = None, ignore_index: int = 255, window: Any = 256,
                 windows_per_epoch: int = 256, stride: Any = None, train_split: str = "train",
                 nodata_fill: float = 0.0) -> None:
        if root is None:
            raise DataError("geotiff: no root folder given (set data.root in the recipe)")
        rasterio = import_rasterio()
        self.root, self.split = Path(root), split
        self.table: ClassTable = load_classes(classes, self.root)
        self.ignore_index = _int(ignore_index, "data.args.ignore_index", 0)
        if self.ignore_index < len(self.table):
            raise RecipeError(f"data.args.ignore_index: {ignore_index} is a class id (0-{len(self.table) - 1}); "
                              f"expected {len(self.table)} or more, e.g. 255")
        self.window = _pair(window, "data.args.window")
        self.stride = _pair(stride, "data.args.stride") if stride is not None else self.window
        self.random = split == train_split
        self.windows_per_epoch = _int(windows_per_epoch, "data.args.windows_per_epoch")
        self.nodata_override, self.nodata_fill = nodata, float(nodata_fill)
        self.scenes = scene_pairs(self.root, split)
        self.ids = [n for n, _, _ in self.scenes]
        self.meta: list[dict[str, Any]] = []
        for name, img, msk in self.scenes:
            with rasterio.open(img) as s, rasterio.open(msk) as m:
                if (s.width, s.height) != (m.width, m.height) or (s.transform != m.transform and m.crs is not None):
                    raise DataError(f"{msk}: the mask's grid ({m.width}x{m.height}, {tuple(m.transform)[:6]}) "
                                    f"differs from its image's {img.name} ({s.width}x{s.height}, "
                                    f"{tuple(s.transform)[:6]})")
                self.meta.append({"width": s.width, "height": s.height, "count": s.count,
                                  "nodata": s.nodata if nodata is None else nodata, "mask_nodata": m.nodata})
        counts = {m["count"] for m in self.meta}
        self.bands = check_bands(bands, min(counts))
        if self.bands is None and len(counts) > 1:
            raise DataError(f"{self.root}: scenes have different band counts ({sorted(counts)}); choose data.args.bands")
        self.num_bands = len(self.bands) if self.bands else self.meta[0]["count"]
        self.info = self.make_info(self.table, self.ignore_index)
        self.transforms = band_pipeline(getattr(transforms, "spec", None) if transforms is not None else [],
                                        self.num_bands, where=getattr(transforms, "where", "transforms"),
                                        mask_fill=self.ignore_index, probe=self.window)
        self.grid = [] if self.random else [
            (k, y, x) for k, m in enumerate(self.meta)
            for y in grid_starts(m["height"], self.window[0], self.stride[0])
            for x in grid_starts(m["width"], self.window[1], self.stride[1])]
        areas = np.array([m["width"] * m["height"] for m in self.meta], dtype=np.float64)
        self._p = areas / areas.sum()
        self._handles: dict[str, Any] = {}
        self._pid: int | None = None
        self._rng: np.random.Generator | None = None
        self._seeded_for: tuple[int, int] | None = None

    # -- facts ---------------------------------------------------------------------------
    @staticmethod
    def make_info(table: ClassTable, ignore_index: int) -> DatasetInfo:
        return DatasetInfo(task="segmentation", classes=table.names, palette=table.colours,
                           ignore_index=ignore_index, eval_classes=tuple(range(len(table))),
                           layout=GeoTiffLayout(), ignore_colour=(0, 0, 0), index_masks=True)

    @classmethod
    def class_table(cls, data_cfg: Mapping[str, Any]) -> ClassTable:
        args = data_cfg.get("args") or {}
        return load_classes(args.get("classes"), data_cfg.get("root"))

    @classmethod
    def describe(cls, data_cfg: Mapping[str, Any] | None = None) -> DatasetInfo:
        """Classes and colours from the recipe's table or the classes file in ``data.root``."""
        data_cfg = data_cfg or {}
        args = data_cfg.get("args") or {}
        return cls.make_info(cls.class_table(data_cfg), args.get("ignore_index", 255))

    # -- reading -------------------------------------------------------------------------
    def _open(self, path: Path) -> Any:
        """A handle per file and process (rasterio handles must not cross a fork)."""
        if self._pid != os.getpid():
            self._handles, self._pid = {}, os.getpid()
        key = str(path)
        if key not in self._handles:
            self._handles[key] = import_rasterio().open(path)
        return self._handles[key]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_handles"], state["_pid"] = {}, None
        return state

    def read_window(self, k: int, y: int, x: int) -> tuple[np.ndarray, np.ndarray]:
        """float32 ``[h, w, C]`` raw bands and ids ``[h, w]`` of a window of scene ``k`` (a window
        past the scene's edge is padded: nodata_fill in the image, ignore in the mask)."""
        from rasterio.windows import Window

        meta, (_, img_path, mask_path) = self.meta[k], self.scenes[k]
        h, w = self.window
        win = Window(x, y, w, h)
        outside = y + h > meta["height"] or x + w > meta["width"]
        src, msk = self._open(img_path), self._open(mask_path)
        pixels = src.read(self.bands, window=win, boundless=outside, fill_value=meta["nodata"] or 0,
                          out_dtype=np.float32 if src.dtypes[0] != "float64" else None)
        values = msk.read(1, window=win, boundless=outside, fill_value=meta["mask_nodata"] or 0)
        ids = self.table.ids(values, self.ignore_index, np.uint8 if self.ignore_index < 256 else np.int16)
        bad = nodata_mask(pixels, meta["nodata"])
        if meta["mask_nodata"] is not None:
            bad |= values == meta["mask_nodata"]
        if outside:
            bad[max(0, meta["height"] - y):, :] = True
            bad[:, max(0, meta["width"] - x):] = True
        ids[bad] = self.ignore_index
        pixels = pixels.astype(np.float32, copy=False)
        pixels[:, bad] = self.nodata_fill
        return np.ascontiguousarray(pixels.transpose(1, 2, 0)), ids

    def _generator(self) -> np.random.Generator:
        """Seeded from torch's seed (the run's; each DataLoader worker's own), as Pipeline is."""
        key = (os.getpid(), torch.initial_seed())
        if self._seeded_for != key:
            self._rng, self._seeded_for = np.random.default_rng(torch.initial_seed() % 2**63), key
        return self._rng  # type: ignore[return-value]

    def random_window(self) -> tuple[int, int, int]:
        rng = self._generator()
        k = int(rng.choice(len(self.meta), p=self._p))
        m = self.meta[k]
        y = int(rng.integers(0, max(0, m["height"] - self.window[0]) + 1))
        x = int(rng.integers(0, max(0, m["width"] - self.window[1]) + 1))
        return k, y, x

    def __len__(self) -> int:
        return self.windows_per_epoch if self.random else len(self.grid)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.random:
            for _ in range(8):  # a window of nodata only teaches nothing: draw again
                pixels, ids = self.read_window(*self.random_window())
                if (ids != self.ignore_index).any():
                    break
        else:
            if not 0 <= i < len(self.grid):
                raise IndexError(i)
            pixels, ids = self.read_window(*self.grid[i])
        return self.transforms(pixels, ids)

    def __repr__(self) -> str:
        mode = f"{self.windows_per_epoch} random windows" if self.random else f"{len(self.grid)} grid windows"
        return (f"GeoTiff({self.root}, split={self.split!r}, {len(self.scenes)} scenes, {self.num_bands} bands, "
                f"{mode} of {self.window[0]}x{self.window[1]})")
