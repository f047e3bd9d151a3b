"""The data layer: the mask colour codec and image reading (datasets and pipelines follow)."""
from __future__ import annotations

from zoo.data.masks import (
    CLASSES,
    NUM_CLASSES,
    PALETTE,
    UNKNOWN,
    ForeignColourWarning,
    colorize,
    decode_mask,
    encode_mask,
    read_mask,
    write_mask,
)
from zoo.data.io import read_image

__all__ = [
    "CLASSES", "NUM_CLASSES", "PALETTE", "UNKNOWN", "ForeignColourWarning", "colorize",
    "decode_mask", "encode_mask", "read_mask", "write_mask", "read_image",
]
