"""Where and how a run computes: device, autocast dtype, threads, seeds.

bf16 autocast is the CPU fast path (about 2x over fp32 on CPUs with bf16 units); fp16 on
CPU is hundreds of times slower, so it is refused rather than silently used.
"""
from __future__ import annotations

import contextlib
import logging
import os
from typing import Any, ContextManager

import torch
from ignite.utils import manual_seed

from ignite_zoo.registry.errors import RecipeError
from ignite_zoo.registry.process import keep_freed_memory  # noqa: F401  (re-exported)

log = logging.getLogger("engines")


def resolve_device(name: str, key: str = "train.device") -> torch.device:
    """``"auto"`` -> the local CUDA device when there is one (per process rank), else CPU.
    ``key`` names where the value came from in errors (a tool's ``--device``)."""
    if name == "auto":
        if torch.cuda.is_available():
            local_rank = int(os.environ.get("LOCAL_RANK", 0))
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device("cpu")
    expected = "expected 'auto', 'cpu' or 'cuda[:N]'"
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise RecipeError(f"{key}: {name!r} is not a device; {expected}") from None
    if device.type not in ("cpu", "cuda", "mps"):
        raise RecipeError(f"{key}: {name!r} is not a device this project runs on; {expected}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RecipeError(f"{key}: {name!r} asked for, but CUDA is not available here; use 'auto' or 'cpu'")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise RecipeError(f"{key}: {name!r} asked for, but this machine has {torch.cuda.device_count()} CUDA "
                          f"device(s) (cuda:0..cuda:{torch.cuda.device_count() - 1})")
    return device


def cpu_has_bf16() -> bool:
    """Whether this CPU has bf16 units (AVX512-BF16 or AMX), where bf16 autocast trains about
    twice as fast as fp32; elsewhere bf16 is emulated and slower. Read from the CPU's own
    flags (Linux), since torch offers no public query; unknown counts as no."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def resolve_amp(amp: bool | str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``train.amp`` on ``device`` (None = full precision).

    ``"auto"``/``True``: bf16 on CPUs with bf16 units and on CUDA devices that support it,
    fp16 on older CUDA devices, otherwise off.
    """
    if amp is False:
        return None
    if device.type == "cpu":
        if amp == "fp16":
            raise RecipeError(
                "train.amp: 'fp16' on CPU runs hundreds of times slower than fp32; use 'bf16', 'auto' or false"
            )
        if amp == "bf16":
            return torch.bfloat16
        return torch.bfloat16 if cpu_has_bf16() else None
    if device.type == "cuda":
        if amp == "fp16":
            return torch.float16
        if amp == "bf16" or torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float16
    return None


def autocast(device: torch.device, dtype: torch.dtype | None) -> ContextManager[Any]:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def set_threads(threads: int | None) -> None:
    if threads is not None:  # the recipe schema has checked it is >= 1
        torch.set_num_threads(threads)


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's generators (ignite's ``manual_seed``; CUDA too).

    numpy takes seeds below 2**32 only, so larger ones wrap around, for every generator alike.
    """
    manual_seed(seed % 2**32)


def set_deterministic(on: bool) -> None:
    """Deterministic kernels, for runs that must resume to bit-identical weights."""
    torch.use_deterministic_algorithms(on, warn_only=True)
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.benchmark = not on
        torch.backends.cudnn.deterministic = on
