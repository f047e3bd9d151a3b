"""Per-band statistics of a GeoTIFF scene set, and ``model.normalize: {mean: auto, std: auto}``.

ImageNet's mean and std mean nothing for 13 Sentinel-2 bands in reflectance x 10,000, so
a scene set's own statistics are measured once, from a sample of windows (windowed reads,
never a whole scene), and written beside the data as ``band_stats.json``: each band's mean
and std over valid pixels (nodata left out), the pixel count and share of each class, and
the share of nodata. Statistics are kept for every band of the scenes, so any
``data.args.bands`` choice and order can be served from one file; ``resolve_normalize``
picks them out for the model.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from ignite_zoo.registry.errors import DataError, RecipeError

STATS_FILE = "band_stats.json"
GENERATOR = "ignite-zoo stats"


def stats_path(root: str | os.PathLike) -> Path:
    return Path(root) / STATS_FILE


def compute_stats(root: str | os.PathLike, split: str | None = "train", *, classes: Any = None,
                  nodata: float | None = None, windows: int = 64, window: int = 512, seed: int = 0,
                  progress: Callable[[int], Any] | None = None) -> dict[str, Any]:
    """Band mean/std, class pixel shares and nodata share from ``windows`` random windows.

    Windows are drawn as the training split draws them (a scene in proportion to its area,
    a uniform offset); float64 sums, so a sample of millions of uint16 pixels loses nothing.
    """
    from rasterio.windows import Window

    from ignite_zoo.zoo.data.geo import import_rasterio, load_classes, nodata_mask
    from ignite_zoo.zoo.data.geotiff import scene_pairs

    if not isinstance(windows, int) or windows < 1 or not isinstance(window, int) or window < 1:
        raise RecipeError(f"stats: windows {windows!r} and window {window!r}: expected positive integers")
    rasterio = import_rasterio()
    root = Path(root)
    table = load_classes(classes, root)
    scenes = scene_pairs(root, split)
    handles = [(rasterio.open(img), rasterio.open(msk)) for _, img, msk in scenes]
    try:
        counts = {s.count for s, _ in handles}
        if len(counts) > 1:
            raise DataError(f"{root}: scenes have different band counts ({sorted(counts)})")
        c = counts.pop()
        area = np.array([s.width * s.height for s, _ in handles], dtype=np.float64)
        rng = np.random.default_rng(seed)
        total = np.zeros(c)
        total_sq = np.zeros(c)
        valid = 0
        seen = 0
        class_pixels = np.zeros(len(table), dtype=np.int64)
        for _ in range(windows):
            k = int(rng.choice(len(handles), p=area / area.sum()))
            src, msk = handles[k]
            h, w = min(window, src.height), min(window, src.width)
            y = int(rng.integers(0, src.height - h + 1))
            x = int(rng.integers(0, src.width - w + 1))
            px = src.read(window=Window(x, y, w, h)).astype(np.float64)
            nd = src.nodata if nodata is None else nodata
            bad = nodata_mask(px, nd)
            values = msk.read(1, window=Window(x, y, w, h))
            good = px[:, ~bad]
            total += good.sum(1)
            total_sq += (good * good).sum(1)
            valid += good.shape[1]
            seen += h * w
            ids = table.ids(values[~bad], len(table), np.int64)
            class_pixels += np.bincount(ids, minlength=len(table) + 1)[: len(table)]
            if progress is not None:
                progress(1)
    finally:
        for s, m in handles:
            s.close()
            m.close()
    if valid == 0:
        raise DataError(f"{root}: the {windows} sampled windows hold nodata only; sample more windows (--windows)")
    mean = total / valid
    std = np.sqrt(np.maximum(total_sq / valid - mean * mean, 0.0))
    labelled = max(int(class_pixels.sum()), 1)
    return {
        "generator": GENERATOR, "version": 1, "split": split, "band_count": c,
        "mean": [round(float(v), 6) for v in mean], "std": [round(float(v), 6) for v in std],
        "class_pixels": {n: int(p) for n, p in zip(table.names, class_pixels)},
        "class_frequency": {n: round(float(p) / labelled, 6) for n, p in zip(table.names, class_pixels)},
        "nodata_share": round(1.0 - valid / seen, 6), "windows": windows, "window": window, "seed": seed,
        "pixels_sampled": int(seen), "scenes": [n for n, _, _ in scenes],
    }


def write_stats(root: str | os.PathLike, stats: Mapping[str, Any], overwrite: bool = False) -> Path:
    """``root/band_stats.json``; an existing file this tool did not write is replaced only with ``overwrite``."""
    path = stats_path(root)
    if path.exists() and not overwrite:
        try:
            ours = json.loads(path.read_text(encoding="utf-8")).get("generator") == GENERATOR
        except (OSError, ValueError, AttributeError):
            ours = False
        if not ours:
            raise DataError(f"{path}: exists and was not written by `ignite-zoo stats`; pass --overwrite to replace it")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(dict(stats), indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_stats(root: str | os.PathLike) -> dict[str, Any] | None:
    path = stats_path(root)
    if not path.is_file():
        return None
    try:
        stats = json.loads(path.read_text(encoding="utf-8"))
        assert isinstance(stats.get("mean"), list) and isinstance(stats.get("std"), list)
    except (OSError, ValueError, AssertionError, AttributeError):
        raise DataError(f"{path}: not a statistics file of `ignite-zoo stats` (expected JSON with mean and std lists); "
                        "run `ignite-zoo stats` again") from None
    return stats


def _root_and_bands(dataset_or_root: Any) -> tuple[Path | None, list[int] | None]:
    if isinstance(dataset_or_root, (str, os.PathLike)):
        return Path(dataset_or_root), None
    if isinstance(dataset_or_root, Mapping):  # a recipe's data section
        root = dataset_or_root.get("root")
        return (Path(root) if root else None), (dataset_or_root.get("args") or {}).get("bands")
    root = getattr(dataset_or_root, "root", None)
    return (Path(root) if root is not None else None), getattr(dataset_or_root, "bands", None)


def resolve_normalize(normalize_cfg: Mapping[str, Any] | None, dataset_or_root: Any) -> dict[str, Any] | None:
    """``model.normalize`` with ``auto`` mean/std replaced by the data's measured statistics.

    ``dataset_or_root``: a GeoTiff dataset, a recipe's ``data`` section or the data folder.
    ``auto`` values are raw band values, so ``max_pixel_value`` is 1.0. Nothing ``auto``:
    the section comes back unchanged. A missing statistics file is a RecipeError naming
    the command that writes it.
    """
    if normalize_cfg is None:
        return None
    cfg = dict(normalize_cfg)
    auto = [k for k in ("mean", "std") if cfg.get(k) == "auto"]
    if not auto:
        return cfg
    root, bands = _root_and_bands(dataset_or_root)
    if root is None:
        raise RecipeError(f"model.normalize.{auto[0]}: 'auto' needs data.root (the statistics file lies beside the data)")
    stats = read_stats(root)
    if stats is None:
        raise RecipeError(f"model.normalize.{auto[0]}: 'auto' but {stats_path(root)} does not exist; write it with "
                          f"`ignite-zoo stats RECIPE data.root={root}` (or `ignite-zoo stats --root {root}`)")
    n = int(stats.get("band_count", len(stats["mean"])))
    chosen = list(bands) if bands else list(range(1, n + 1))
    if max(chosen) > n:
        raise RecipeError(f"data.args.bands: band {max(chosen)} but {stats_path(root)} describes {n} bands; "
                          "run `ignite-zoo stats` again for these scenes")
    for key in auto:
        cfg[key] = [float(stats[key][b - 1]) for b in chosen]
    cfg["max_pixel_value"] = 1.0
    return cfg
