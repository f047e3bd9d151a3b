"""The one way images become logits: whole or in sliding windows, with test-time
augmentation, under the run's precision and memory format.

Validation, mask snapshots, the pre-flight batch, ``predict``, ``evaluate`` and the export
check all call a ``Predictor``, built once from the run's settings (``eval`` section, plus a
tool's flags on top), so a number one of them prints is the number the others compute.
A *step* (``step(x) -> float32 logits``) hides how a model runs: PyTorch under autocast,
PyTorch with bf16 weights, or an ONNX Runtime session. Inputs are raw pixels: the model
normalises (``zoo.model``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch

from ignite_zoo.engines.runtime import autocast
from ignite_zoo.engines.step import StepConfig
from ignite_zoo.registry.errors import RecipeError

StepFn = Callable[[torch.Tensor], torch.Tensor]
MODES = ("auto", "whole", "slide")
TTA = ("flip", "d4")
BLENDS = ("gaussian", "linear", "mean")


@dataclass(frozen=True)
class PredictSettings:
    """How to predict an image.

    ``mode``: "whole", "slide" (``tile`` windows overlapping by ``overlap``, only for images
    whose longer side exceeds ``above`` when given), or "auto": whole unless the image's
    activations would take more than ``memory_gib``, then slide. ``tta``: None, "flip"
    (mean of the image and its mirror image) or "d4" (the 8 flips and right-angle turns).
    """

    mode: str = "auto"
    tile: int = 512
    overlap: int | None = None
    above: int | None = None
    batch_tiles: int = 4
    blend: str = "gaussian"
    tta: str | None = None
    memory_gib: float = 2.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise RecipeError(f"eval.mode: {self.mode!r}; expected one of {', '.join(MODES)}")
        for key, value in (("tile", self.tile), ("batch_tiles", self.batch_tiles)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise RecipeError(f"eval.{key}: expected a positive integer, got {value!r}")
        if not 0 <= self.window_overlap < self.tile:
            raise RecipeError(f"eval.overlap {self.overlap}: expected 0 or more and less than the tile ({self.tile})")
        if self.above is not None and (isinstance(self.above, bool) or not isinstance(self.above, int)
                                       or self.above < 0):
            raise RecipeError(f"eval.tile_above {self.above!r}: expected 0 or more pixels")
        if self.blend not in BLENDS:
            raise RecipeError(f"eval.blend {self.blend!r}: expected one of {', '.join(BLENDS)}")
        if self.tta not in (None, *TTA):
            raise RecipeError(f"tta {self.tta!r}: expected one of {', '.join(TTA)} or none")

    @property
    def window_overlap(self) -> int:
        """The overlap in pixels: a quarter of the tile when not given (128 for 512)."""
        return self.tile // 4 if self.overlap is None else self.overlap

    @classmethod
    def from_recipe(cls, recipe: Mapping[str, Any], **given: Any) -> "PredictSettings":
        """The recipe's ``eval`` section with a tool's flags (``given``, None = not given) on
        top. A tile or size limit given without a mode turns tiling on."""
        ev = recipe.get("eval") or {}
        values: dict[str, Any] = {"mode": ev.get("mode") or "auto", "tile": ev.get("tile"),
                                  "overlap": ev.get("overlap"), "above": ev.get("tile_above"),
                                  "tta": ev.get("tta")}
        given = {k: v for k, v in given.items() if v is not None}
        if ("tile" in given or "above" in given) and "mode" not in given:
            given["mode"] = "slide"
        values.update(given)
        return cls(**{k: v for k, v in values.items() if v is not None})


@torch.inference_mode()
def forward_logits(model: torch.nn.Module, x: torch.Tensor, cfg: StepConfig) -> torch.Tensor:
    """float32 logits of ``model`` (eval mode) on a batch, under the run's autocast and memory format."""
    model.eval()
    if cfg.channels_last and x.ndim == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    with autocast(cfg.device, cfg.amp_dtype):
        return model(x).float()


def torch_step(model: torch.nn.Module, cfg: StepConfig) -> StepFn:
    """``step(x)`` for a PyTorch model: the batch moved to ``cfg.device``; a model held in
    bf16 (``hold_in_bf16``) runs without autocast (it normalises in float32 and hands bf16
    on), any other through ``forward_logits``."""
    p = next(model.parameters(), None)
    dtype = p.dtype if p is not None else torch.float32

    @torch.inference_mode()
    def step(x: torch.Tensor) -> torch.Tensor:
        x = x.to(cfg.device, non_blocking=cfg.non_blocking)
        if dtype in (torch.float32, torch.float64):
            return forward_logits(model, x, cfg)
        if cfg.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return model(x).float()

    return step


