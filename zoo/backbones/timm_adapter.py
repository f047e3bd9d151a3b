"""Any timm model as a backbone: ``type: "timm:resnet18"``.

timm's ``features_only=True`` already returns one map per stage and describes them in
``feature_info``; this adapter only re-keys the list by stride so heads can ask for
``{8, 16, 32}`` whatever the network. Models are created with ``pretrained=False`` (no
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
from ignite_zoo.zoo.backbones.vgg import _fmt_keys, load_state_file

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


class TimmBackbone(nn.Module):
    """A timm ``features_only`` model whose forward returns ``{stride: map}``."""

    def __init__(self, name: str, weights: str | None = None, out_indices: Sequence[int] | None = None) -> None:
        super().__init__()
        kwargs: dict[str, Any] = {"features_only": True}
        if out_indices is not None:
            if not isinstance(out_indices, (list, tuple)) or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in out_indices
            ):
                raise RecipeError(f"model.backbone.out_indices: expected a list of integers, got {out_indices!r}")
            kwargs["out_indices"] = tuple(out_indices)
        try:
            self.model = create_timm_model(name, "model.backbone.type", **kwargs)
        except (IndexError, AssertionError, ValueError) as e:
            raise RecipeError(f"model.backbone: timm model {name!r} rejects out_indices={out_indices!r}: {e}") from None
        info = self.model.feature_info
        self.strides: list[int] = [int(r) for r in info.reduction()]
        self.channels: dict[int, int] = {int(r): int(c) for r, c in zip(info.reduction(), info.channels())}
        self.classifier_state: dict[str, torch.Tensor] | None = None
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
                f"{path}: does not match timm model {self.name!r}: missing keys: {_fmt_keys(missing)}"
            )
        shapes = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}"
                  for k, v in own.items() if state[k].shape != v.shape]
        if shapes:
            raise CheckpointError(f"{path}: tensor shapes do not match timm model {self.name!r}: {_fmt_keys(shapes, 4)}")
        extra = sorted(k for k in state if k not in own)
        if extra:
            log.info("backbone timm:%s: ignoring %d keys of %s not used by the features: %s",
                     self.name, len(extra), path, _fmt_keys(extra))
        self.model.load_state_dict({k: state[k] for k in own}, strict=True)

    def forward(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        return dict(zip(self.strides, self.model(x)))


@BACKBONES.register("timm:")
def timm_backbone(name: str, weights: str | None = None, out_indices: list[int] | None = None) -> TimmBackbone:
    """``timm:<name>``: timm's ``<name>`` as a multi-stride feature extractor."""
    from ignite_zoo.zoo.backbones.weights import resolve_weights

    return TimmBackbone(name, weights=weights and str(resolve_weights(weights, f"timm:{name}")),
                        out_indices=out_indices)
