"""An exported model under ONNX Runtime, with its metadata decoded and checked.

Its own module, below both the exporter and the loader, so neither imports the other.
The graph takes raw pixels: normalisation is inside it (the model's buffers). A file
exported by 0.1 took normalised pixels and says so with ``mean``/``std`` metadata; such a
file still predicts, normalised here.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ignite_zoo.registry.errors import CheckpointError, RunError

PREFIX = "ignite_zoo."


class OnnxModel:
    """An ``.onnx`` file written by ``export_onnx``: ``step(x)`` gives float32 logits."""

    def __init__(self, path: str | os.PathLike, device: str | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise CheckpointError(f"{self.path}: not found; expected an .onnx file written by tools/export.py")
        providers = ["CPUExecutionProvider"]
        if device and device.startswith("cuda"):
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self.session = ort.InferenceSession(str(self.path), providers=providers)
        except Exception as e:  # ONNX Runtime's errors are its own types
            raise CheckpointError(f"{self.path}: cannot load the ONNX model ({str(e).splitlines()[0]})") from None
        self.props = self.session.get_modelmeta().custom_metadata_map
        missing = [k for k in ("recipe", "classes") if PREFIX + k not in self.props]
        if missing:
            raise CheckpointError(f"{self.path}: holds no {', '.join(missing)} metadata; expected a file written "
                                  "by tools/export.py")
        import yaml

        try:
            self.recipe: dict[str, Any] = yaml.safe_load(self.props[PREFIX + "recipe"])
        except yaml.YAMLError:
            self.recipe = None  # type: ignore[assignment]
        if not isinstance(self.recipe, dict):
            raise CheckpointError(f"{self.path}: its {PREFIX}recipe metadata is not a recipe (a YAML mapping); "
                                  "expected a file written by tools/export.py")
        self.classes: list[str] = self._json("classes", list)
        palette = self._json("palette", (list, type(None)), "null")
        self.palette = [tuple(c) for c in palette] if palette else None
        mean, std = self._json("mean", (list, type(None)), "null"), self._json("std", (list, type(None)), "null")
        self.legacy_norm = None if mean is None or std is None else (
            np.asarray(mean, np.float32).reshape(1, -1, 1, 1) * 255, np.asarray(std, np.float32).reshape(1, -1, 1, 1) * 255)
        self.min_tile = int(self._json("min_tile", int, "1"))
        bpp = self._json("activation_bytes_per_pixel", (int, float, type(None)), "null")
        self.bytes_per_pixel = float(bpp) if bpp is not None else None
        self.input_name = self.session.get_inputs()[0].name
        self.provider = self.session.get_providers()[0]

    def _json(self, key: str, types: Any, default: str | None = None) -> Any:
        raw = self.props.get(PREFIX + key, default)
        try:
            value = json.loads(raw)
        except (TypeError, ValueError):
            value = None
            types = ()
        if not isinstance(value, types) or isinstance(value, bool):
            raise CheckpointError(f"{self.path}: its {PREFIX}{key} metadata {raw!r} is not valid JSON of the "
                                  "expected kind; expected a file written by tools/export.py")
        return value

    def run(self, x: np.ndarray) -> np.ndarray:
        """float32 logits of a float32 batch of raw pixels ``[N, C, H, W]``."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self.legacy_norm is not None:
            x = (x - self.legacy_norm[0]) / self.legacy_norm[1]
        try:
            out = self.session.run(None, {self.input_name: x})[0]
        except Exception as e:  # a size the graph does not take
            raise RunError(f"{self.path}: ONNX Runtime failed on an input of shape {tuple(x.shape)} "
                           f"({str(e).splitlines()[0]})") from None
        if out.ndim >= 2 and out.shape[1] != len(self.classes):
            raise CheckpointError(f"{self.path}: the graph gives {out.shape[1]} class scores but its metadata names "
                                  f"{len(self.classes)} classes; expected a file written by tools/export.py")
        return out

    def step(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.run(x.detach().float().cpu().numpy()))
