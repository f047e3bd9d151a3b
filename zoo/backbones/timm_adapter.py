"""Any timm model as a backbone: ``type: "timm:resnet18"``.

timm's ``features_only=True`` already returns one map per stage as a list and describes
them in ``feature_info``: exactly this package's backbone contract (zoo/backbones/base.py),
so the adapter passes the list through. ``in_chans`` and ``output_stride`` go to timm,
which adapts the stem and dilates the last stages where the network allows it. Models are created with ``pretrained=False`` (no
download, ever); pretrained weights come from a local file given as ``weights``.
"""
from __future__ import annotations

import difflib
import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from ignite_zoo.registry.errors import CheckpointError, RecipeError
from ignite_zoo.registry.registry import BACKBONES
from ignite_zoo.zoo.backbones.base import Backbone, FeatureInfo, adapt_first_conv, check_in_chans
from ignite_zoo.zoo.backbones.weights import format_keys, load_state_file

log = logging.getLogger("zoo")


def _unwrap(state: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Strip the ``module.`` prefix DataParallel/DDP checkpoints carry."""
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}


def create_timm_model(name: str, where: str = "model", **kwargs: Any) -> nn.Module:
    """``timm.create_model(name, pretrained=False, ...)``; an unknown name is a RecipeError
    at ``where`` suggesting close timm names."""
    import timm

    try:
        return timm.create_model(name, **{"pretrained": False, **kwargs})
    except RuntimeError as e:
        if "Unknown model" not in str(e):
            raise
        close = difflib.get_close_matches(name, timm.list_models(), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr('timm:' + c) for c in close)}?" if close else ""
        raise RecipeError(f"{where}: unknown timm model {name!r}{hint}") from None


class TimmBackbone(Backbone):
    """A timm ``features_only`` model: its list of maps and their ``feature_info``."""

    def __init__(self, name: str, weights: str | None = None, out_indices: Sequence[int] | None = None,
                 in_chans: int = 3, output_stride: int | None = None) -> None:
        super().__init__()
        self.in_chans = check_in_chans(in_chans)
        kwargs: dict[str, Any] = {"features_only": True, "in_chans": in_chans}
        if output_stride is not None:
            if output_stride not in (8, 16, 32):
                raise RecipeError(f"model.backbone.output_stride: expected 8, 16 or 32, got {output_stride!r}")
            kwargs["output_stride"] = output_stride
        if out_indices is not None:
            if not isinstance(out_indices, (list, tuple)) or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in out_indices
            ):
                raise RecipeError(f"model.backbone.out_indices: expected a list of integers, got {out_indices!r}")
            kwargs["out_indices"] = tuple(out_indices)
        try:
            self.model = create_timm_model(name, "model.backbone.type", **kwargs)
        except (IndexError, AssertionError, ValueError, TypeError) as e:
            given = {k: v for k, v in kwargs.items() if k in ("out_indices", "output_stride")}
            raise RecipeError(f"model.backbone: timm model {name!r} rejects {given or kwargs}: "
                              f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
        info = self.model.feature_info
        self.feature_info = [FeatureInfo(int(r), int(c)) for r, c in zip(info.reduction(), info.channels())]
        if output_stride is not None:  # timm reports the undilated reductions; the maps stop at output_stride
            self.feature_info = [FeatureInfo(min(f.stride, output_stride), f.channels) for f in self.feature_info]
        self.classifier_state = None
        self.name = name
        if weights is None:
            log.warning("backbone timm:%s: no weights given, randomly initialised (timm's default init)", name)
        else:
            self.load_weights(weights)
            log.info("backbone timm:%s: loaded weights from %s", name, weights)

    def load_weights(self, path: str | Path) -> None:
        """Load a full timm state dict; keys of the dropped classifier are ignored, nothing else.

        Every tensor the feature model has must be in the file with its shape (else a
        ``CheckpointError`` listing them); the file's extra keys (the classification head
        ``features_only`` removes) are logged, not loaded.
        """
        state = _unwrap(load_state_file(path))
        own = self.model.state_dict()
        missing = sorted(k for k in own if k not in state)
        if missing:
            raise CheckpointError(
                f"{path}: does not match timm model {self.name!r}: missing keys: {format_keys(missing)}"
            )
        for k, v in own.items():  # the stem's RGB filters, adapted to in_chans bands
            if k in state and v.ndim == 4 and state[k].ndim == 4 and state[k].shape[1] == 3 \
                    and v.shape[1] == self.in_chans != 3 and state[k].shape[0] == v.shape[0]:
                state[k] = adapt_first_conv(state[k], self.in_chans, None)
        shapes = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}"
                  for k, v in own.items() if state[k].shape != v.shape]
        if shapes:
            raise CheckpointError(f"{path}: tensor shapes do not match timm model {self.name!r}: {format_keys(shapes, 4)}")
        extra = sorted(k for k in state if k not in own)
        if extra:
            log.info("backbone timm:%s: ignoring %d keys of %s not used by the features: %s",
                     self.name, len(extra), path, format_keys(extra))
        self.model.load_state_dict({k: state[k] for k in own}, strict=True)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return list(self.model(x))


@BACKBONES.register("timm:")
def timm_backbone(name: str, weights: str | None = None, out_indices: list[int] | None = None,
                  in_chans: int = 3, output_stride: int | None = None) -> TimmBackbone:
    """``timm:<name>``: timm's ``<name>`` as a multi-scale feature extractor
    (``in_chans`` input bands; ``output_stride`` 8 or 16 dilates the last stages)."""
    from ignite_zoo.zoo.backbones.weights import resolve_weights

    return TimmBackbone(name, weights=weights and str(resolve_weights(weights, f"timm:{name}")),
                        out_indices=out_indices, in_chans=in_chans, output_stride=output_stride)
