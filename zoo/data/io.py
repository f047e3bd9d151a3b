"""Reading images: one OpenCV helper that returns RGB and fails loudly on a bad file.

OpenCV decodes JPEG and PNG faster than PIL and its BGR order is swapped to RGB here,
once, so no other code has to remember it. Older OpenCV versions decode a truncated JPEG
into a grey-padded image with only a log line; the end-of-image marker check catches that.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from registry.errors import DataError

_JPEG_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".jfif"}


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
