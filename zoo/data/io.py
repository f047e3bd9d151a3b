"""Reading images: one OpenCV helper that returns RGB and fails loudly on a bad file.

OpenCV decodes JPEG and PNG faster than PIL and its BGR order is swapped to RGB here,
once, so no other code has to remember it. Older OpenCV versions decode a truncated JPEG
into a grey-padded image with only a log line; the end-of-image marker check catches that.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ignite_zoo.registry.errors import DataError, RecipeError

#: what a dataset validates when it is built: image headers (default), full decodes, or nothing
CHECKS = ("header", "full", "none")
_JPEG_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".jfif"}


def scan_files(folder: str | os.PathLike) -> list[os.DirEntry]:
    """The regular files of ``folder`` (links to files included), as ``os.scandir`` entries.

    A symbolic link whose target is missing, or that loops back on itself, is an error
    naming it (never skipped silently, never an OSError traceback): a data folder's link
    that leads nowhere is a missing image or mask. Hidden entries are left alone.
    """
    out: list[os.DirEntry] = []
    for entry in os.scandir(folder):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():
            try:
                os.stat(entry.path)
            except OSError as e:
                why = "loops back on itself" if e.errno == 40 else "leads to a missing file"  # 40: ELOOP
                raise DataError(f"{entry.path}: a symbolic link that {why}; remove or fix it") from None
        if entry.is_file():
            out.append(entry)
    return out


def _jpeg_complete(data: np.ndarray) -> bool:
    """True when the JPEG ends with its end-of-image marker (allowing a short trailer)."""
    tail = data[-64:].tobytes()
    if b"\xff\xd9" in tail:
        return True
    # a long trailer after EOI is legal but rare: let PIL decide, it refuses truncated files
    from PIL import Image

    try:
        import io

        with Image.open(io.BytesIO(data.tobytes())) as im:
            im.load()
    except Exception:
        return False
    return True


def read_image(path: str | os.PathLike) -> np.ndarray:
    """RGB uint8 ``[H, W, 3]`` of an image file; a missing, corrupt or truncated file is a DataError."""
    import cv2

    path = Path(path)
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except FileNotFoundError:
        raise DataError(f"{path}: image file not found") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read the image file ({e})") from None
    if data.size == 0:
        raise DataError(f"{path}: image file is empty (0 bytes)")
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise DataError(f"{path}: cannot decode the image (not an image, or a truncated/corrupt file)")
    if path.suffix.lower() in _JPEG_SUFFIXES and not _jpeg_complete(data):
        raise DataError(f"{path}: truncated JPEG (no end-of-image marker); re-copy or re-download the file")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` from the file header only (PIL does not decode on open)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as im:
            return im.size
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except UnidentifiedImageError:
        raise DataError(f"{path}: not a readable image (unknown or corrupt header)") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read the image header ({e})") from None


def check_option(check: str) -> str:
    """``check`` if it is one of ``CHECKS``; a RecipeError naming ``data.args.check`` otherwise."""
    if check not in CHECKS:
        raise RecipeError(f"data.args.check: expected one of {', '.join(map(repr, CHECKS))}, got {check!r}")
    return check


def check_same_size(paths: Sequence[str | os.PathLike], where: str) -> tuple[int, int] | None:
    """The one ``(width, height)`` of all ``paths``, from headers only; a DataError naming two
    files of different sizes otherwise (they cannot be stacked into one batch)."""
    first: tuple[Path, tuple[int, int]] | None = None
    for p in paths:
        size = image_size(p)
        if first is None:
            first = (Path(p), size)
        elif size != first[1]:
            (w0, h0), (w1, h1) = first[1], size
            raise DataError(
                f"{where}: images differ in size, so they cannot be batched: {first[0].name} is {w0}x{h0} "
                f"but {Path(p).name} is {w1}x{h1} (WxH); resize them, add a crop/resize transform, "
                "or use batch size 1"
            )
    return first[1] if first else None
