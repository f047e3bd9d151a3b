"""Procedural satellite-like tiles with exact masks: a segmentation demo that needs no download.

Each tile is a warped Voronoi partition into land-cover regions, each painted with a
texture that a small network can learn to tell apart (striped fields, speckled forest,
smooth water, grey blocks, olive rangeland, light sand) plus sensor noise, saved as JPEG
with its palette-PNG mask in the course layout. Everything is drawn from
``np.random.default_rng([seed, id])``, so a tile depends only on the seed and its id
(not on ``n``) and the files are byte-identical between runs.

``synthetic_landcover`` generates the set into its root the first time and then reads it
with the real ``dlcv_sat`` code, so demos exercise the same loading path as real data.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from ignite_zoo.registry.errors import DataError, RecipeError
from ignite_zoo.registry.paths import check_writable, put_in_place, staged_folder, writing
from ignite_zoo.registry.registry import DATASETS
from ignite_zoo.zoo.data.masks import UNKNOWN, write_mask
from ignite_zoo.zoo.data.sat import SNAPSHOT_IDS as _SNAPSHOTS, DlcvSat

MANIFEST = "synthetic_landcover.json"
GENERATOR_VERSION = 1
#: ids the default mask-snapshot handler shows; they go to validation when they exist
SNAPSHOT_IDS = tuple(int(i) for i in _SNAPSHOTS)
#: how often each land class is drawn for a region (Unknown is added as rare blobs)
_CLASS_WEIGHTS = np.array([0.16, 0.34, 0.14, 0.14, 0.09, 0.13])


# --------------------------------------------------------------------------------------
# drawing
# --------------------------------------------------------------------------------------
def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Zero-mean, unit-std noise varying over about ``size / cells`` pixels."""
    grid = rng.standard_normal((cells + 1, cells + 1)).astype(np.float32)
    field = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
    return (field - field.mean()) / (field.std() + 1e-6)


