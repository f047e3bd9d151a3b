"""What a dataset knows about itself, as one value other layers can ask for.

Training, metrics, snapshots, prediction and scoring all need the class names, colours,
which label is "ignore" or "unknown", and how a folder of images and masks is named.
Those facts belong to the dataset class; ``DatasetInfo`` carries them, with the one way
to read, write and colour masks for that dataset, so no other module hard-codes them.

Mask files come in three kinds and ``DatasetInfo.read_mask`` tells them apart by the PNG
header: single-channel (values are class ids), palette (indices are class ids for index-mask
datasets like VOC, and otherwise when the palette is the dataset's own or a grey ramp; else
the colours are decoded) and RGB
(colours decoded through the dataset's rule: the course threshold rule for land cover,
exact colours for VOC).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from ignite_zoo.registry.errors import DataError

log = logging.getLogger("zoo.data")

RGB = tuple[int, int, int]
#: share of unknown/ignore pixels above which a set of masks is probably decoded wrongly
MOSTLY_UNKNOWN = 0.95


#: the split folders a recipe's ``data.train`` / ``data.val`` read when it names none
DEFAULT_SPLITS = {"train": "train", "val": "validation"}


def recipe_split(data_cfg: Mapping[str, Any], which: str) -> Any:
    """The split name a recipe's ``data`` section gives for ``which`` ("train" | "val")."""
    if which not in DEFAULT_SPLITS:
        raise ValueError(f"which must be 'train' or 'val', got {which!r}")
    return (data_cfg.get(which) or {}).get("split", DEFAULT_SPLITS[which])


class FolderLayout:
    """How one dataset family names images and masks in a folder (for predict / evaluate)."""

    def images(self, folder: str | os.PathLike) -> list[tuple[str, Path]]:
        """``(id, image path)`` pairs sorted by id."""
        raise NotImplementedError

    def masks(self, folder: str | os.PathLike) -> dict[str, Path]:
        """id -> mask path."""
        raise NotImplementedError

    def mask_name(self, id_: str) -> str:
        """The file name a predicted mask of ``id_`` is written as."""
        raise NotImplementedError


def existing_folder(folder: str | os.PathLike, what: str) -> Path:
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: {what} folder not found" if not folder.exists() else f"{folder}: not a folder")
    return folder


