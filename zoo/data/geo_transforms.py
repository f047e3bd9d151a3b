"""Augmentation pipelines for N-band float images (GeoTIFF windows).

The recipe's transform lists are built by ``zoo.data.transforms.build_transforms`` (same
names, same registry, same errors), with two differences for scenes of any band count:
no Normalize is added (images stay raw band values; the model normalises), and each
transform is tried once, at build time, on a window of the dataset's band count. A
transform that only handles RGB (ColorJitter, HueSaturationValue, ToGray, ...) then fails
before training with a message naming it and the band count, instead of deep inside a
DataLoader worker in the first epoch.
"""
from __future__ import annotations

import copy
from typing import Any, Sequence

import numpy as np

from ignite_zoo.registry.errors import RecipeError
from ignite_zoo.zoo.data.transforms import Pipeline, build_transforms

#: albumentations transforms defined on RGB (or grey) images only
RGB_ONLY = frozenset({
    "ColorJitter", "HueSaturationValue", "ToGray", "ToSepia", "RGBShift", "CLAHE", "Equalize", "FancyPCA",
    "ChannelShuffle", "PlanckianJitter", "RandomToneCurve", "ISONoise", "ImageCompression", "Posterize",
    "RandomSunFlare", "RandomShadow", "RandomFog", "RandomRain", "RandomSnow", "Spatter", "ChromaticAberration",
})
_AGNOSTIC_HINT = "RandomBrightnessContrast, GaussNoise, flips, RandomRotate90, RandomScaleCrop"


def _name(t: Any) -> str:
    return type(t).__name__


def _works(t: Any, bands: int, size: tuple[int, int]) -> Exception | None:
    """The error ``t`` raises on a random float32 window of ``bands`` bands, or None."""
    probe = copy.deepcopy(t)
    if hasattr(probe, "p"):
        probe.p = 1.0
    rng = np.random.default_rng(0)
    image = rng.random((*size, bands), dtype=np.float32)
    mask = np.zeros(size, dtype=np.uint8)
    try:
        probe(image=image, mask=mask)
    except Exception as e:  # noqa: BLE001  (any failure is reported with the transform's name)
        return e
    return None


def band_pipeline(spec: Sequence[dict] | None, bands: int, where: str = "transforms",
                  mask_fill: int | None = None, probe: tuple[int, int] | None = (64, 64)) -> Pipeline:
    """A joint pipeline for ``bands``-band float32 images, ending with ToTensorV2, no Normalize.

    ``probe``: the window size each transform is tried on (None: not tried). An RGB-only
    transform on ``bands != 3`` is a RecipeError naming ``where[i]``, the transform and
    the band count.
    """
    spec = list(spec or [])
    names = [e.get("type") if isinstance(e, dict) else None for e in spec]
    for i, name in enumerate(names):
        if bands != 3 and name in RGB_ONLY:
            raise _rgb_error(f"{where}[{i}]", name, bands)
    built = build_transforms(spec, "segmentation", where=where, mask_fill=mask_fill)
    transforms = [t for t in built.compose.transforms if not (_name(t) == "Normalize" and "Normalize" not in names)]
    if probe is not None:
        for i, t in enumerate(transforms[:len(spec)]):
            if _name(t) == "ToTensorV2":
                continue
            err = _works(t, bands, probe)
            if err is None:
                continue
            if bands != 3 and _works(t, 3, probe) is None:
                raise _rgb_error(f"{where}[{i}]", _name(t), bands)
            msg = " ".join(str(err).split())[:300]
            raise RecipeError(f"{where}[{i}] ({_name(t)}): fails on a {probe[0]}x{probe[1]} window of "
                              f"{bands} float32 bands: {msg}")
    return Pipeline(transforms, "segmentation", spec, where)


def _rgb_error(where: str, name: str, bands: int) -> RecipeError:
    return RecipeError(f"{where} ({name}): works on RGB (3-band) images only, but this dataset's images have "
                       f"{bands} bands (data.args.bands); remove it or use a transform that works on any band "
                       f"count ({_AGNOSTIC_HINT})")
