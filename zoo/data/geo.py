"""What every GeoTIFF module shares: the rasterio import, the class table, band choice, window grids.

rasterio is an optional dependency (the ``geo`` extra): it is imported here, when a
GeoTIFF is first touched, and its absence is one error that names the extra. A class
table maps the values a mask raster holds (any integers: 1, 2, 3 or ESA WorldCover's 10,
20, ...) to the contiguous class ids a network predicts, with a name and colour each; it
comes from the recipe (``data.args.classes``) or from ``classes.yaml`` / ``classes.json``
beside the data, so a scene set carries its legend with it.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ignite_zoo.registry.errors import DataError, RecipeError

#: files beside the data (in ``data.root``) that hold the class table, searched in this order
CLASS_FILES = ("classes.yaml", "classes.yml", "classes.json")
TIFF_SUFFIXES = (".tif", ".tiff")
RGB = tuple[int, int, int]


def import_rasterio() -> Any:
    """The ``rasterio`` module; a DataError naming the ``geo`` extra when it is not installed."""
    try:
        import rasterio
        import rasterio.windows  # noqa: F401
    except ImportError as e:
        raise DataError(f"GeoTIFF support needs rasterio, which is not installed ({e}); "
                        "install it with: pip install 'ignite-zoo[geo]'") from None
    return rasterio


def is_geotiff(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in TIFF_SUFFIXES


def default_colour(i: int) -> RGB:
    """A distinct colour for class ``i`` when the table gives none (tab10's first colours)."""
    tab = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
    if i < len(tab):
        return tab[i]
    rng = np.random.default_rng(i)
    return tuple(int(v) for v in rng.integers(0, 256, 3))  # type: ignore[return-value]


@dataclass(frozen=True)
class ClassTable:
    """Raster value, name and colour of each class; class id ``i`` is the ``i``-th entry."""

    values: tuple[int, ...]
    names: tuple[str, ...]
    colours: tuple[RGB, ...]
    source: str = "data.args.classes"

    def __len__(self) -> int:
        return len(self.values)

    def lut(self, ignore_index: int, dtype: Any = np.uint8) -> tuple[np.ndarray, int]:
        """(lookup table value -> id with ``ignore_index`` for values that are no class, its offset)
        for integer rasters; index the table with ``values - offset``."""
        lo, hi = min(0, *self.values), max(self.values)
        table = np.full(hi - lo + 1, ignore_index, dtype=dtype)
        for i, v in enumerate(self.values):
            table[v - lo] = i
        return table, lo

    def ids(self, values: np.ndarray, ignore_index: int, dtype: Any = np.uint8) -> np.ndarray:
        """Class ids of a mask raster's values; a value that is no class becomes ``ignore_index``."""
        table, lo = self.lut(ignore_index, dtype)
        v = np.asarray(values)
        if v.dtype.kind == "f":
            v = np.where(np.isfinite(v), v, lo - 1)
        v = v.astype(np.int64) - lo
        inside = (v >= 0) & (v < len(table))
        out = np.full(v.shape, ignore_index, dtype=dtype)
        out[inside] = table[v[inside]]
        return out


def _colour(value: Any, where: str) -> RGB:
    if (isinstance(value, (list, tuple)) and len(value) in (3, 4)
            and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in value)):
        return (int(value[0]), int(value[1]), int(value[2]))
    if isinstance(value, str) and len(value) == 7 and value.startswith("#"):
        try:
            return (int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16))
        except ValueError:
            pass
    raise RecipeError(f"{where}: expected a colour [r, g, b] of 0-255 integers or '#rrggbb', got {value!r}")