@dataclass(frozen=True)
class DatasetInfo:
    """The facts of one dataset (see module doc). ``rgb_decoder(rgb, source)`` turns an RGB
    mask into ids when exact colour matching is not the dataset's rule (land cover
    thresholds each channel at 128)."""

    task: str
    classes: tuple[str, ...]
    palette: tuple[RGB, ...] | None = None
    ignore_index: int | None = None
    unknown_index: int | None = None
    eval_classes: tuple[int, ...] = ()
    snapshot_ids: tuple[str, ...] = ()
    layout: FolderLayout | None = field(default=None, compare=False)
    #: colour of ``ignore_index`` pixels in written masks and colour RGB masks (VOC: 224, 224, 192)
    ignore_colour: RGB | None = None
    rgb_decoder: Callable[[np.ndarray, Path], np.ndarray] | None = field(default=None, compare=False, repr=False)
    #: palette PNG indices are class ids whatever the palette (VOC); False: only when the palette
    #: is this dataset's own or a grey ramp, otherwise the colours decide (land cover)
    index_masks: bool = False

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def mask_fill(self) -> int:
        """Mask value for pixels an augmentation invents (padding): ignored if possible, else unknown."""
        if self.ignore_index is not None:
            return self.ignore_index
        return self.unknown_index if self.unknown_index is not None else 0

    # -- colours ---------------------------------------------------------------------------
    def _palette_array(self) -> np.ndarray:
        """uint8 ``[256, 3]``: class colours, the ignore colour at ``ignore_index``, black elsewhere."""
        if self.palette is None:
            raise DataError(f"{self.task} dataset has no mask colours")
        lut = np.zeros((256, 3), dtype=np.uint8)
        lut[: len(self.palette)] = np.array(self.palette, dtype=np.uint8).reshape(-1, 3)
        if self.ignore_index is not None and 0 <= self.ignore_index < 256 and self.ignore_colour is not None:
            lut[self.ignore_index] = self.ignore_colour
        return lut

    def _as_written(self, ids: np.ndarray) -> np.ndarray:
        """ids as uint8; values outside the classes become ignore where it has a colour, else
        unknown, else 0 (a written mask holds only ids its palette can show)."""
        ids = np.asarray(ids)
        if ids.ndim != 2:
            raise ValueError(f"class ids must be [H, W], got shape {ids.shape}")
        bad = (ids < 0) | (ids >= self.num_classes)
        out = ids.astype(np.uint8) if ids.dtype != np.uint8 else ids.copy()
        if bad.any():
            out[bad] = self._written_ignore()
        return out

    def _written_ignore(self) -> int:
        ign = self.ignore_index
        if ign is not None and 0 <= ign < 256 and self.ignore_colour is not None:
            return ign
        return self.unknown_index if self.unknown_index is not None else 0

    def colorize(self, ids: np.ndarray) -> np.ndarray:
        """uint8 ``[H, W, 3]`` for figures; ids outside the classes show as written (ignore colour)."""
        return self._palette_array()[self._as_written(ids)]

    def write_mask(self, path: str | os.PathLike, ids: np.ndarray) -> None:
        """A palette PNG: indices are class ids, colours the dataset's, so both index readers
        (VOC tools) and colour readers (the course's evaluation) read the same classes."""
        from PIL import Image

        img = Image.fromarray(self._as_written(ids), mode="P")
        lut = self._palette_array()
        used = self.num_classes
        if self.ignore_index is not None and self.ignore_colour is not None and 0 <= self.ignore_index < 256:
            used = max(used, self.ignore_index + 1)
        img.putpalette(lut[:used].ravel().tolist())
        img.save(Path(path), format="PNG", optimize=False)

    # -- reading ---------------------------------------------------------------------------
    def read_mask(self, path: str | os.PathLike) -> np.ndarray:
        """int64 ``[H, W]`` class ids of a mask file of any of the three kinds (module doc)."""
        from PIL import Image, UnidentifiedImageError

        path = Path(path)
        try:
            with Image.open(path) as im:
                mode = im.mode
                if mode == "P":
                    idx = np.asarray(im)
                    pal = np.array(im.getpalette() or [], dtype=np.int64).reshape(-1, 3)
                    return self._from_palette(idx, pal, path)
                if mode in ("L", "1", "I", "I;16", "LA"):
                    arr = np.asarray(im.convert("I") if mode != "LA" else im.getchannel("L"))
                    return self._check_ids(arr.astype(np.int64), path)
                rgb = np.asarray(im.convert("RGB"))
        except FileNotFoundError:
            raise DataError(f"{path}: mask file not found") from None
        except (UnidentifiedImageError, OSError) as e:
            raise DataError(f"{path}: cannot read the mask ({e})") from None
        return self._from_colours(rgb, path)

    def _check_ids(self, ids: np.ndarray, path: Path) -> np.ndarray:
        bad = (ids < 0) | (ids >= self.num_classes)
        if self.ignore_index is not None:
            bad &= ids != self.ignore_index
        if bad.any():
            values = np.unique(ids[bad])
            allowed = f"0..{self.num_classes - 1}" + (f" or {self.ignore_index}" if self.ignore_index is not None else "")
            raise DataError(
                f"{path}: mask value {int(values[0])} ({int(bad.sum())} pixels"
                f"{f'; also {values[1:6].tolist()}' if len(values) > 1 else ''}) is no class id "
                f"(expected {allowed} for {self.num_classes} classes)"
            )
        return ids

    def _from_palette(self, idx: np.ndarray, pal: np.ndarray, path: Path) -> np.ndarray:
        used = np.flatnonzero(np.bincount(idx.ravel(), minlength=256))
        pal = np.vstack([pal, np.zeros((max(0, 256 - len(pal)), 3), dtype=np.int64)])
        own = self._palette_array().astype(np.int64) if self.palette is not None else None
        # our palette wherever ours defines a colour (ids past the classes are reported as values)
        is_own = own is not None and all(
            u == self.ignore_index or u >= self.num_classes or (pal[u] == own[u]).all() for u in used
        )
        grey_ramp = all((pal[u] == u).all() for u in used)
        if self.index_masks or is_own or grey_ramp or self.palette is None:
            return self._check_ids(idx.astype(np.int64), path)
        # a palette of other colours: decode the colours, as an RGB mask would be
        return self._from_colours(pal.astype(np.uint8)[idx], path)

    def _from_colours(self, rgb: np.ndarray, path: Path) -> np.ndarray:
        """Colour -> id by the dataset's rule; by default exact colours, and a colour that is no
        class (nor the ignore colour) is a DataError."""
        if self.rgb_decoder is not None:
            return np.asarray(self.rgb_decoder(rgb, path), dtype=np.int64)
        if self.palette is None:
            raise DataError(f"{path}: a colour mask, but this dataset has no mask colours")
        code = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
        colours = {(r << 16) | (g << 8) | b: i for i, (r, g, b) in reversed(list(enumerate(self.palette)))}
        if self.ignore_index is not None and self.ignore_colour is not None:
            r, g, b = self.ignore_colour
            colours.setdefault((r << 16) | (g << 8) | b, self.ignore_index)
        keys, inverse = np.unique(code.ravel(), return_inverse=True)
        foreign = [int(k) for k in keys if int(k) not in colours]
        if foreign:
            shown = ", ".join(str(((k >> 16) & 255, (k >> 8) & 255, k & 255)) for k in foreign[:5])
            raise DataError(f"{path}: colour(s) {shown} are none of the {self.num_classes} class colours")
        ids = np.array([colours[int(k)] for k in keys], dtype=np.int64)
        return ids[inverse].reshape(code.shape)


