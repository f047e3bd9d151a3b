"""``RandomScaleCrop``: the project's scale-jitter + crop, one warp over the crop window."""
from __future__ import annotations

from typing import Any, Sequence

import cv2
import numpy as np
from albumentations.core.transforms_interface import BaseTransformInitSchema, DualTransform
from pydantic import Field
from typing_extensions import Annotated

from ignite_zoo.registry.registry import TRANSFORMS


@TRANSFORMS.register("RandomScaleCrop")
class RandomScaleCrop(DualTransform):
    """Rescale by a random factor, then take a random ``size`` crop (padding if smaller).

    The usual segmentation training augmentation (scale jitter + fixed-size crop) done
    as one ``cv2.warpAffine`` on the crop window only, so a 2x zoom costs no more than
    the crop itself. Padding uses ``fill`` for the image and ``fill_mask`` for the mask.
    Padding is "no data": when a recipe leaves ``fill_mask`` out, the pipeline builder sets
    it to the dataset's fill (its ignore index, else its "unknown" class, else 0), so padded
    pixels are left out of the loss and mIoU wherever the dataset can say so. Downscaling
    is bilinear without antialiasing (scales below 0.5 alias).
    """

    class InitSchema(BaseTransformInitSchema):
        size: int | tuple[int, int] | list[int]
        scale: tuple[float, float] | list[float]
        fill: float
        fill_mask: float
        p: Annotated[float, Field(ge=0, le=1)]

    def __init__(
        self,
        size: int | Sequence[int],
        scale: Sequence[float] = (0.5, 2.0),
        fill: float = 0,
        fill_mask: float = 0,
        p: float = 1.0,
    ):
        super().__init__(p=p)
        h, w = (size, size) if isinstance(size, int) else tuple(size)
        if h < 1 or w < 1:
            raise ValueError(f"size must be positive, got {size!r}")
        lo, hi = scale
        if not 0 < lo <= hi:
            raise ValueError(f"scale must be (low, high) with 0 < low <= high, got {scale!r}")
        self.size = (int(h), int(w))
        self.scale = (float(lo), float(hi))
        self.fill = fill
        self.fill_mask = fill_mask

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        height, width = params["shape"][:2]
        th, tw = self.size
        s = self.py_random.uniform(*self.scale)
        sh, sw = height * s, width * s
        # crop origin in the scaled image; negative when the scaled image is smaller (padding)
        y0 = self.py_random.randint(*sorted((0, int(sh) - th)))
        x0 = self.py_random.randint(*sorted((0, int(sw) - tw)))
        # src -> dst with pixel centres kept aligned (as cv2.resize does), then shifted
        matrix = np.array([[s, 0, 0.5 * s - 0.5 - x0], [0, s, 0.5 * s - 0.5 - y0]], dtype=np.float64)
        return {"matrix": matrix}

    def apply(self, img: np.ndarray, matrix: np.ndarray, **params: Any) -> np.ndarray:
        th, tw = self.size
        fill = self.fill if img.ndim == 2 else (self.fill,) * img.shape[2]
        return cv2.warpAffine(img, matrix, (tw, th), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=fill)

    def apply_to_mask(self, mask: np.ndarray, matrix: np.ndarray, **params: Any) -> np.ndarray:
        th, tw = self.size
        return cv2.warpAffine(mask, matrix, (tw, th), flags=cv2.INTER_NEAREST,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=self.fill_mask)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("size", "scale", "fill", "fill_mask")