def _regions(rng: np.random.Generator, size: int) -> tuple[np.ndarray, int]:
    """Region index per pixel of a Voronoi partition with wavy borders, and the region count."""
    m = int(rng.integers(4, 9))
    pts = rng.uniform(0, size, (m, 2)).astype(np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    amp = 0.07 * size
    xx += amp * _smooth_noise(rng, size, 4)
    yy += amp * _smooth_noise(rng, size, 4)
    d = (xx[None] - pts[:, 0, None, None]) ** 2 + (yy[None] - pts[:, 1, None, None]) ** 2
    return np.argmin(d, axis=0), m


def _texture(cls: int, rng: np.random.Generator, size: int, region: np.ndarray, m: int) -> np.ndarray:
    """float32 RGB ``[size, size, 3]`` texture of one class over the whole tile."""
    fine = rng.standard_normal((size, size)).astype(np.float32)
    low = _smooth_noise(rng, size, 6)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    if cls == 0:  # Urban: grey blocks separated by darker streets
        bs = int(rng.integers(max(4, size // 32), max(6, size // 14) + 1))
        levels = rng.normal(0, 22, (size // bs + 2, size // bs + 2)).astype(np.float32)
        v = 128 + levels[(yy // bs).astype(int), (xx // bs).astype(int)] + 4 * fine
        street = ((xx % bs) < max(1, bs // 6)) | ((yy % bs) < max(1, bs // 6))
        v = np.where(street, 78 + 3 * fine, v)
        rgb = np.stack([v, v + 2, v + 8], -1)
    elif cls == 1:  # Agriculture: stripes, one orientation and period per field
        theta = rng.uniform(0, np.pi, m).astype(np.float32)[region]
        period = rng.uniform(5, 12, m).astype(np.float32)[region]
        s = np.sin(2 * np.pi * (xx * np.cos(theta) + yy * np.sin(theta)) / period)
        a, b = np.array([176, 164, 92], np.float32), np.array([122, 146, 70], np.float32)
        t = (0.5 + 0.5 * s)[..., None]
        rgb = a * t + b * (1 - t) + (10 * low + 5 * fine)[..., None]
    elif cls == 2:  # Rangeland: olive, patchy
        rgb = np.array([142, 128, 86], np.float32) + (16 * low + 9 * fine)[..., None]
    elif cls == 3:  # Forest: dark green speckle
        speck = cv2.GaussianBlur(fine, (3, 3), 0.8)
        rgb = np.array([42, 78, 38], np.float32) + (22 * speck + 6 * low)[..., None] * np.array([0.7, 1.0, 0.6], np.float32)
    elif cls == 4:  # Water: smooth blue
        rgb = np.array([32, 62, 112], np.float32) + (5 * low + 1.5 * fine)[..., None]
    elif cls == 5:  # Barren: light sand
        rgb = np.array([206, 190, 152], np.float32) + (12 * low + 6 * fine)[..., None]
    else:  # Unknown: no-data / cloud shadow, near black
        rgb = np.array([14, 14, 16], np.float32) + (3 * fine)[..., None]
    return rgb


def render_tile(seed: int, index: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """RGB uint8 ``[size, size, 3]`` and class ids uint8 ``[size, size]`` of tile ``index``."""
    rng = np.random.default_rng([seed, index])
    region, m = _regions(rng, size)
    region_cls = rng.choice(6, size=m, p=_CLASS_WEIGHTS / _CLASS_WEIGHTS.sum())
    region_cls[0] = index % 6  # every class shows up within any 6 consecutive tiles
    ids = region_cls[region].astype(np.uint8)
    if index % 5 == 3:  # rare Unknown: a small no-data blob, as in the real data
        r = rng.uniform(0.05, 0.1) * size
        cy, cx = rng.uniform(r, size - r, 2)
        yy, xx = np.mgrid[0:size, 0:size]
        ids[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = UNKNOWN
    img = np.zeros((size, size, 3), np.float32)
    for c in np.unique(ids):
        sel = ids == c
        img[sel] = _texture(int(c), rng, size, region, m)[sel]
    img = cv2.GaussianBlur(img, (3, 3), 0.6)  # sensor blur softens the region borders
    img += rng.normal(0, 3, img.shape).astype(np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), ids


def validation_ids(n: int, val_fraction: float) -> list[int]:
    """Which of ``0..n-1`` go to validation: the snapshot ids that exist, then evenly spaced ids.

    With the defaults (n=40, 0.25) this is every 4th id from 2, so 0010 is in validation.
    """
    if n < 1:
        return []
    k = round(n * val_fraction)
    if val_fraction > 0:
        k = max(k, 1)
    k = min(k, n - 1) if n > 1 else 0
    chosen = [i for i in SNAPSHOT_IDS if i < n][:k]
    for j in range(k):
        if len(chosen) == k:
            break
        i = int((j + 0.5) * n / k)
        if i not in chosen:
            chosen.append(i)
    return sorted(chosen)


def generate_landcover(
    out_dir: str | os.PathLike,
    n: int = 40,
    size: int = 256,
    seed: int = 0,
    val_fraction: float = 0.25,
    progress: Callable[[int], Any] | None = None,
) -> Path:
    """Write ``n`` tiles in the course layout (``train/`` and ``validation/``), manifest last.

    The manifest (``synthetic_landcover.json``, the generator parameters) is written only
    after every tile, so its presence means the folder is complete. ``progress(1)`` is
    called after each tile (e.g. ``tqdm.update``).
    """
    _check_params(n, size, seed, val_fraction)
    out = Path(out_dir)
    val = set(validation_ids(n, val_fraction))
    for split in ("train", "validation"):
        (out / split).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img, ids = render_tile(seed, i, size)
        folder = out / ("validation" if i in val else "train")
        ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
        if not ok:  # pragma: no cover - OpenCV without a JPEG codec
            raise DataError(f"{folder}: OpenCV could not encode a JPEG")
        with writing(folder / f"{i:04d}_sat.jpg"):
            (folder / f"{i:04d}_sat.jpg").write_bytes(jpg.tobytes())
        with writing(folder / f"{i:04d}_mask.png"):
            write_mask(folder / f"{i:04d}_mask.png", ids)
        if progress is not None:
            progress(1)
    (out / MANIFEST).write_text(json.dumps(_manifest(n, size, seed, val_fraction), indent=2) + "\n")
    return out


def _manifest(n: int, size: int, seed: int, val_fraction: float) -> dict[str, Any]:
    return {"generator": "synthetic_landcover", "version": GENERATOR_VERSION,
            "n": n, "size": size, "seed": seed, "val_fraction": val_fraction}


def _check_params(n: Any, size: Any, seed: Any, val_fraction: Any) -> None:
    def is_int(v: Any) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    if not is_int(n) or n < 1:
        raise RecipeError(f"data.args.n: expected a positive integer (number of tiles), got {n!r}")
    if not is_int(size) or not 16 <= size <= 8192:  # a tile is held in memory whole
        raise RecipeError(f"data.args.size: expected an integer from 16 to 8192 (tile side in pixels), got {size!r}")
    if not is_int(seed) or seed < 0:
        raise RecipeError(f"data.args.seed: expected a non-negative integer, got {seed!r}")
    if not isinstance(val_fraction, (int, float)) or not 0 <= val_fraction < 1:
        raise RecipeError(f"data.args.val_fraction: expected a number in [0, 1), got {val_fraction!r}")


def _read_manifest(root: Path) -> dict[str, Any] | None:
    try:
        return json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def ensure_landcover(
    root: str | os.PathLike,
    n: int = 40,
    size: int = 256,
    seed: int = 0,
    val_fraction: float = 0.25,
    progress: Callable[[int], Any] | None = None,
) -> bool:
    """Make ``root`` hold the set for these parameters; True if it was generated now.

    A complete set with the same manifest is reused. The set is generated in a temporary
    sibling folder and renamed into place, so an interrupted run or a concurrent reader
    never sees half a set. A set generated with other parameters is replaced; a non-empty
    folder without a manifest is someone else's data and is left alone (DataError).
    """
    _check_params(n, size, seed, val_fraction)
    root = Path(root)
    want = _manifest(n, size, seed, val_fraction)
    have = _read_manifest(root)
    if have == want:
        return False
    if root.exists():
        if not root.is_dir():
            raise DataError(f"synthetic_landcover: root {root} is a file, expected a folder to generate into")
        if have is None and any(root.iterdir()):
            raise DataError(
                f"synthetic_landcover: {root} is not empty and holds no {MANIFEST}; refusing to write into "
                "it (choose an empty or new folder for the generated set)"
            )
    try:
        root.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"{root}: cannot create its folder {root.parent} ({e.strerror or e})") from None
    # about a JPEG and a PNG per tile: room for it, before any tile is drawn
    check_writable(root.parent, str(root), need=n * size * size + (1 << 20))
    with staged_folder(root) as tmp:
        try:
            generate_landcover(tmp, n, size, seed, val_fraction, progress)
        except OSError as e:  # name the file of the set, not of its temporary folder
            if e.filename is None:
                raise
            raise OSError(e.errno, e.strerror or str(e), str(e.filename).replace(str(tmp), str(root), 1)) from None
        if _read_manifest(root) == want:  # another process finished the same set meanwhile
            return False
        _check_only_generated(root, {p.name for p in tmp.iterdir()})
        # a concurrent generator that won the race leaves the same set in place
        put_in_place(tmp, root, taken=lambda: _read_manifest(root) == want)
    return True


def _check_only_generated(root: Path, generated: set[str]) -> None:
    """A set generated with other parameters is replaced whole, so it may hold nothing else:
    a run's folder, a user's notes, anything the generator did not write there is refused
    (DataError naming it), never deleted with the old set."""
    if not root.is_dir():
        return
    foreign = sorted(p.name for p in root.iterdir() if p.name not in generated)
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise DataError(f"synthetic_landcover: {root} holds a set generated with other parameters and also "
                        f"{shown}, which replacing the set would delete; move those out, or generate into "
                        "another folder")


@DATASETS.register("synthetic_landcover")
class SyntheticLandcover(DlcvSat):
    """Generated land-cover tiles (``n``, ``size``, ``seed``, ``val_fraction``) read as ``dlcv_sat``.

    The set is generated into ``root`` on first use (see ``ensure_landcover``); any other
    keyword is a ``dlcv_sat`` option (``ignore_index``, ``check``, ...).
    """

    def __init__(
        self,
        root: str | os.PathLike | None,
        split: str | None = "train",
        transforms: Callable[..., Any] | None = None,
        *,
        n: int = 40,
        size: int = 256,
        seed: int = 0,
        val_fraction: float = 0.25,
        **options: Any,
    ) -> None:
        if root is None:
            raise DataError("synthetic_landcover: no root folder given (set data.root to a folder to generate into)")
        ensure_landcover(root, n=n, size=size, seed=seed, val_fraction=val_fraction)
        super().__init__(root, split, transforms, **options)