def parse_classes(spec: Any, where: str = "data.args.classes") -> ClassTable:
    """A class table from a recipe value or a classes file's content.

    Accepted: ``{value: name}``; ``{value: {name: ..., colour: [r, g, b]}}``; a list of
    ``{value: ..., name: ..., colour: ...}``; or a list of names (values 0, 1, ...). A
    mapping may sit under a top-level ``classes:`` key (the file form). Classes are ordered
    by value, so the ids do not depend on how the table was written.
    """
    if isinstance(spec, Mapping) and set(spec) == {"classes"}:
        spec = spec["classes"]
    entries: list[tuple[int, str, Any]] = []
    if isinstance(spec, Mapping):
        for key, val in spec.items():
            name, colour = (val.get("name"), val.get("colour", val.get("color"))) if isinstance(val, Mapping) \
                else (val, None)
            entries.append((key, name, colour))
    elif isinstance(spec, (list, tuple)) and spec:
        for i, item in enumerate(spec):
            if isinstance(item, str):
                entries.append((i, item, None))
            elif isinstance(item, Mapping) and "value" in item:
                entries.append((item["value"], item.get("name"), item.get("colour", item.get("color"))))
            else:
                raise RecipeError(f"{where}[{i}]: expected a name or {{value: 1, name: water, colour: "
                                  f"[0, 0, 255]}}, got {item!r}")
    else:
        raise RecipeError(f"{where}: expected {{value: name}} or a list of {{value, name, colour}}, got {spec!r}")
    values: list[int] = []
    for key, name, _ in entries:
        try:
            v = int(key)
        except (TypeError, ValueError):
            v = None
        if v is None or isinstance(key, bool) or (isinstance(key, float) and not key.is_integer()):
            raise RecipeError(f"{where}: class value {key!r} is not an integer (the value the mask raster holds)")
        if not isinstance(name, str) or not name:
            raise RecipeError(f"{where}: class {v} has no name (got {name!r})")
        values.append(v)
    if len(set(values)) != len(values):
        raise RecipeError(f"{where}: a class value is listed twice ({sorted(values)})")
    order = sorted(range(len(entries)), key=lambda i: values[i])
    colours = tuple(_colour(entries[i][2], f"{where}: class {values[i]} colour") if entries[i][2] is not None
                    else default_colour(k) for k, i in enumerate(order))
    return ClassTable(tuple(values[i] for i in order), tuple(entries[i][1] for i in order), colours, where)


def find_class_file(root: str | os.PathLike | None) -> Path | None:
    if root is None:
        return None
    for name in CLASS_FILES:
        if (Path(root) / name).is_file():
            return Path(root) / name
    return None


def load_classes(spec: Any, root: str | os.PathLike | None) -> ClassTable:
    """The class table of the recipe (``spec``: a table, or a file path) or of the file beside the data."""
    if isinstance(spec, (str, os.PathLike)):
        path = Path(spec)
        if not path.is_absolute() and root is not None and not path.exists():
            path = Path(root) / path
        return read_class_file(path)
    if spec is not None:
        return parse_classes(spec)
    path = find_class_file(root)
    if path is None:
        raise DataError(f"geotiff: no classes in the recipe (data.args.classes) and no {' / '.join(CLASS_FILES)} "
                        f"in data.root {root}; give the table value -> name (and colour) in one of them")
    return read_class_file(path)


def read_class_file(path: Path) -> ClassTable:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise DataError(f"{path}: cannot read the classes file ({e.strerror or e})") from None
    try:
        if path.suffix.lower() == ".json":
            content = json.loads(text)
        else:
            import yaml

            content = yaml.safe_load(text)
    except ValueError as e:
        raise DataError(f"{path}: not a valid classes file ({str(e).splitlines()[0]})") from None
    except Exception as e:  # yaml.YAMLError
        raise DataError(f"{path}: not a valid classes file ({str(e).splitlines()[0]})") from None
    return parse_classes(content, where=str(path))


def check_bands(bands: Any, count: int | None = None, where: str = "data.args.bands") -> list[int] | None:
    """1-based band indices (rasterio's), or None for all bands; checked against ``count``."""
    if bands is None:
        return None
    if (not isinstance(bands, (list, tuple)) or not bands
            or any(not isinstance(b, int) or isinstance(b, bool) or b < 1 for b in bands)):
        raise RecipeError(f"{where}: expected a list of band numbers counted from 1 (e.g. [4, 3, 2, 8]), got {bands!r}")
    if count is not None and max(bands) > count:
        raise DataError(f"{where}: band {max(bands)} asked for, but the scene has {count} bands")
    return [int(b) for b in bands]


def grid_starts(size: int, tile: int, stride: int) -> list[int]:
    """Window offsets along one axis every ``stride``, the last one ending at ``size`` (a window
    never hangs over the edge unless the scene is smaller than it)."""
    if size <= tile:
        return [0]
    n = math.ceil((size - tile) / stride) + 1
    return sorted({min(i * stride, size - tile) for i in range(n)})


def nodata_mask(pixels: np.ndarray, nodata: float | None) -> np.ndarray:
    """``[H, W]`` True where any band of ``pixels`` ``[C, H, W]`` is nodata (or NaN)."""
    bad = np.zeros(pixels.shape[1:], dtype=bool)
    if pixels.dtype.kind == "f":
        bad |= np.isnan(pixels).any(0)
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        bad |= (pixels == nodata).any(0)
    return bad


def as_sequence(x: Any) -> Sequence[Any]:
    return x if isinstance(x, (list, tuple)) else [x]
