"""Tiled ("slide") prediction of images too large to run whole.

The scheme follows mmsegmentation's ``EncoderDecoder.slide_inference``: windows of
``tile`` pixels step by ``tile - overlap``; the last window of a row or column is moved
back to end at the image border, so every window is full-size and none hangs over the
edge. Logits of overlapping windows are blended with per-pixel weights and divided by the
summed weights. Unlike mmsegmentation, which adds every window with weight 1, the default
weight falls off towards the window's border (a Gaussian, as nnU-Net does), because a
convolutional network sees less context there and is less sure.

Memory stays bounded by the window batch: only ``batch_tiles`` windows are on the device at
once, and the only whole-image array is the float32 ``[K, H, W]`` sum of logits on the CPU
(plus its ``[H, W]`` weight sum). An image no larger than the tile runs as one window, the
tile clipped to the image, which is exactly whole-image prediction.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

BLENDS = ("gaussian", "linear", "mean")


def window_starts(size: int, tile: int, stride: int) -> list[int]:
    """Start offsets along one axis: every ``stride``, the last one ending at ``size``."""
    if size <= tile:
        return [0]
    n = math.ceil((size - tile) / stride) + 1
    return sorted({min(i * stride, size - tile) for i in range(n)})


def window_weights(height: int, width: int, blend: str = "gaussian") -> torch.Tensor:
    """float32 ``[H, W]`` blending weights of one window, all positive, 1 at the centre."""
    def axis(n: int) -> torch.Tensor:
        i = torch.arange(n, dtype=torch.float64)
        if blend == "gaussian":  # sigma 1/8 of the window, as nnU-Net
            sigma = max(n / 8.0, 1.0)
            w = torch.exp(-0.5 * ((i - (n - 1) / 2) / sigma) ** 2)
        elif blend == "linear":  # a tent: 1 at the centre, falling to 1/ceil(n/2) at the edges
            w = torch.minimum(i + 1, n - i) / math.ceil(n / 2)
        elif blend == "mean":
            w = torch.ones(n, dtype=torch.float64)
        else:
            raise ValueError(f"blend {blend!r}: expected one of {', '.join(BLENDS)}")
        return w.clamp(min=1e-3)  # no pixel of a window is worthless: the image border has one window

    return (axis(height)[:, None] * axis(width)[None, :]).float()


def _pair(v: int | Sequence[int], name: str) -> tuple[int, int]:
    h, w = (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))
    if h < 1 or w < 1:
        raise ValueError(f"{name} must be positive, got {v!r}")
    return h, w


@torch.inference_mode()
def sliding_window_logits(
    model: torch.nn.Module | None,
    image: torch.Tensor,
    tile: int | Sequence[int],
    overlap: int | Sequence[int] = 0,
    num_classes: int | None = None,
    batch_tiles: int = 4,
    blend: str = "gaussian",
    step_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """float32 logits ``[N, K, H, W]`` on the CPU of ``image`` ``[N, C, H, W]`` (or ``[C, H, W]``).

    ``step_fn(windows) -> logits`` runs the model on a batch of windows (it moves them to
    its device); without it ``model(windows)`` is called. ``num_classes`` defaults to the
    channels of the first window's logits. ``progress`` shows a bar for an image of more
    than one window batch.
    """
    from tqdm import tqdm

    if blend not in BLENDS:
        raise ValueError(f"blend {blend!r}: expected one of {', '.join(BLENDS)}")
    if image.ndim == 3:
        image = image[None]
    if image.ndim != 4:
        raise ValueError(f"image must be [N, C, H, W] or [C, H, W], got shape {tuple(image.shape)}")
    if batch_tiles < 1:
        raise ValueError(f"batch_tiles must be positive, got {batch_tiles}")
    if step_fn is None:
        if model is None:
            raise ValueError("give a model or a step_fn")
        step_fn = lambda x: model(x).float()  # noqa: E731
    n, _, height, width = image.shape
    th, tw = _pair(tile, "tile")
    oh, ow = _pair(overlap, "overlap") if overlap else (0, 0)
    th, tw = min(th, height), min(tw, width)
    if oh >= th and height > th or ow >= tw and width > tw:
        raise ValueError(f"overlap {overlap!r} must be smaller than the tile {tile!r}")
    ys = window_starts(height, th, th - oh if height > th else 1)
    xs = window_starts(width, tw, tw - ow if width > tw else 1)
    windows = [(y, x) for y in ys for x in xs]
    if len(windows) == 1:  # the tile covers the image: whole-image prediction, exactly
        return step_fn(image).float().cpu()

    weights = window_weights(th, tw, blend)
    out: list[torch.Tensor] = []
    for i in range(n):
        logits: torch.Tensor | None = None
        norm = torch.zeros(height, width, dtype=torch.float32)
        steps = range(0, len(windows), batch_tiles)
        bar = tqdm(steps, desc=f"tiles {height}x{width}", unit="batch", leave=False, dynamic_ncols=True,
                   disable=not progress or len(steps) < 2)
        for start in bar:
            chunk = windows[start:start + batch_tiles]
            crops = torch.stack([image[i, :, y:y + th, x:x + tw] for y, x in chunk])
            pred = step_fn(crops).float().cpu()
            if logits is None:
                k = num_classes or pred.shape[1]
                logits = torch.zeros(k, height, width, dtype=torch.float32)
            for (y, x), p in zip(chunk, pred):
                logits[:, y:y + th, x:x + tw].addcmul_(p, weights)
                norm[y:y + th, x:x + tw] += weights
        out.append(logits.div_(norm))
    return torch.stack(out)
