"""Generated GeoTIFF scenes with exact class rasters: the geospatial demo without downloads.

Each scene is a 4-band uint16 raster (blue, green, red, near infrared, as reflectance x
10,000, Sentinel-2's scaling) in UTM zone 33N (EPSG:32633) at 10 m pixels, with a nodata
(0) wedge along one border as a satellite swath edge leaves, and its class raster (values
1-4, nodata 0). Land-cover regions are a warped Voronoi partition; each class has its own
spectral signature (water dark with no infrared, vegetation bright in the infrared, bare
soil rising towards the red, built-up flat and bright) plus texture and noise, so a small
network separates them within a minute of training. Everything is drawn from
``np.random.default_rng([seed, index])``: same arguments, same pixels.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ignite_zoo.registry.errors import DataError
from ignite_zoo.zoo.data.geo import import_rasterio

MANIFEST = "synthetic_geotiff.json"
CRS = "EPSG:32633"
PIXEL = 10.0  # metres
#: value, name, colour and mean reflectance (blue, green, red, nir) of each class
CLASSES = (
    (1, "water", (30, 90, 200), (0.060, 0.050, 0.030, 0.015)),
    (2, "vegetation", (40, 160, 40), (0.030, 0.065, 0.035, 0.420)),
    (3, "bare soil", (200, 160, 90), (0.090, 0.130, 0.190, 0.250)),
    (4, "built-up", (220, 60, 60), (0.210, 0.205, 0.215, 0.225)),
)
BAND_NAMES = ("blue", "green", "red", "nir")


def _smooth(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    grid = rng.standard_normal((cells + 1, cells + 1)).astype(np.float32)
    f = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    return (f - f.mean()) / (f.std() + 1e-6)


def render_scene(seed: int, index: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """uint16 ``[4, size, size]`` bands and uint8 ``[size, size]`` class values (0 = nodata)."""
    rng = np.random.default_rng([seed, index])
    m = int(rng.integers(10, 18))
    pts = rng.uniform(0, size, (m, 2)).astype(np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    xw = xx + 0.06 * size * _smooth(rng, size, size, 5)
    yw = yy + 0.06 * size * _smooth(rng, size, size, 5)
    best = np.full((size, size), np.inf, np.float32)
    region = np.zeros((size, size), np.int64)
    for k, (px, py) in enumerate(pts):
        d = (xw - px) ** 2 + (yw - py) ** 2
        closer = d < best
        best[closer], region[closer] = d[closer], k
    region_cls = rng.integers(0, len(CLASSES), m)
    region_cls[: len(CLASSES)] = rng.permutation(len(CLASSES))  # every class in every scene
    cls = region_cls[region]
    values = np.array([c[0] for c in CLASSES], np.uint8)[cls]
    means = np.array([c[3] for c in CLASSES], np.float32)[cls]           # [H, W, 4]
    texture = 0.012 * _smooth(rng, size, size, 12)[..., None] + rng.normal(0, 0.006, (size, size, 4))
    refl = np.clip(means + texture.astype(np.float32), 0.001, 1.0)
    bands = np.rint(refl * 10000).astype(np.uint16).transpose(2, 0, 1)
    # nodata wedge: a slanted swath edge on one side
    a, b = rng.uniform(0.08, 0.2) * size, rng.uniform(-0.15, 0.15)
    edge = xx < a + b * yy
    bands[:, edge] = 0
    values[edge] = 0
    return np.ascontiguousarray(bands), values


def write_scene(path: Path, data: np.ndarray, origin: tuple[float, float], nodata: int) -> None:
    """A tiled, deflate-compressed GeoTIFF in ``CRS`` with ``PIXEL`` m pixels from ``origin``."""
    rasterio = import_rasterio()
    from rasterio.transform import from_origin

    data = data if data.ndim == 3 else data[None]
    profile = {"driver": "GTiff", "width": data.shape[2], "height": data.shape[1], "count": data.shape[0],
               "dtype": data.dtype.name, "crs": CRS, "transform": from_origin(*origin, PIXEL, PIXEL),
               "nodata": nodata, "tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate"}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)


def class_file_content() -> dict[str, Any]:
    return {"classes": [{"value": v, "name": n, "colour": list(c)} for v, n, c, _ in CLASSES]}


def make_geotiff_demo(out: str | os.PathLike, n_train: int = 3, n_val: int = 1, size: int = 768,
                      seed: int = 0) -> bool:
    """Write ``train/`` and ``validation/`` (images/ + masks/), ``classes.yaml`` and a manifest.

    Returns False when ``out`` already holds this very set. A non-empty folder without the
    manifest is someone else's: a DataError, nothing is written.
    """
    import yaml

    out = Path(out)
    want = {"generator": "synthetic_geotiff", "version": 1, "n_train": n_train, "n_val": n_val,
            "size": size, "seed": seed}
    try:
        have = json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError):
        have = None
    if have == want:
        return False
    if out.exists() and (not out.is_dir() or (have is None and any(out.iterdir()))):
        raise DataError(f"make-demo-data --geotiff: {out} is not empty and holds no {MANIFEST}; choose a new "
                        "or empty folder")
    if n_train < 1 or n_val < 1 or size < 64:
        raise DataError(f"make-demo-data --geotiff: expected at least 1 train and 1 validation scene of 64 px "
                        f"or more, got {n_train}, {n_val}, {size}")
    for k in range(n_train + n_val):
        split = "train" if k < n_train else "validation"
        bands, values = render_scene(seed, k, size)
        origin = (500000.0 + k * (size + 100) * PIXEL, 5500000.0)  # side by side, 1 km apart
        for sub, data, nodata in (("images", bands, 0), ("masks", values, 0)):
            (out / split / sub).mkdir(parents=True, exist_ok=True)
            write_scene(out / split / sub / f"scene_{k:02d}.tif", data, origin, nodata)
    (out / "classes.yaml").write_text(yaml.safe_dump(class_file_content(), sort_keys=False), encoding="utf-8")
    (out / MANIFEST).write_text(json.dumps(want, indent=2) + "\n", encoding="utf-8")
    return True
