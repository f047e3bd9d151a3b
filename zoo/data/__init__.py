"""The data layer: datasets, augmentation pipelines and the mask colour codec.

Importing it registers the datasets (``dlcv_sat``, ``dlcv_cls``, ``image_folder``,
``digits``, ``synthetic_landcover``, ``voc``, ``geotiff``) and the project's own transforms. Each
dataset class owns its facts (``describe(data_cfg)`` / ``dataset.info``: a ``DatasetInfo``).
"""
from __future__ import annotations

from typing import Any, Mapping

from ignite_zoo.registry.errors import RecipeError
from ignite_zoo.registry.registry import DATASETS
from ignite_zoo.zoo.data.masks import (
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
from ignite_zoo.zoo.data.transforms import Pipeline, build_transforms, seed_worker
from ignite_zoo.zoo.data.info import DatasetInfo, FolderLayout, recipe_split, unknown_fraction, warn_if_mostly_unknown
from ignite_zoo.zoo.data.io import check_same_size, read_image
from ignite_zoo.zoo.data.sat import DlcvSat
from ignite_zoo.zoo.data.cls import Digits, DlcvCls, ImageFolder
from ignite_zoo.zoo.data.synthetic import SyntheticLandcover, generate_landcover
from ignite_zoo.zoo.data.voc import VOC_CLASSES, Voc
from ignite_zoo.zoo.data.synthetic_voc import make_voc_like
from ignite_zoo.zoo.data import rare_crop  # noqa: F401  (registers RareClassCrop)
from ignite_zoo.zoo.data import scale_crop  # noqa: F401  (registers RandomScaleCrop)
from ignite_zoo.zoo.data.geotiff import GeoTiff  # rasterio is imported when a scene is opened

DEFAULT_MASK_DATASET = "dlcv_sat"  # what mask folders are read as without a run or --dataset

def dataset_info(data_cfg: Mapping[str, Any]) -> DatasetInfo:
    """The facts (classes, colours, ignore/unknown ids, layout, ...) of a recipe's dataset.

    Decodes no image: the dataset class answers from ``data.args`` (and, where the classes
    are only known from names on disk, lists a folder or reads a split list).
    """
    builder = _builder(data_cfg)
    describe = getattr(builder, "describe", None)
    if describe is None:
        raise RecipeError(f"data.type: dataset {data_cfg['type']!r} does not describe itself (no describe classmethod)")
    return describe(data_cfg)


def _builder(data_cfg: Mapping[str, Any]) -> Any:
    if not isinstance(data_cfg, Mapping) or "type" not in data_cfg:
        raise RecipeError(f"data: expected a section with a 'type' key, got {data_cfg!r}")
    return DATASETS.get(data_cfg["type"]) if isinstance(data_cfg["type"], str) else None


def build_dataset(data_cfg: Mapping[str, Any], which: str) -> Any:
    """The ``which`` ("train" | "val") dataset of a recipe's ``data`` section, with its pipeline.

    Reads ``type``, ``root``, ``args`` and ``<which>.split`` / ``<which>.transforms``; the
    pipeline is built first so a transform typo fails before any folder is scanned. Mask
    padding in the pipeline is the dataset's ``info.mask_fill``.
    """
    split = recipe_split(data_cfg, which)
    builder = _builder(data_cfg)
    task = getattr(builder, "task", "segmentation")
    fill = None
    if task == "segmentation" and hasattr(builder, "describe"):
        fill = builder.describe(data_cfg).mask_fill
    section = data_cfg.get(which) or {}
    pipeline = build_transforms(section.get("transforms") or [], task, where=f"data.{which}.transforms",
                                mask_fill=fill)
    args = dict(data_cfg.get("args") or {})
    clash = sorted({"type", "root", "split", "transforms"} & set(args))
    if clash:
        raise RecipeError(f"data.args: {', '.join(clash)} must be set in the data section itself, not in args")
    cfg = {"type": data_cfg["type"], "root": data_cfg.get("root"), "split": split, "transforms": pipeline, **args}
    return DATASETS.build(cfg, _path="data")


__all__ = [
    "CLASSES", "NUM_CLASSES", "PALETTE", "UNKNOWN", "ForeignColourWarning", "colorize", "decode_mask",
    "encode_mask", "read_mask", "write_mask", "read_image", "Pipeline",
    "build_transforms", "seed_worker", "build_dataset", "DlcvSat", "DlcvCls", "ImageFolder", "Digits",
    "SyntheticLandcover", "generate_landcover", "DatasetInfo", "FolderLayout", "dataset_info",
    "unknown_fraction", "warn_if_mostly_unknown", "check_same_size", "Voc", "VOC_CLASSES", "make_voc_like",
]
