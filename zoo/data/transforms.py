"""Augmentation pipelines from recipe lists, applied jointly to image and mask.

A recipe lists transforms as ``{type: Name, **kwargs}``. A name is looked up first in
this project's ``TRANSFORMS`` registry, then in albumentations, so the whole albumentations
catalogue is usable without wrapping while project transforms can shadow or extend it.
Images stay uint8 through every geometric and colour step (the cheap representation for
OpenCV) and become normalised float tensors only at the end.

Reproducibility: albumentations 2 keeps its own random generators, untouched by
``torch.manual_seed`` and copied as they are into every DataLoader worker (so all workers
would draw the same augmentations). A ``Pipeline`` therefore seeds its generators from
``torch.initial_seed()`` the first time it runs in a process and whenever that seed
changes: the main process follows the run's ``torch.manual_seed``, and each worker gets
the distinct, reproducible seed DataLoader gives it.
"""
from __future__ import annotations

import difflib
import functools
import inspect
import os
import random
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

# albumentations asks PyPI for a newer version on every import (2 s timeout offline);
# a library import must not touch the network
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
import albumentations as A  # noqa: E402
from albumentations.core.composition import BaseCompose  # noqa: E402
from albumentations.core.transforms_interface import BasicTransform  # noqa: E402

from ignite_zoo.registry.errors import DataError, RecipeError, UserError
from ignite_zoo.registry.registry import TRANSFORMS

_MASK_FINAL = "ToTensorV2"


# --------------------------------------------------------------------------------------
# resolving recipe entries
# --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _albumentations_names() -> tuple[str, ...]:
    abstract = {"BaseCompose", "BasicTransform", "DualTransform", "ImageOnlyTransform", "Transform3D"}
    return tuple(sorted(
        n for n in dir(A)
        if n not in abstract and inspect.isclass(getattr(A, n)) and issubclass(getattr(A, n), (BasicTransform, BaseCompose))
    ))


def resolve_transform(name: str, where: str = "transforms") -> tuple[Callable[..., Any], str]:
    """The class for a transform name and where it came from (``"project"`` or ``"albumentations"``)."""
    if not isinstance(name, str) or not name:
        raise RecipeError(f"{where}.type: expected a transform name (string), got {name!r}")
    if name in TRANSFORMS:
        return TRANSFORMS.get(name), "project"
    albu = _albumentations_names()
    if name in albu:
        return getattr(A, name), "albumentations"
    own = TRANSFORMS.names()
    sources = {n: "albumentations" for n in albu} | {n: "project" for n in own}
    by_lower = {n.lower(): n for n in sources}
    close = difflib.get_close_matches(name, list(sources), n=3, cutoff=0.6)
    if name.lower() in by_lower and by_lower[name.lower()] not in close:
        close.insert(0, by_lower[name.lower()])
    hint = f"; did you mean {' or '.join(f'{c!r} ({sources[c]})' for c in close)}?" if close else ""
    raise RecipeError(
        f"{where}.type: unknown transform {name!r}{hint} Transforms are looked up in this project's "
        f"registry ({', '.join(own) or 'none'}) and then in albumentations ({len(albu)} names, "
        "e.g. HorizontalFlip, RandomCrop, ColorJitter)"
    )


def _accepts(builder: Callable[..., Any], name: str) -> bool:
    try:
        return name in inspect.signature(builder).parameters
    except ValueError:
        return False