def unknown_fraction(masks_or_counts: Any, info: DatasetInfo) -> float:
    """Share of pixels that are unknown, ignore, or no class at all.

    ``masks_or_counts``: one id array, an iterable of them, or a 1-D vector of pixel counts
    per id value (slots from ``num_classes`` on count as no class).
    """
    k = info.num_classes
    if isinstance(masks_or_counts, np.ndarray) and masks_or_counts.ndim == 1:
        counts = masks_or_counts.astype(np.int64)
    else:
        items = [masks_or_counts] if isinstance(masks_or_counts, np.ndarray) else masks_or_counts
        counts = np.zeros(k + 1, dtype=np.int64)
        for m in items:
            m = np.asarray(m).ravel()
            counts += np.bincount(np.where((m >= 0) & (m < k), m, k).astype(np.int64), minlength=k + 1)
    total = int(counts.sum())
    if total == 0:
        return 0.0
    known = counts[:k].copy()
    if info.unknown_index is not None and info.unknown_index < len(known):
        known[info.unknown_index] = 0
    return 1.0 - float(known.sum()) / total


def warn_if_mostly_unknown(masks_or_counts: Any, info: DatasetInfo, where: str,
                           threshold: float = MOSTLY_UNKNOWN) -> float:
    """Warn (logging) when the masks of ``where`` are almost all unknown/ignore: the usual sign
    of masks read the wrong way (class-index PNGs decoded as colours, or the wrong dataset type).

    ``masks_or_counts`` as for ``unknown_fraction``. Returns the fraction.
    """
    frac = unknown_fraction(masks_or_counts, info)
    if frac > threshold:
        log.warning("%s", mostly_unknown_message(where, frac, info))
    return frac


def mostly_unknown_message(where: str, frac: float, info: DatasetInfo, truth: float | None = None) -> str:
    """The one wording of "these masks are almost all unknown": masks read the wrong way."""
    what = [f"{info.classes[info.unknown_index]} ({info.unknown_index})"] if info.unknown_index is not None else []
    if info.ignore_index is not None:
        what.append(f"ignore ({info.ignore_index})")
    than = f" (the ground truth has {truth:.1%})" if truth is not None else ""
    return (f"{where}: {frac:.1%} of the mask pixels are {' / '.join(what) or 'no class'} or no class{than}: are "
            f"these masks in this dataset's format (class-index or palette PNGs with ids 0..{info.num_classes - 1}, "
            "or colour masks in its palette)?")
