"""The one colour <-> class id mapping for land-cover masks.

Decoding follows the course's evaluation exactly: each channel is thresholded at 128 and
the three bits form a code ``4*R + 2*G + B``. A lookup table on that code does the whole
mask at once. Codes that are not one of the 7 class colours (red, ``4``, occurs in the
real data) are never mapped silently: the caller chooses to warn, fail or ignore them.
Masks are written as palette PNGs, which read back as the same RGB colours in any reader
that expands palettes (PIL, imageio, OpenCV), so the course's scripts score them as is.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from ignite_zoo.registry.errors import DataError

CLASSES: tuple[str, ...] = ("Urban", "Agriculture", "Rangeland", "Forest", "Water", "Barren", "Unknown")
#: RGB colour of each class id, in the order of ``CLASSES``.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (0, 255, 255),    # Urban: cyan
    (255, 255, 0),    # Agriculture: yellow
    (255, 0, 255),    # Rangeland: purple
    (0, 255, 0),      # Forest: green
    (0, 0, 255),      # Water: blue
    (255, 255, 255),  # Barren: white
    (0, 0, 0),        # Unknown: black
)
UNKNOWN = 6
NUM_CLASSES = len(CLASSES)
_PALETTE_ARRAY = np.array(PALETTE, dtype=np.uint8)

Foreign = Literal["unknown", "error", "ignore"]
FOREIGN_CHOICES = ("unknown", "error", "ignore")


class ForeignColourWarning(UserWarning):
    """A mask holds pixels of a colour that is none of the 7 classes (mapped to Unknown)."""


def _code_of(rgb: tuple[int, int, int]) -> int:
    r, g, b = (int(v >= 128) for v in rgb)
    return 4 * r + 2 * g + b


#: class id of each 3-bit code, -1 where the code is no class
_CODE_TO_ID = np.full(8, -1, dtype=np.int64)
for _cid, _rgb in enumerate(PALETTE):
    _CODE_TO_ID[_code_of(_rgb)] = _cid
FOREIGN_CODES: tuple[int, ...] = tuple(int(c) for c in np.flatnonzero(_CODE_TO_ID < 0))
_CODE_COLOUR = {c: (255 * (c >> 2 & 1), 255 * (c >> 1 & 1), 255 * (c & 1)) for c in range(8)}
_COLOUR_NAMES = {(255, 0, 0): "red"}


def _colour_name(code: int) -> str:
    rgb = _CODE_COLOUR[code]
    name = _COLOUR_NAMES.get(rgb)
    return f"{name} {rgb}" if name else str(rgb)


def _check_foreign(foreign: str) -> None:
    if foreign not in FOREIGN_CHOICES:
        raise DataError(f"foreign={foreign!r}: expected one of {', '.join(map(repr, FOREIGN_CHOICES))}")


def mask_codes(image: np.ndarray, *, bgr: bool = False) -> np.ndarray:
    """The 3-bit colour code (``4*R + 2*G + B`` after thresholding at 128) of every pixel.

    ``bgr=True`` takes OpenCV's channel order, which saves a channel swap on masks read
    with ``cv2.imread``. A 2-D (grey) mask is treated as R = G = B. ``uint8`` only, because
    the threshold is defined on 8-bit values.
    """
    a = np.asarray(image)
    if a.dtype != np.uint8:
        raise DataError(f"a colour mask must be uint8 (0-255), got dtype {a.dtype}")
    if a.ndim == 2:
        return (a >> 7) * np.uint8(7)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise DataError(f"a colour mask must be [H, W, 3] (or [H, W]), got shape {a.shape}")
    bits = cv2.threshold(np.ascontiguousarray(a[..., :3]), 127, 1, cv2.THRESH_BINARY)[1]
    return cv2.transform(bits, _BGR_WEIGHTS if bgr else _RGB_WEIGHTS)


_RGB_WEIGHTS = np.array([[4, 2, 1]], dtype=np.float32)
_BGR_WEIGHTS = np.array([[1, 2, 4]], dtype=np.float32)


def _code_counts(code: np.ndarray) -> np.ndarray:
    """Pixels per code 0..7 (OpenCV's histogram is several times faster than bincount)."""
    if code.size < 2**24:  # float32 counts are exact below 2**24
        return cv2.calcHist([code], [0], None, [8], [0, 8]).ravel().astype(np.int64)
    return np.bincount(code.ravel(), minlength=8)


def codes_to_ids(
    code: np.ndarray,
    *,
    source: str | os.PathLike | None = None,
    foreign: Foreign = "unknown",
    ignore_index: int = 255,
    dtype: np.dtype | type = np.int64,
    warned: set[str] | None = None,
) -> np.ndarray:
    """Map 3-bit codes to class ids, handling codes with no class as ``foreign`` says.

    ``warned``: a set of sources already warned about; with it, each source warns once
    (a dataset passes its own set so that a file read every epoch warns only the first time).
    """
    _check_foreign(foreign)
    lut = _CODE_TO_ID.astype(dtype)
    counts = _code_counts(code)
    bad = {c: int(counts[c]) for c in FOREIGN_CODES if counts[c]}
    if bad:
        where = str(source) if source is not None else "mask array"
        what = ", ".join(f"{n} {_colour_name(c)} pixel{'s' * (n != 1)}" for c, n in bad.items())
        if foreign == "error":
            raise DataError(
                f"{where}: {what} of a colour that is no class (expected only the 7 class colours "
                f"{', '.join(f'{n} {c}' for n, c in zip(CLASSES, PALETTE))})"
            )
        fill = UNKNOWN if foreign == "unknown" else ignore_index
        for c in bad:
            lut[c] = fill
        if foreign == "unknown" and (warned is None or where not in warned):
            if warned is not None:
                warned.add(where)
            warnings.warn(
                f"{where}: {what} of a colour that is no class, counted as Unknown "
                "(use foreign='error' / strict: true to fail, foreign='ignore' to exclude them)",
                ForeignColourWarning,
                stacklevel=3,
            )
    if np.dtype(dtype) == np.uint8:
        return cv2.LUT(code, np.resize(lut, 256))  # entries past 7 are never looked up
    return lut[code]


def decode_mask(
    rgb: np.ndarray,
    *,
    source: str | os.PathLike | None = None,
    foreign: Foreign = "unknown",
    ignore_index: int = 255,
    warned: set[str] | None = None,
) -> np.ndarray:
    """RGB uint8 ``[H, W, 3]`` colour mask -> int64 ``[H, W]`` class ids (course rule)."""
    return codes_to_ids(mask_codes(rgb), source=source, foreign=foreign, ignore_index=ignore_index, warned=warned)


def encode_mask(ids: np.ndarray) -> np.ndarray:
    """Class ids ``[H, W]`` -> RGB uint8 ``[H, W, 3]``; ids outside 0-6 (ignore) become Unknown."""
    ids = np.asarray(ids)
    if ids.ndim != 2:
        raise ValueError(f"class ids must be [H, W], got shape {ids.shape}")
    return _PALETTE_ARRAY[_safe_ids(ids)]


#: an encoded mask is also what figures show
colorize = encode_mask


def _safe_ids(ids: np.ndarray) -> np.ndarray:
    """ids as uint8 with everything outside 0..6 set to Unknown."""
    out = ids.astype(np.uint8, copy=True) if ids.dtype != np.uint8 else ids.copy()
    out[(ids < 0) | (ids >= NUM_CLASSES)] = UNKNOWN
    return out


def write_mask(path: str | os.PathLike, ids: np.ndarray) -> None:
    """Write class ids as a palette PNG with the 7 class colours (no transparency).

    A palette PNG is a third of the size of an RGB one and expands to exactly the class
    colours in every reader, so the course's RGB-thresholding evaluation reads it as is.
    """
    from PIL import Image

    ids = np.asarray(ids)
    if ids.ndim != 2:
        raise ValueError(f"class ids must be [H, W], got shape {ids.shape}")
    img = Image.fromarray(_safe_ids(ids), mode="P")
    img.putpalette([v for rgb in PALETTE for v in rgb])
    img.save(Path(path), format="PNG", optimize=False)


#: the 3-bit code of each class id's colour (a grey class-index mask read as colours)
_ID_TO_CODE = np.array([4 * (r > 127) + 2 * (g > 127) + (b > 127) for r, g, b in PALETTE], dtype=np.uint8)


def read_mask_codes(path: str | os.PathLike) -> np.ndarray:
    """The 3-bit codes of a mask file, decoded with OpenCV (palette, RGB, RGBA and grey PNGs).

    A grey 8-bit mask whose largest value is 1-6 holds class ids, not colours (a grey colour
    mask is black and white: 0 and 255): it is read as those classes (0 Urban ... 6 Unknown)
    instead of thresholding every pixel to black, Unknown. An all-black grey mask stays
    Unknown, as the course's evaluation reads it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: mask file not found")
    data = np.fromfile(str(path), dtype=np.uint8)
    raw = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if raw is None:
        raise DataError(f"{path}: cannot decode the mask (not an image, or a truncated/corrupt file)")
    if raw.ndim == 2 and raw.dtype == np.uint8 and 0 < int(raw.max()) < NUM_CLASSES:
        return cv2.LUT(raw, np.resize(_ID_TO_CODE, 256))  # values past 6 do not occur here
    if raw.dtype != np.uint8:  # 16-bit: the high byte, as IMREAD_COLOR takes it
        raw = (raw >> 8).astype(np.uint8) if raw.dtype == np.uint16 else cv2.imdecode(data, cv2.IMREAD_COLOR)
    if raw.ndim == 3 and raw.shape[2] == 4:
        raw = raw[..., :3]
    return mask_codes(raw, bgr=True)


def read_mask(
    path: str | os.PathLike,
    *,
    foreign: Foreign = "unknown",
    ignore_index: int = 255,
    dtype: np.dtype | type = np.int64,
    warned: set[str] | None = None,
) -> np.ndarray:
    """Class ids ``[H, W]`` of a colour mask file (course rule; see ``decode_mask``)."""
    return codes_to_ids(
        read_mask_codes(path), source=path, foreign=foreign, ignore_index=ignore_index, dtype=dtype, warned=warned
    )
