"""Timing and memory helpers shared by the benchmarks.

Every comparison runs its cases interleaved (A, B, B, A, A, B, ...) with a garbage
collection before each timed run, and compares medians, so a load spike or a slow drift
on a shared machine hits every case alike instead of deciding the result.
"""
from __future__ import annotations

import gc
import os
import re
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
import tools._checkout  # noqa: E402,F401  (``ignite_zoo`` names this checkout)

os.environ.setdefault("HF_HUB_OFFLINE", "1")

MIB = 1024 * 1024


def shared_data() -> Path:
    """The course's sample data: ``IGNITE_ZOO_SHARED_DATA``, else ``../shared/data`` beside
    the repository (as the tests find it). It may not exist; callers fall back to generated data."""
    return Path(os.environ.get("IGNITE_ZOO_SHARED_DATA", ROOT.parent / "shared" / "data"))


# --------------------------------------------------------------------------------------
# rows
# --------------------------------------------------------------------------------------
def check(value: float, target: str | None) -> bool | None:
    """Whether ``value`` meets ``target`` (``"<= 1.02"``, ``">= 60"``, ``"< 8192"``; None: no target)."""
    if target is None:
        return None
    m = re.fullmatch(r"\s*(<=|>=|<|>|==)\s*([-+0-9.eE]+)\s*", target)
    if not m:
        raise ValueError(f"target {target!r}: expected '<= x', '>= x', '< x', '> x' or '== x'")
    op, bound = m.group(1), float(m.group(2))
    if value != value:  # NaN never meets a target
        return False
    return {"<=": value <= bound, ">=": value >= bound, "<": value < bound,
            ">": value > bound, "==": value == bound}[op]


def row(name: str, value: float, unit: str, target: str | None = None, digits: int = 3) -> dict[str, Any]:
    """One result row ``{name, value, unit, target, met}``."""
    value = float(value)
    shown = (int(round(value)) if digits == 0 else round(value, digits)) if value == value else value
    return {"name": name, "value": shown, "unit": unit, "target": target, "met": check(value, target)}


def normalise(r: Mapping[str, Any]) -> dict[str, Any]:
    """A row from another module with a numeric target (``2.0``: at least 2) as a target string."""
    out = dict(r)
    t = out.get("target")
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        out["target"] = f">= {t:g}"
    return out


# --------------------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------------------
def interleaved(cases: Mapping[str, Callable[[], Any]], repeats: int, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per run of each case, ``repeats`` runs each after ``warmup`` untimed runs.

    Each repeat runs every case once; the order reverses every other repeat (ABBA), so a
    case never always runs right after the same neighbour.
    """
    names = list(cases)
    for _ in range(warmup):
        for n in names:
            cases[n]()
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        for n in (names if r % 2 == 0 else names[::-1]):
            gc.collect()
            t0 = time.perf_counter()
            cases[n]()
            times[n].append(time.perf_counter() - t0)
    return times


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


def paired_ratio(a: Sequence[float], b: Sequence[float]) -> float:
    """Median over repeats of ``a[i] / b[i]`` (each pair ran back to back)."""
    return median([x / y for x, y in zip(a, b)])


# --------------------------------------------------------------------------------------
# machine
# --------------------------------------------------------------------------------------
def _status_kib(key: str, pid: str = "self") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return float(line.split()[1])
    return float("nan")


def rss_mib() -> float:
    """Resident set size of this process now."""
    return _status_kib("VmRSS") / 1024


def peak_rss_mib() -> float:
    """The largest resident set size this process has had (VmHWM)."""
    return _status_kib("VmHWM") / 1024


def fd_count() -> int:
    """Open file descriptors of this process."""
    return len(os.listdir("/proc/self/fd"))


@contextmanager
def threads(n: int | None) -> Iterator[None]:
    """torch intra-op threads set to ``n`` inside the block (None: unchanged)."""
    import torch

    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def matmul_cases(n: int, times: int = 2, tags: Sequence[str] = ("fp32", "bf16")
                 ) -> dict[str, tuple[Callable[[], Any], float]]:
    """``{label: (run, flops)}``: ``times`` n x n matmuls per run in fp32 and bf16, each
    through ``torch.matmul`` and through oneDNN (``torch.utils.mkldnn``'s linear layer).

    On CPUs where MKL's sgemm does not take its fastest path (AMD), ``torch.matmul`` in fp32
    reaches a fraction of what oneDNN (the library behind CPU convolutions) does, so the
    machine's fp32 peak is the better of the two; bf16 ``torch.matmul`` already runs on
    oneDNN. A build without oneDNN, or a CPU where oneDNN refuses bf16, has no oneDNN case
    for that dtype (``peak_source`` says so).
    """
    import warnings

    import torch
    from torch.utils import mkldnn

    g = torch.Generator().manual_seed(0)
    out: dict[str, tuple[Callable[[], Any], float]] = {}
    flops = 2.0 * n ** 3 * times
    for dtype, tag in ((torch.float32, "fp32"), (torch.bfloat16, "bf16")):
        if tag not in tags:
            continue
        a = torch.randn(n, n, generator=g).to(dtype)
        b = torch.randn(n, n, generator=g).to(dtype)
        c = torch.empty(n, n, dtype=dtype)

        def mm(a=a, b=b, c=c) -> None:
            for _ in range(times):
                torch.matmul(a, b, out=c)

        out[f"{tag} torch.matmul"] = (mm, flops)
        if not torch.backends.mkldnn.is_available():
            continue
        try:
            linear = torch.nn.Linear(n, n, bias=False)
            with torch.no_grad():
                linear.weight.copy_(b.float().t())
            with warnings.catch_warnings():  # the module is TorchScript, which now warns on every use
                warnings.simplefilter("ignore")
                layer = mkldnn.to_mkldnn(linear, dtype)
                am = a.to_mkldnn()
                with torch.no_grad():
                    layer(am)
        except (RuntimeError, AssertionError):  # oneDNN without this dtype on this CPU
            continue

        def dnn(layer=layer, am=am) -> None:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for _ in range(times):
                    layer(am)

        out[f"{tag} oneDNN"] = (dnn, flops)
    return out


def peak_source(tag: str, gflops: Mapping[str, float]) -> str:
    """Where the ``tag`` ("fp32" / "bf16") peak came from, given the GFLOP/s of each matmul case.

    The peak is the best case of that dtype; the words say which one, and name the fallback
    when oneDNN had no case for the dtype (no oneDNN in this build, or no bf16 on this CPU) or
    when bf16 ran no faster than fp32 (no bf16 units: bf16 is emulated and its "peak" is slow).
    """
    own = {k: v for k, v in gflops.items() if k.startswith(tag + " ")}
    if not own:
        return f"no {tag} matmul measured"
    best = max(own, key=own.get)
    text = f"{best} measured"
    if f"{tag} oneDNN" not in own:
        text += f" (fallback: oneDNN unavailable for {tag})"
    if tag == "bf16":
        fp32 = [v for k, v in gflops.items() if k.startswith("fp32 ")]
        if fp32 and own[best] <= max(fp32):
            text += " (no faster than fp32: this CPU has no bf16 units)"
    return text