def tta_step(step: StepFn, tta: str | None) -> StepFn:
    """Test-time augmentation around a step: the mean of the logits of each transformed
    batch, transformed back. "flip": identity and horizontal flip; "d4": the 8 symmetries
    of the square (flips and right-angle turns; a non-square window turns too, which any
    model that takes any size accepts)."""
    if tta is None:
        return step
    if tta == "flip":
        ops = [(lambda t: t, lambda t: t), (lambda t: t.flip(-1), lambda t: t.flip(-1))]
    elif tta == "d4":
        ops = []
        for k in range(4):
            for flip in (False, True):
                def fwd(t: torch.Tensor, k: int = k, flip: bool = flip) -> torch.Tensor:
                    t = t.flip(-1) if flip else t
                    return torch.rot90(t, k, dims=(-2, -1))

                def back(t: torch.Tensor, k: int = k, flip: bool = flip) -> torch.Tensor:
                    t = torch.rot90(t, -k, dims=(-2, -1))
                    return t.flip(-1) if flip else t
                ops.append((fwd, back))
    else:
        raise RecipeError(f"tta {tta!r}: expected one of {', '.join(TTA)} or none")

    def augmented(x: torch.Tensor) -> torch.Tensor:
        total = None
        for fwd, back in ops:
            out = back(step(fwd(x).contiguous()))
            total = out if total is None else total + out
        return total / len(ops)

    return augmented


def activation_bytes_per_pixel(model: torch.nn.Module, cfg: StepConfig, in_chans: int = 3) -> float:
    """The largest single activation of ``model`` per input pixel, from one forward of a
    64x64 probe under the run's precision: what whole-image prediction holds per pixel."""
    largest = 0

    def hook(_m: torch.nn.Module, _i: Any, out: Any) -> None:
        nonlocal largest
        if isinstance(out, torch.Tensor):
            largest = max(largest, out.numel() * out.element_size())

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        torch_step(model, cfg)(torch.zeros(1, in_chans, 64, 64))
    finally:
        for h in handles:
            h.remove()
    return largest / (64 * 64)


class Predictor:
    """Images (raw pixels ``[N, C, H, W]``) -> float32 logits ``[N, K, H, W]`` on their device."""

    #: whole-image prediction holds about this many of its largest activations at once
    PEAK_FACTOR = 4

    def __init__(self, step: StepFn, settings: PredictSettings | None = None, *, min_tile: int = 1,
                 bytes_per_pixel: Callable[[], float] | float | None = None) -> None:
        self.settings = settings or PredictSettings()
        if self.settings.tile < min_tile and self.settings.mode != "whole":
            raise RecipeError(f"tile {self.settings.tile}: expected at least {min_tile} pixels, the model's "
                              "deepest stride (a smaller window holds less than one cell of its coarsest map)")
        self.min_tile = min_tile
        self.step = tta_step(step, self.settings.tta)
        self._bpp = bytes_per_pixel

    @classmethod
    def for_model(cls, model: torch.nn.Module, cfg: StepConfig, settings: PredictSettings | None = None
                  ) -> "Predictor":
        """A predictor of a PyTorch model; the tile must cover the model's deepest stride."""
        inner = getattr(model, "module", model)
        info = getattr(getattr(inner, "backbone", None), "feature_info", None) or []
        min_tile = max([int(getattr(f, "stride", 1)) for f in info] or [1])
        chans = int(getattr(getattr(inner, "backbone", None), "in_chans", 3))
        return cls(torch_step(model, cfg), settings, min_tile=min_tile,
                   bytes_per_pixel=lambda: activation_bytes_per_pixel(model, cfg, chans))

    def tiles(self, height: int, width: int) -> bool:
        """Whether an image of this size is predicted in windows."""
        s = self.settings
        if s.mode == "whole" or max(height, width) <= s.tile:
            return False
        if s.mode == "slide":
            return s.above is None or max(height, width) > s.above
        if callable(self._bpp):
            self._bpp = float(self._bpp())
        if self._bpp is None:
            return False
        return height * width * self._bpp * self.PEAK_FACTOR > s.memory_gib * 2**30

    def __call__(self, x: torch.Tensor, progress: bool = False) -> torch.Tensor:
        from ignite_zoo.engines.inference.sliding_window import sliding_window_logits

        if not self.tiles(*x.shape[-2:]):
            return self.step(x).to(x.device)
        s = self.settings
        return sliding_window_logits(None, x, s.tile, s.window_overlap, batch_tiles=s.batch_tiles, blend=s.blend,
                                     step_fn=self.step, progress=progress).to(x.device)