def _build_entry(entry: Any, where: str, mask_fill: int | None = None) -> Any:
    if not isinstance(entry, Mapping) or "type" not in entry:
        raise RecipeError(f"{where}: expected a mapping like {{type: HorizontalFlip, p: 0.5}}, got {entry!r}")
    name = entry["type"]
    builder, _source = resolve_transform(name, where)
    kwargs = {k: v for k, v in entry.items() if k != "type"}
    if isinstance(kwargs.get("transforms"), list):  # OneOf, SomeOf, Sequential, ...
        kwargs["transforms"] = [_build_entry(e, f"{where}.transforms[{j}]", mask_fill)
                                for j, e in enumerate(kwargs["transforms"])]
    if mask_fill is not None and "fill_mask" not in kwargs and _accepts(builder, "fill_mask"):
        kwargs["fill_mask"] = mask_fill  # invented mask pixels (padding, rotation corners) are the dataset's fill
    try:
        sig = inspect.signature(builder)
        sig.bind(**kwargs)
    except TypeError as e:
        accepted = [n for n, p in sig.parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        raise RecipeError(f"{where} ({name}): {e}; accepted: {', '.join(accepted)}") from None
    except ValueError:  # no signature to check: let the call speak
        pass
    try:
        return builder(**kwargs)
    except (TypeError, ValueError) as e:
        msg = " ".join(str(e).split())
        raise RecipeError(f"{where} ({name}): invalid arguments {kwargs}: {msg[:500]}") from None


# --------------------------------------------------------------------------------------
# the pipeline
# --------------------------------------------------------------------------------------
class Pipeline:
    """``pipeline(image, mask=None) -> (FloatTensor[3, H, W], LongTensor[H, W] | None)``.

    Wraps one ``albumentations.Compose`` that ends in ToTensorV2; images go in as
    ``[H, W, C]`` arrays (RGB uint8 for the course's data) and come out as ``[C, H, W]``
    tensors of the same raw pixel values, masks as integer ``[H, W]`` (uint8 is the fast
    choice). Normalisation is the model's (``model.normalize``): uint8 batches are a quarter
    of the size of float ones on their way to the device.
    """

    def __init__(self, transforms: list[Any], task: str, spec: list[dict] | None = None,
                 where: str = "transforms") -> None:
        self.task = task
        self.spec = list(spec or [])
        self.where = where
        self.compose = A.Compose(transforms)
        self._seeded_for: tuple[int, int] | None = None

    def reseed(self, seed: int | None = None) -> None:
        """Seed the augmentation generators (default: from ``torch.initial_seed()``)."""
        if seed is None:
            seed = torch.initial_seed()
        self.compose.set_random_seed(int(seed) % 2**63)
        self._seeded_for = (os.getpid(), torch.initial_seed())

    def __call__(self, image: np.ndarray, mask: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self._seeded_for != (os.getpid(), torch.initial_seed()):
            self.reseed()
        if mask is None:
            out = self.compose(image=image)
            return out["image"], None
        out = self.compose(image=image, mask=mask)
        return out["image"], out["mask"].long()

    def __repr__(self) -> str:
        names = [type(t).__name__ for t in self.compose.transforms]
        return f"Pipeline({self.task}: {' -> '.join(names)})"


def build_transforms(
    spec: list[dict] | None, task: str = "segmentation", where: str = "transforms", mask_fill: int | None = None
) -> Pipeline:
    """A joint image/mask pipeline from a recipe list, ending with ToTensorV2.

    An empty list is just to-tensor (evaluation keeps full resolution). There is no
    Normalize: the model normalises (``model.normalize``). ``where`` is the recipe key
    path used in error messages (``data.train.transforms``). ``mask_fill`` (the dataset's
    ``info.mask_fill``) becomes the ``fill_mask`` of every transform that takes one and
    was not given one.
    """
    if task not in ("segmentation", "classification"):
        raise RecipeError(f"task: expected 'segmentation' or 'classification', got {task!r}")
    if spec is None:
        spec = []
    if not isinstance(spec, (list, tuple)):
        raise RecipeError(f"{where}: expected a list of transforms, got {type(spec).__name__} {spec!r}")
    built = [_build_entry(entry, f"{where}[{i}]", mask_fill) for i, entry in enumerate(spec)]
    names = [e.get("type") for e in spec]
    if "Normalize" in names:
        i = names.index("Normalize")
        raise RecipeError(f"{where}[{i}] (Normalize): normalisation belongs to the model; set model.normalize: "
                          "{mean: [...], std: [...], max_pixel_value: 255} instead")
    if _MASK_FINAL not in names:
        built.append(A.ToTensorV2())
    elif names[-1] != _MASK_FINAL:
        raise RecipeError(f"{where}: ToTensorV2 must be the last transform (it is added automatically)")
    return Pipeline(built, task, list(spec), where)


def _crop_too_large(pipeline: Pipeline, height: int, width: int) -> str | None:
    """Which transform crops more than a ``height`` x ``width`` image, said for a user, or None."""
    def walk(ts: Sequence[Any], where: str) -> str | None:
        for i, t in enumerate(ts):
            here = f"{where}[{i}]"
            if isinstance(t, BaseCompose):
                found = walk(t.transforms, f"{here}.transforms")
                if found:
                    return found
                continue
            h, w = getattr(t, "height", None), getattr(t, "width", None)
            if h is None and getattr(t, "x_max", None) is not None:  # A.Crop: a fixed window
                h, w = t.y_max, t.x_max
            if isinstance(h, int) and isinstance(w, int) and not getattr(t, "pad_if_needed", False) \
                    and (h > height or w > width):
                return (f"{here} ({type(t).__name__}) crops {h}x{w} (HxW) but the image is {height}x{width}; "
                        f"use a crop no larger than the images, or put {{type: PadIfNeeded, min_height: {h}, "
                        f"min_width: {w}}} before it")
        return None

    return walk(pipeline.compose.transforms, pipeline.where)


def apply_pipeline(transforms: Callable[..., Any], image: np.ndarray, mask: np.ndarray | None = None,
                   source: Any = None) -> Any:
    """``transforms(image, mask)``; a crop larger than the image becomes a DataError naming the
    transform, both sizes and ``source`` (the image file) instead of an albumentations error."""
    try:
        return transforms(image, mask)
    except UserError:
        raise
    except Exception:
        if isinstance(transforms, Pipeline):
            why = _crop_too_large(transforms, *image.shape[:2])
            if why:
                raise DataError(f"{source}: {why}" if source is not None else why) from None
        raise


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn``: seed numpy/random from torch's per-worker seed, reseed the pipeline.

    DataLoader seeds torch differently in each worker (base seed + id) but leaves numpy's
    and Python's global generators as forked copies; this makes them distinct and
    reproducible too. (OpenCV's thread count is deliberately not touched here:
    ``cv2.setNumThreads`` in a forked child of a process whose OpenCV pool was running
    deadlocks.)
    """
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)
    info = torch.utils.data.get_worker_info()
    pipeline = getattr(getattr(info, "dataset", None), "transforms", None)
    if isinstance(pipeline, Pipeline):
        pipeline.reseed()
