"""``RareClassCrop``: a training crop centred, with probability ``p``, on a pixel of a rare class.

Random crops of large tiles mostly show the common classes; centring some crops on a pixel
of a chosen class (a random pixel of a random chosen class present in the mask) shows the
rare ones more often without repeating whole images. Otherwise (probability ``1 - p``, or
no chosen class in the mask) the crop is uniformly random. A crop larger than the image is
padded with ``fill`` / ``fill_mask`` (the dataset's ignore value when the recipe leaves it
out, as for ``RandomScaleCrop``)::

    data.train.transforms:
      - {type: RareClassCrop, size: 256, classes: [3, 5], p: 0.5}
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from albumentations.core.transforms_interface import BaseTransformInitSchema, DualTransform
from pydantic import Field
from typing_extensions import Annotated

from ignite_zoo.registry.registry import TRANSFORMS


@TRANSFORMS.register("RareClassCrop")
class RareClassCrop(DualTransform):
    """A ``size`` crop centred on a pixel of one of ``classes`` with probability ``p``."""

    class InitSchema(BaseTransformInitSchema):
        size: int | tuple[int, int] | list[int]
        classes: list[int]
        fill: float
        fill_mask: float
        p: Annotated[float, Field(ge=0, le=1)]

    def __init__(self, size: int | Sequence[int], classes: Sequence[int], p: float = 0.5, fill: float = 0,
                 fill_mask: float = 0) -> None:
        super().__init__(p=1.0)  # always crops; ``p`` decides where
        h, w = (size, size) if isinstance(size, int) else tuple(size)
        if h < 1 or w < 1:
            raise ValueError(f"size must be positive, got {size!r}")
        if not classes:
            raise ValueError("classes must list at least one class id")
        self.size, self.classes, self.p_rare = (int(h), int(w)), [int(c) for c in classes], float(p)
        self.fill, self.fill_mask = fill, fill_mask

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        height, width = params["shape"][:2]
        th, tw = self.size
        centre = None
        mask = data.get("mask")
        if mask is not None and self.py_random.random() < self.p_rare:
            present = [c for c in self.classes if bool((mask == c).any())]
            if present:
                ys, xs = np.nonzero(mask == self.py_random.choice(present))
                k = self.py_random.randrange(len(ys))
                centre = (int(ys[k]), int(xs[k]))
        if centre is None:
            y0 = self.py_random.randint(0, max(0, height - th))
            x0 = self.py_random.randint(0, max(0, width - tw))
        else:  # centred on the pixel, kept inside the image where it is large enough
            y0 = min(max(0, centre[0] - th // 2), max(0, height - th))
            x0 = min(max(0, centre[1] - tw // 2), max(0, width - tw))
        return {"y0": y0, "x0": x0}

    def _crop(self, img: np.ndarray, y0: int, x0: int, fill: float) -> np.ndarray:
        th, tw = self.size
        out = img[y0:y0 + th, x0:x0 + tw]
        ph, pw = th - out.shape[0], tw - out.shape[1]
        if ph or pw:
            pad = [(0, ph), (0, pw)] + [(0, 0)] * (img.ndim - 2)
            out = np.pad(out, pad, mode="constant", constant_values=fill)
        return np.ascontiguousarray(out)

    def apply(self, img: np.ndarray, y0: int = 0, x0: int = 0, **params: Any) -> np.ndarray:
        return self._crop(img, y0, x0, self.fill)

    def apply_to_mask(self, mask: np.ndarray, y0: int = 0, x0: int = 0, **params: Any) -> np.ndarray:
        return self._crop(mask, y0, x0, self.fill_mask)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("size", "classes", "fill", "fill_mask")
