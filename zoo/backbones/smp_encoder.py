"""Any segmentation_models_pytorch encoder as a backbone: ``type: "smp:resnet34"``.

``segmentation_models_pytorch.encoders.get_encoder`` builds the encoder (its own ResNets,
EfficientNets, MiTs ..., and every timm model as ``tu-<name>``) and returns one map per
stride from 1 (the input itself) to ``2 ** depth``. The adapter drops the stride-1 map,
which is the input unchanged, and describes the rest in ``feature_info``, so every head of
the zoo runs on an smp encoder, and the ``smp:<Arch>`` heads (zoo/heads/smp_decoder.py)
put smp's own decoders on it.

The maps' descriptions are ``SmpFeatureInfo``: a ``FeatureInfo`` that also names the
encoder, its input bands, depth and output stride, which is what
``segmentation_models_pytorch.create_model`` needs to build the matching decoder. Nothing
is downloaded: the encoder is created with ``weights=None``; pretrained weights come from
a local state-dict file of the encoder given as ``weights``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch

from ignite_zoo.registry.errors import CheckpointError, RecipeError
from ignite_zoo.registry.registry import BACKBONES
from ignite_zoo.zoo.backbones.base import Backbone, FeatureInfo, check_in_chans
from ignite_zoo.zoo.backbones.weights import format_keys, load_state_file

log = logging.getLogger("zoo")


@dataclass(frozen=True)
class SmpFeatureInfo(FeatureInfo):
    """One map of an smp encoder: stride and channels, plus the encoder that made it."""

    encoder: str = ""
    in_chans: int = 3
    depth: int = 5
    output_stride: int = 32


class SmpEncoder(Backbone):
    """``segmentation_models_pytorch.encoders.get_encoder(name, ...)``'s maps at strides 2 .. 2**depth."""

    def __init__(self, name: str, weights: str | None = None, in_chans: int = 3, depth: int = 5,
                 output_stride: int = 32) -> None:
        super().__init__()
        import segmentation_models_pytorch as smp

        self.in_chans = check_in_chans(in_chans)
        if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 5:
            raise RecipeError(f"model.backbone.depth: expected an integer from 1 to 5 (the encoder's stages), "
                              f"got {depth!r}")
        if output_stride not in (8, 16, 32) or isinstance(output_stride, bool):
            raise RecipeError(f"model.backbone.output_stride: expected 8, 16 or 32, got {output_stride!r}")
        try:
            self.encoder = smp.encoders.get_encoder(name, in_channels=in_chans, depth=depth, weights=None,
                                                    output_stride=output_stride)
        except KeyError:
            import difflib

            close = difflib.get_close_matches(name, smp.encoders.get_encoder_names(), n=3, cutoff=0.6)
            hint = f"; did you mean {' or '.join(repr('smp:' + c) for c in close)}?" if close else \
                "; segmentation_models_pytorch.encoders.get_encoder_names() lists them, and smp:tu-<timm name> " \
                "takes any timm model"
            raise RecipeError(f"model.backbone.type: unknown segmentation_models_pytorch encoder {name!r}{hint}") from None
        except (RuntimeError, ValueError, AssertionError) as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise RecipeError(f"model.backbone: segmentation_models_pytorch encoder {name!r} refuses depth={depth}, "
                              f"output_stride={output_stride}: {first}") from None
        self.name = name
        channels = list(self.encoder.out_channels)[1:]  # [0] is the input itself (stride 1)
        self.feature_info = [
            SmpFeatureInfo(min(2 ** (i + 1), output_stride), c, encoder=name, in_chans=in_chans, depth=depth,
                           output_stride=output_stride)
            for i, c in enumerate(channels)]
        if weights is None:
            log.warning("backbone smp:%s: no weights given, randomly initialised", name)
        else:
            self.load_weights(weights)
            log.info("backbone smp:%s: loaded weights from %s", name, weights)

    def load_weights(self, path: str) -> None:
        """Load a state dict of the encoder (``encoder.state_dict()``, or a whole smp model's
        ``encoder.*`` keys); every tensor of the encoder must be there with its shape."""
        state = dict(load_state_file(path))
        if any(k.startswith("encoder.") for k in state):
            state = {k[len("encoder."):]: v for k, v in state.items() if k.startswith("encoder.")}
        own = self.encoder.state_dict()
        missing = sorted(k for k in own if k not in state)
        wrong = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}"
                 for k, v in own.items() if k in state and state[k].shape != v.shape]
        if missing or wrong:
            what = f"missing keys: {format_keys(missing)}" if missing else f"tensor shapes: {format_keys(wrong, 4)}"
            raise CheckpointError(f"{path}: does not match segmentation_models_pytorch encoder {self.name!r}: {what}")
        self.encoder.load_state_dict({k: state[k] for k in own}, strict=True)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return list(self.encoder(x))[1:]


@BACKBONES.register("smp:")
def smp_backbone(name: str, weights: str | None = None, in_chans: int = 3, depth: int = 5,
                 output_stride: int = 32) -> SmpEncoder:
    """``smp:<encoder>``: segmentation_models_pytorch's encoder ``<encoder>`` (``depth`` stages;
    ``output_stride`` 8 or 16 dilates the last ones). ``weights``: a local file only."""
    if weights is not None and str(weights) == "imagenet":
        raise CheckpointError(f"model.backbone.weights=imagenet: smp:{name} takes a local weights file (the "
                              f"encoder's state dict), not 'imagenet'; nothing is downloaded")
    if weights is not None:
        from ignite_zoo.zoo.backbones.weights import resolve_weights

        weights = str(resolve_weights(weights, f"smp:{name}"))
    return SmpEncoder(name, weights=weights, in_chans=in_chans, depth=depth, output_stride=output_stride)


def smp_source(info: list[FeatureInfo]) -> SmpFeatureInfo | None:
    """The smp encoder a backbone's maps came from, or None for any other backbone."""
    first: Any = info[0] if info else None
    return first if all(isinstance(f, SmpFeatureInfo) for f in info) else None
