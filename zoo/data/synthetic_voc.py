"""A small generated set in Pascal VOC's layout: shapes on textured backgrounds.

Class 0 is background; each other class is one shape kind (rectangle, disc, triangle,
then polygons with more corners) in its own colour range. As in VOC's masks, every
object is outlined with a band of 255 ("ignore": the border pixels are ambiguous), and
masks are palette PNGs with VOC's colours. Drawn from ``np.random.default_rng([seed, i])``,
so an image depends only on the seed and its index.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import cv2
import numpy as np

from ignite_zoo.registry.errors import DataError
from ignite_zoo.registry.paths import put_in_place, staged_folder
from ignite_zoo.zoo.data.voc import IGNORE, IMAGES, LISTS, MASKS, voc_info

MANIFEST = "synthetic_voc.json"
#: base colour (RGB) of each object class; more classes reuse them darker
_COLOURS = np.array([(200, 40, 40), (40, 160, 60), (50, 70, 200), (210, 180, 40), (160, 60, 180)], np.float32)


def _shape(rng: np.random.Generator, cls: int, size: int) -> np.ndarray:
    """int32 polygon (or a filled-ellipse marker) of one object of class ``cls``."""
    r = rng.uniform(0.12, 0.22) * size
    cy, cx = rng.uniform(r + 2, size - r - 2, 2)
    if cls == 2:  # disc
        t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        pts = np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1)
    elif cls == 1:  # axis-aligned rectangle
        h = r * rng.uniform(0.6, 1.0)
        pts = np.array([[cx - r, cy - h], [cx + r, cy - h], [cx + r, cy + h], [cx - r, cy + h]])
    else:  # regular polygon: triangle for class 3, more corners for later classes
        k = cls
        t = rng.uniform(0, 2 * np.pi) + np.linspace(0, 2 * np.pi, k, endpoint=False)
        pts = np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1)
    return np.rint(pts).astype(np.int32)


def render_voc_like(seed: int, index: int, size: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """RGB uint8 ``[size, size, 3]`` and mask uint8 ``[size, size]`` (ids and 255 borders)."""
    rng = np.random.default_rng([seed, index])
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    g = 90 + 30 * np.sin(xx / rng.uniform(3, 8)) * np.cos(yy / rng.uniform(3, 8))
    img = np.repeat(g[..., None], 3, axis=2) + rng.normal(0, 8, (size, size, 3))
    mask = np.zeros((size, size), np.uint8)
    n_obj = int(rng.integers(1, 4))
    kinds = [1 + (index + j) % (classes - 1) for j in range(n_obj)] if classes > 1 else []
    for cls in kinds:
        pts = _shape(rng, cls, size)
        obj = np.zeros((size, size), np.uint8)
        cv2.fillPoly(obj, [pts], 1)
        base = _COLOURS[(cls - 1) % len(_COLOURS)] * (1.0 - 0.25 * ((cls - 1) // len(_COLOURS)))
        colour = base + rng.normal(0, 12, 3)
        sel = obj.astype(bool)
        img[sel] = colour + rng.normal(0, 6, (int(sel.sum()), 3))
        mask[sel] = cls
        border = cv2.morphologyEx(obj, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)).astype(bool)
        mask[border] = IGNORE
    img = cv2.GaussianBlur(img.astype(np.float32), (3, 3), 0.7)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), mask


def _write_voc(root: Path, n_train: int, n_val: int, size: int, classes: int, seed: int) -> None:
    for sub in (IMAGES, MASKS, LISTS):
        (root / sub).mkdir(parents=True, exist_ok=True)
    info = voc_info([f"class{c}" if c else "background" for c in range(classes)])
    splits = {"train": range(n_train), "val": range(n_train, n_train + n_val)}
    for split, indices in splits.items():
        ids = []
        for i in indices:
            id_ = f"2007_{i:06d}"
            img, mask = render_voc_like(seed, i, size, classes)
            if not cv2.imwrite(str(root / IMAGES / f"{id_}.jpg"), img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95]):
                raise DataError(f"make_voc_like: cannot write {root / IMAGES / f'{id_}.jpg'}")
            info.write_mask(root / MASKS / f"{id_}.png", mask)
            ids.append(id_)
        (root / LISTS / f"{split}.txt").write_text("\n".join(ids) + "\n")
    manifest = {"generator": "synthetic_voc", "n_train": n_train, "n_val": n_val, "size": size,
                "classes": classes, "seed": seed}
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


#: what a generated set holds (relative POSIX paths); anything else in it is someone's and stays
_GENERATED = re.compile(rf"^({IMAGES}(/2007_\d{{6}}\.jpg)?|{MASKS}(/2007_\d{{6}}\.png)?|"
                        rf"{LISTS.parent.as_posix()}(/{LISTS.name}(/(train|val)\.txt)?)?|{re.escape(MANIFEST)})$")


def _check_only_generated(root: Path) -> None:
    """A set made here is replaced whole, so it may hold nothing else (a run, a user's notes)."""
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if not _GENERATED.match(rel):
            raise DataError(f"make_voc_like: {root} holds {rel}, which this generator did not write; refusing to "
                            "replace the set (move that file, or choose another folder)")


def make_voc_like(root: str | os.PathLike, n_train: int = 8, n_val: int = 4, size: int = 64, classes: int = 4,
                  seed: int = 0) -> Path:
    """Write a VOC-layout set into ``root`` (JPEGImages/, SegmentationClass/, ImageSets/
    Segmentation/{train,val}.txt). A folder holding anything but a set made here is left
    alone (DataError): generated files never overwrite someone's data."""
    if min(n_train, n_val) < 1 or size < 16 or not 1 < classes <= 21:
        raise DataError(f"make_voc_like: need n_train, n_val >= 1, size >= 16 and 2..21 classes, got "
                        f"{n_train}, {n_val}, {size}, {classes}")
    root = Path(root)
    if root.is_dir() and any(root.iterdir()) and not (root / MANIFEST).is_file():
        raise DataError(f"make_voc_like: {root} is not empty and holds no {MANIFEST}; refusing to write into it")
    if root.is_dir():
        _check_only_generated(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    # written in a sibling folder and renamed into place: an interrupted run leaves no half set
    # (which a second run would then refuse as someone else's folder)
    with staged_folder(root) as tmp:
        _write_voc(tmp, n_train, n_val, size, classes, seed)
        put_in_place(tmp, root)
    return root
