"""Georeferenced prediction: a GeoTIFF scene in, a class raster on the same map grid out.

A prediction is useful to a GIS user only if it lands back on the map, so the output has
the source's CRS, geotransform and size exactly, a colour table from the classes, and
nodata where the source has none. Scenes of 20,000-30,000 pixels a side neither fit in
memory as logits (K floats a pixel) nor need to: the scene is cut into column *panels*
(``panel`` pixels wide, whole output blocks), and each panel is swept top to bottom one
row of windows at a time. Logits of overlapping windows are blended with the weights of
``sliding_window.window_weights``; once a row of windows is done, every output row above
the next row of windows is final, and those rows are written (whole blocks of the tiled,
compressed output, so GDAL never re-reads or re-compresses a block). Only one panel strip
of logits, ``K x (tile + block) x (panel + tile)`` floats, is held at any time, whatever
the scene's size; the windows at a panel's edge are predicted again for the next panel
(about ``tile / panel`` more work) instead of holding a column of logits the scene's height.

``step(x) -> float32 logits [N, K, h, w]`` takes float32 ``[N, C, h, w]`` RAW band values
(the model normalises); nodata pixels are given ``nodata_fill``, and windows that hold
nothing but nodata are not predicted at all.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ignite_zoo.engines.inference.sliding_window import BLENDS, window_weights
from ignite_zoo.registry.errors import DataError, RecipeError, RunError
from ignite_zoo.zoo.data.geo import check_bands, grid_starts, import_rasterio, nodata_mask

StepFn = Callable[[torch.Tensor], torch.Tensor]
BLOCK = 256          # output block side (pixels) and the row granularity of writes
GDAL_CACHE_MB = 64   # GDAL's block cache for this prediction: bounded, not 5 % of the machine's memory


@dataclass
class ScenePrediction:
    out_path: Path
    probabilities_path: Path | None
    height: int
    width: int
    windows: int        # window predictions run (edge windows of panels counted twice)
    skipped: int        # windows of nodata only, not predicted
    seconds: float


def output_nodata(values: Sequence[int], source_nodata: float | None, top: int) -> int:
    """The source's nodata value when it fits the output type and is no class value, else
    255 (65535) or the largest free value."""
    if source_nodata is not None and float(source_nodata).is_integer() and 0 <= source_nodata <= top \
            and int(source_nodata) not in values:
        return int(source_nodata)
    free = [v for v in range(top, -1, -1) if v not in set(values)]
    return free[0]


def probabilities_path(out_path: str | os.PathLike) -> Path:
    out_path = Path(out_path)
    return out_path.with_name(f"{out_path.stem}_probabilities{out_path.suffix}")


def _profile(src: object, count: int, dtype: str, nodata: int | None, height: int, width: int) -> dict:
    profile = {"driver": "GTiff", "width": width, "height": height, "count": count, "dtype": dtype,
               "crs": src.crs, "transform": src.transform, "nodata": nodata, "compress": "deflate"}
    if width >= BLOCK and height >= BLOCK:
        profile.update(tiled=True, blockxsize=BLOCK, blockysize=BLOCK)
    return profile


def predict_scene(step: StepFn, src_path: str | os.PathLike, out_path: str | os.PathLike, *, tile: int = 512,
                  overlap: int = 128, classes: Sequence[str], colours: Sequence[Sequence[int]],
                  bands: Sequence[int] | None = None, nodata: float | None = None, probabilities: bool = False,
                  progress: bool = True, values: Sequence[int] | None = None, batch_tiles: int = 4,
                  blend: str = "gaussian", panel: int = 4096, nodata_fill: float = 0.0) -> ScenePrediction:
    """Predict ``src_path`` window by window into the class raster ``out_path`` (module doc).

    ``classes``/``colours``: name and RGB of each class id; ``values``: the raster value
    written for each id (default the ids; a dataset's own codes, e.g. 10, 20, ...);
    ``bands``: 1-based source bands in the model's order (default all); ``nodata``: the
    source's nodata value (default the file's). ``probabilities`` also writes
    ``<out>_probabilities.tif``: one uint8 band per class, softmax scores x 255.
    """
    from tqdm import tqdm

    rasterio = import_rasterio()
    from rasterio.windows import Window

    k = len(classes)
    values = list(range(k)) if values is None else [int(v) for v in values]
    if len(values) != k or len(colours) != k:
        raise RecipeError(f"predict_scene: {k} classes but {len(values)} values and {len(colours)} colours")
    if tile < 1 or not 0 <= overlap < tile:
        raise RecipeError(f"tile {tile} / overlap {overlap}: expected a positive tile and 0 <= overlap < tile")
    if blend not in BLENDS or batch_tiles < 1:
        raise RecipeError(f"blend {blend!r} / batch_tiles {batch_tiles}: expected one of {BLENDS} and >= 1")
    panel = max(BLOCK, panel // BLOCK * BLOCK)
    start = time.perf_counter()
    src_path, out_path = Path(src_path), Path(out_path)
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), rasterio.open(src_path) as src:
        height, width = src.height, src.width
        band_idx = check_bands(list(bands) if bands is not None else None, src.count, "bands") \
            or list(range(1, src.count + 1))
        nd = src.nodata if nodata is None else nodata
        top = 255 if max(values) < 255 else 65535
        dtype = "uint8" if top == 255 else "uint16"
        out_nd = output_nodata(values, nd, top)
        lut = np.array(values, dtype=dtype)
        th, tw = min(tile, height), min(tile, width)
        ys = grid_starts(height, th, max(1, th - overlap))
        xs = grid_starts(width, tw, max(1, tw - overlap))
        weights = window_weights(th, tw, blend)
        panels = [(c, min(c + panel, width)) for c in range(0, width, panel)]
        cover = [[x for x in xs if x < c1 and x + tw > c0] for c0, c1 in panels]
        total = len(ys) * sum(len(c) for c in cover)
        prob_path = probabilities_path(out_path) if probabilities else None
        dst = rasterio.open(out_path, "w", **_profile(src, 1, dtype, out_nd, height, width))
        pdst = rasterio.open(prob_path, "w", **_profile(src, k, "uint8", None, height, width)) \
            if prob_path else None
        try:
            dst.write_colormap(1, {**{v: (*map(int, c[:3]), 255) for v, c in zip(values, colours)},
                                   out_nd: (0, 0, 0, 0)})
            if pdst is not None:
                pdst.descriptions = tuple(classes)
            bar = tqdm(total=total, desc=f"{src_path.name} {width}x{height}", unit="win", disable=not progress,
                       dynamic_ncols=True)
            ran = skipped = 0

            def read(y: int, x: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
                px = src.read(band_idx, window=Window(x, y, w, h), out_dtype=np.float32)
                return px, nodata_mask(px, nd)

            for (c0, c1), xcols in zip(panels, cover):
                a, b = xcols[0], xcols[-1] + tw
                acc = torch.zeros(k, 0, b - a)
                norm = torch.zeros(0, b - a)
                row_top = 0   # absolute row of acc's first row: everything above is written
                for i, y in enumerate(ys):
                    grow = y + th - (row_top + acc.shape[1])
                    if grow > 0:
                        acc = torch.cat([acc, torch.zeros(k, grow, b - a)], 1)
                        norm = torch.cat([norm, torch.zeros(grow, b - a)], 0)
                    for j in range(0, len(xcols), batch_tiles):
                        chunk, crops = [], []
                        for x in xcols[j:j + batch_tiles]:
                            px, bad = read(y, x, th, tw)
                            if bad.all():
                                skipped += 1
                                continue
                            px[:, bad] = nodata_fill
                            chunk.append(x)
                            crops.append(torch.from_numpy(px))
                        bar.update(len(xcols[j:j + batch_tiles]))
                        if not chunk:
                            continue
                        logits = step(torch.stack(crops)).float().cpu()
                        if tuple(logits.shape) != (len(chunk), k, th, tw):
                            raise RunError(f"{src_path}: the model gave logits of shape {tuple(logits.shape)} for "
                                           f"{len(chunk)} windows of {th}x{tw}; expected ({len(chunk)}, {k}, {th}, {tw})")
                        ran += len(chunk)
                        for x, p in zip(chunk, logits):
                            r, c = y - row_top, x - a
                            acc[:, r:r + th, c:c + tw].addcmul_(p, weights)
                            norm[r:r + th, c:c + tw] += weights
                    final = ys[i + 1] if i + 1 < len(ys) else height
                    upto = height if final == height else final // BLOCK * BLOCK
                    if upto <= row_top:
                        continue
                    n, lo, hi = upto - row_top, c0 - a, c1 - a
                    part = acc[:, :n, lo:hi]
                    _, bad = read(row_top, c0, n, c1 - c0)
                    win = Window(c0, row_top, c1 - c0, n)
                    ids = lut[part.argmax(0).numpy()]
                    ids[bad] = out_nd
                    dst.write(ids, 1, window=win)
                    if pdst is not None:
                        prob = torch.softmax(part / norm[:n, lo:hi].clamp(min=1e-12), 0).mul_(255).round_()
                        prob = prob.to(torch.uint8).numpy()
                        prob[:, bad] = 0
                        pdst.write(prob, window=win)
                    acc, norm, row_top = acc[:, n:].clone(), norm[n:].clone(), upto
            bar.close()
        finally:
            dst.close()
            if pdst is not None:
                pdst.close()
    return ScenePrediction(out_path, prob_path, height, width, ran, skipped, time.perf_counter() - start)


def scene_windows(height: int, width: int, tile: int, overlap: int) -> int:
    """How many windows a scene of this size is predicted in (without the panels' repeats)."""
    th, tw = min(tile, height), min(tile, width)
    return len(grid_starts(height, th, max(1, th - overlap))) * len(grid_starts(width, tw, max(1, tw - overlap)))


def check_scene(path: str | os.PathLike) -> None:
    """A DataError when ``path`` is no readable raster (before a model is loaded)."""
    rasterio = import_rasterio()
    try:
        with rasterio.open(path):
            pass
    except rasterio.errors.RasterioIOError as e:
        raise DataError(f"{path}: cannot open the scene ({e})") from None


__all__ = ["predict_scene", "ScenePrediction", "probabilities_path", "output_nodata", "scene_windows",
           "check_scene"]
