"""segmentation_models_pytorch's architectures as heads: ``type: "smp:Unet"`` on an ``smp:<encoder>``.

``segmentation_models_pytorch.create_model(arch, encoder_name, encoder_weights=None, ...)``
builds the whole smp model; the head keeps its decoder and segmentation head and drops its
encoder, because the backbone (``smp:<encoder>``, zoo/backbones/smp_encoder.py) is that
same encoder. So an smp model runs inside the zoo's model (normalisation, padding to the
encoder's stride, cropping) and every tool treats it like a zoo model. Every argument
besides ``type`` goes to ``create_model`` (``decoder_channels``, ``decoder_attention_type``,
``encoder_output_stride`` is taken from the backbone), so smp's documentation applies.

smp's decoders are built for the channels of one encoder, which only that encoder's
description says; on any other backbone use the zoo's own heads (unet, fpn,
deeplabv3plus, upernet, segformer), which read any ``feature_info``.
"""
from __future__ import annotations

import inspect
from typing import Any, Sequence

import torch
from torch import nn

from ignite_zoo.registry.errors import RecipeError
from ignite_zoo.registry.registry import HEADS
from ignite_zoo.zoo.backbones.base import FeatureInfo
from ignite_zoo.zoo.backbones.smp_encoder import smp_source
from ignite_zoo.zoo.heads.common import Head, check_num_classes, resize_to

#: what the head sets itself (from the backbone and the run), not the recipe
_OWN = ("encoder_name", "encoder_weights", "encoder_depth", "in_channels", "classes", "activation", "aux_params")


def smp_architectures() -> dict[str, Any]:
    """smp's model classes by lower-case name (``unet``, ``deeplabv3plus`` ...)."""
    import segmentation_models_pytorch as smp

    return {n.lower(): getattr(smp, n) for n in smp.__all__
            if inspect.isclass(getattr(smp, n)) and issubclass(getattr(smp, n), nn.Module)}


class SmpHead(Head):
    """smp's decoder and segmentation head for the backbone's smp encoder."""

    def __init__(self, arch: str, feature_info: list[FeatureInfo], num_classes: int, **kwargs: Any) -> None:
        super().__init__()
        import segmentation_models_pytorch as smp

        check_num_classes(num_classes)
        archs = smp_architectures()
        cls = archs.get(arch.lower())
        if cls is None:
            raise RecipeError(f"model.head.type: unknown segmentation_models_pytorch architecture {arch!r}; "
                              f"expected one of {', '.join('smp:' + c.__name__ for c in archs.values())}")
        src = smp_source(feature_info)
        if src is None:
            raise RecipeError(f"model.head.type: smp:{arch} takes an smp:<encoder> backbone (its decoder is built "
                              "for that encoder's channels); on other backbones use unet, fpn, deeplabv3plus, "
                              "upernet or segformer")
        own = sorted(set(kwargs) & set(_OWN))
        if own:
            raise RecipeError(f"model.head.{own[0]}: set by the backbone or the run (model.backbone, the dataset's "
                              f"classes), not by the head; remove it")
        params = inspect.signature(cls).parameters
        kw: dict[str, Any] = {"encoder_name": src.encoder, "encoder_weights": None, "in_channels": src.in_chans,
                              "classes": num_classes, **kwargs}
        if "encoder_depth" in params:
            kw["encoder_depth"] = src.depth
        if "encoder_output_stride" in params:
            kw["encoder_output_stride"] = src.output_stride
        elif src.output_stride != 32:
            raise RecipeError(f"model.backbone.output_stride: smp:{cls.__name__} does not take a dilated encoder; "
                              f"remove output_stride={src.output_stride} or use smp:DeepLabV3Plus")
        try:
            model = smp.create_model(cls.__name__, **kw)
        except (KeyError, ValueError, TypeError, AssertionError, RuntimeError) as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise RecipeError(f"model.head: smp:{cls.__name__} refused its arguments on smp:{src.encoder}: "
                              f"{first}") from None
        self.arch = cls.__name__
        self.decoder = model.decoder
        self.segmentation_head = model.segmentation_head
        self.size_multiple = max(f.stride for f in feature_info)

    def forward(self, features: list[torch.Tensor], size: Sequence[int]) -> torch.Tensor:
        # smp's decoders take the encoder's list, whose first entry is the input (stride 1); they
        # read at most its size, so a map with no channels stands in for it
        first = features[0]
        stand_in = first.new_zeros((first.shape[0], 0, size[0], size[1]))
        logits = self.segmentation_head(self.decoder([stand_in, *features]))
        return resize_to(logits, size)  # decoders that stop at stride 4 (FPN, DeepLabV3+) are upsampled here

    def extra_repr(self) -> str:
        return f"arch={self.arch!r}"


@HEADS.register("smp:")
def smp_head(arch: str, feature_info: list[FeatureInfo], num_classes: int, **kwargs: Any) -> SmpHead:
    """``smp:<Arch>``: segmentation_models_pytorch's ``<Arch>`` decoder (any ``create_model``
    architecture: Unet, UnetPlusPlus, FPN, DeepLabV3Plus, UPerNet, Segformer ...) on the
    backbone's smp encoder; other arguments go to ``create_model``."""
    return SmpHead(arch, feature_info, num_classes, **kwargs)
