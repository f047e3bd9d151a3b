"""bench/run.py --quick --json prints every row, each with a numeric value (no timing asserts).

The whole quick bench runs once, in one process, and each group's rows are checked on
their own. The fast tests below check the row shapes and the helpers with tiny inputs.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: One prefix per row; every prefix must name exactly one row. Row names go on with the
#: sizes, thread count and, for the peer, whether torchfcn was installed or rebuilt.
CONFIGS = ("fp32", "fp32 + channels_last", "bf16 autocast", "bf16 + channels_last")
PEER = [
    f"peer FCN32s {kind} {what}"
    for kind in ("inference", "train step")
    for what in ("images/s: this project", "images/s: torchfcn", "GFLOP/s: this project", "GFLOP/s: torchfcn",
                 "% of the bf16 matmul peak: this project", "% of the bf16 matmul peak: torchfcn",
                 "GFLOP/s ratio", "wall-time speedup", "FLOP ratio")
]
EXPECTED = {
    "machine": [
        "machine: load average",
        "machine: CPU cores",
        "machine: bf16 matmul speedup",
        "machine: intra-op threads picked",
    ],
    "trainer": [
        "trainer: plain PyTorch loop, CPU ms/iteration",
        "trainer: ignite trainer + run handlers, CPU ms/iteration",
        "trainer overhead: ignite / plain loop, wall time",
        "trainer overhead: ignite / plain loop, CPU time",
    ],
    "evaluator": [
        "evaluator: plain inference loop",
        "evaluator: ignite evaluator + mIoU + 3 mask snapshots",
        "evaluator overhead:",
    ],
    "compute": [
        "compute: matmul peak fp32",
        "compute: matmul peak bf16",
        *[f"compute: {m} train step, {c}: GFLOP/s" for m in ("VGG16 classifier", "FCN8s") for c in CONFIGS],
        *[f"compute: {m} train step, {c}: % of" for m in ("VGG16 classifier", "FCN8s") for c in CONFIGS],
        "compute: FCN8s train step speedup, bf16 + channels_last over fp32",
        "compute: FCN8s train step, best bf16 configuration",
    ],
    "heads": [
        "heads: matmul peak bf16",
        *[f"heads: {h} train step: {w}" for h in ("unet", "fpn", "deeplabv3plus", "upernet", "segformer")
          for w in ("images/s", "GFLOP/s", "% of bf16 matmul peak", "GFLOP per step")],
    ],
    "data": [
        "seg pipeline: cv2 + albumentations, RandomScaleCrop",
        "seg pipeline: cv2 + albumentations, RandomScale + RandomCrop chain",
        "seg pipeline: PIL + torchvision v2",
        "seg pipeline speedup over PIL + torchvision v2",
        "seg scale + crop alone: RandomScaleCrop, ms per sample",
        "seg scale + crop alone: RandomScale + RandomCrop(pad_if_needed) chain",
        "seg scale + crop alone: RandomScaleCrop time / chain time",
    ],
    "peer": ["peer: bf16 matmul peak", *PEER],
    "inference": [
        "inference: FCN32s images/s",
        "inference: FCN16s images/s",
        "inference: FCN8s images/s",
        "memory: peak RSS of FCN8s training",
    ],
    "scale": [],  # filled per branch: see SCALE below
    "soak": [
        "soak: RSS slope over epochs",
        "soak: RSS at epoch",
        "soak: RSS growth from epoch",
        "soak: largest RSS after epoch",
        "soak: open file descriptors, epoch",
        "soak: open file descriptors, before -> after",
    ],
}


#: The scale group's rows; with a module missing, one failed row per figure, under the same
#: prefixes as the target rows.
SCALE_TILED = [
    "scale: peak RSS of tiled prediction",
    "scale: tiled prediction, no overlap, megapixels/s",
    "scale: whole-image prediction, megapixels/s",
    "scale: tiled / whole-image prediction, megapixels/s ratio",
    "scale: tiled / whole-image megapixels/s with overlap",
]
SCALE_ONNX = [
    "scale: ONNX Runtime fp32 images/s",
    "scale: PyTorch fp32 images/s",
    "scale: PyTorch as tools/predict.py runs it",
    "scale: ONNX Runtime / PyTorch fp32 inference, images/s ratio",
    "scale: ONNX Runtime / PyTorch bf16",
]


def scale_expected() -> list[str]:
    from bench import scale

    tiled = SCALE_TILED if not scale.missing(scale.SLIDE) else [scale.RSS_NAME, scale.TILED_NAME]
    onnx = SCALE_ONNX if not scale.missing(scale.EXPORT, "onnxruntime", "onnxscript") else [scale.ONNX_NAME]
    return tiled + onnx


#: Rows a group may add any number of (one per matmul kernel the build has).
OPTIONAL = {"compute": ["compute: matmul fp32 ", "compute: matmul bf16 "]}


def check_rows(rows: list[dict], prefixes: list[str], optional: list[str] = ()) -> None:
    names = [r["name"] for r in rows]
    for prefix in prefixes:
        hits = [n for n in names if n.startswith(prefix)]
        assert len(hits) == 1, f"{prefix!r}: {len(hits)} rows ({hits})"
    unknown = [n for n in names if not any(n.startswith(p) for p in (*prefixes, *optional))]
    assert not unknown, f"rows no expected prefix names: {unknown}"
    for r in rows:
        assert set(r) == {"name", "value", "unit", "target", "met"}, r
        v = r["value"]
        assert isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v), r
        assert r["target"] is None or isinstance(r["target"], str), r
        assert (r["met"] is None) == (r["target"] is None), r
        assert r["met"] in (None, True, False), r


def group_prefixes(group: str) -> tuple[list[str], list[str]]:
    return (scale_expected() if group == "scale" else EXPECTED[group]), OPTIONAL.get(group, [])


@pytest.fixture(scope="module")
def quick_rows(repo_root) -> list[dict]:
    """Every group of the quick bench in one process (one torch import, one machine probe)."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", MPLBACKEND="Agg")
    out = subprocess.run([sys.executable, str(repo_root / "bench" / "run.py"), "--quick", "--json",
                          "--only", ",".join(EXPECTED)], cwd=str(repo_root), env=env, capture_output=True,
                         text=True, timeout=1200)
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("group", list(EXPECTED))
def test_quick_json_has_every_row_with_numbers(quick_rows, group):
    expected, optional = group_prefixes(group)
    mine = [r for r in quick_rows if any(r["name"].startswith(p) for p in (*expected, *optional))]
    check_rows(mine, expected, optional)


@pytest.mark.slow
def test_every_quick_row_belongs_to_a_group(quick_rows):
    known = [p for g in EXPECTED for p in (*group_prefixes(g)[0], *group_prefixes(g)[1])]
    assert not [r["name"] for r in quick_rows if not any(r["name"].startswith(p) for p in known)]


def test_targets_parse():
    from bench.common import check, row

    assert check(1.01, "<= 1.02") is True
    assert check(1.03, "<= 1.02") is False
    assert check(7.9, "< 8") is True
    assert check(float("nan"), ">= 2") is False
    assert check(5.0, None) is None
    assert row("x", 2.0, "x", ">= 1.5") == {"name": "x", "value": 2.0, "unit": "x", "target": ">= 1.5", "met": True}
    with pytest.raises(ValueError):
        check(1.0, "about 1")


def test_peak_source_names_the_case_and_the_fallbacks():
    from bench.common import peak_source

    both = {"fp32 torch.matmul": 30.0, "fp32 oneDNN": 40.0, "bf16 torch.matmul": 70.0, "bf16 oneDNN": 160.0}
    assert peak_source("bf16", both) == "bf16 oneDNN measured"
    assert peak_source("fp32", both) == "fp32 oneDNN measured"
    no_dnn = {"fp32 torch.matmul": 30.0, "bf16 torch.matmul": 70.0}
    assert "fallback: oneDNN unavailable for bf16" in peak_source("bf16", no_dnn)
    emulated = {"fp32 oneDNN": 40.0, "bf16 torch.matmul": 5.0}
    assert "no bf16 units" in peak_source("bf16", emulated)


def test_matmul_cases_run_and_count_flops():
    from bench.common import matmul_cases

    cases = matmul_cases(8, times=1, tags=("bf16",))
    assert "bf16 torch.matmul" in cases and not any(k.startswith("fp32") for k in cases)
    for run, flops in cases.values():
        run()
        assert flops == 2 * 8 ** 3


def test_shared_data_follows_the_env_var(monkeypatch, tmp_path):
    from bench.common import ROOT, shared_data

    monkeypatch.setenv("IGNITE_ZOO_SHARED_DATA", str(tmp_path))
    assert shared_data() == tmp_path
    monkeypatch.delenv("IGNITE_ZOO_SHARED_DATA")
    assert shared_data() == ROOT.parent / "shared" / "data"


def test_data_rows_at_tiny_size():
    """Two images, one repeat: every side runs and the faster scale + crop step is named."""
    from bench import data_pipeline

    rows = data_pipeline.run(quick=True, n=2, repeats=1)
    check_rows(rows, EXPECTED["data"])
    last = rows[-1]
    assert ("faster: albumentations' chain" in last["name"]) == (last["value"] > 1), last


def test_both_scale_crops_make_the_same_crop_size_with_nearest_masks():
    """Same work on every side: a 512x512 crop of image and mask from a 512x512 sample."""
    import numpy as np

    from bench import data_pipeline
    from ignite_zoo.zoo.data.transforms import build_transforms

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)
    mask = 5 * rng.integers(0, 2, (512, 512), dtype=np.uint8)  # ids 0 and 5 only
    for spec in (data_pipeline.PROJECT_CROP, data_pipeline.CHAIN_CROP):
        x, y = build_transforms(spec, "segmentation")(image, mask)
        assert tuple(x.shape) == (3, 512, 512) and tuple(y.shape) == (512, 512)
        assert set(np.unique(y.numpy())) <= {0, 5, data_pipeline.UNKNOWN}  # nearest: no blended ids


def test_soak_rows_target_a_slope_in_full_mode_only():
    from bench.soak import rows_from, rss_slope

    def result(epochs: int, leak: float) -> dict:
        samples = [(e, 500.0 + leak * e + (3.0 if e == epochs else 0.0), 40) for e in range(1, epochs + 1)]
        return {"samples": samples, "fds_before": 40, "fds_after": 40, "checkpoints": []}

    assert rss_slope({e: 2.0 * e + 1 for e in range(10, 20)}, 10) == pytest.approx(2.0)
    flat = rows_from(result(200, 0.0), 200, quick=False)
    check_rows(flat, EXPECTED["soak"])
    assert flat[0]["target"] == "<= 0.1" and flat[0]["met"] is True  # a late 3 MiB step is not a leak
    assert all(r["met"] is not False for r in flat)
    leaking = rows_from(result(200, 0.5), 200, quick=False)
    assert leaking[0]["met"] is False and leaking[0]["value"] == pytest.approx(0.5, abs=0.01)
    quick = rows_from(result(20, 0.5), 20, quick=True)
    check_rows(quick, EXPECTED["soak"])
    assert all(r["target"] is None and r["met"] is None for r in quick)
    assert "indicative" in quick[0]["name"]


def test_scale_rows_fail_with_the_reason_when_a_module_is_missing(monkeypatch):
    from bench import scale

    assert scale.missing("json") is None
    assert scale.missing("no_such_module_here") == "no_such_module_here"
    assert scale.missing("json.no_such_submodule") == "json.no_such_submodule"  # parent is a module
    monkeypatch.setattr(scale, "SLIDE", "no_such_module_here.sliding_window")
    monkeypatch.setattr(scale, "EXPORT", "no_such_module_here.export")
    rows = scale.run(quick=True, threads=1)
    check_rows(rows, [scale.RSS_NAME, scale.TILED_NAME, scale.ONNX_NAME])
    assert all("FAILED, not measured (no_such_module_here" in r["name"] and "cannot be imported" in r["name"]
               and r["met"] is False and r["target"] for r in rows)


def _scale_missing() -> str | None:
    from bench import scale

    return scale.missing(scale.SLIDE)


scale_available = pytest.mark.skipif(_scale_missing() is not None,
                                     reason="engines.inference.sliding_window cannot be imported")


@scale_available
def test_tiled_rows_at_tiny_size():
    """A 1/8-width FCN8s, 64x64 image in 32-pixel tiles: the functions behind the rows run."""
    from bench import scale

    peak, source = scale.tiled_peak_rss(64, 1, width=0.125, hidden=32, tile=32, overlap=8)
    assert peak > 10 and source in ("VmHWM", "ru_maxrss")
    r = scale.tiled_vs_whole(64, 1, width=0.125, hidden=32, tile=32, overlap=8)
    assert r["images"] == 4 and all(v > 0 for v in r["mps"].values()) and r["ratio"] > 0
    with pytest.raises(ValueError):
        scale.tiled_vs_whole(48, 1, width=0.125, hidden=32, tile=32)


@scale_available
def test_onnx_rows_at_tiny_size():
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from bench import scale

    r = scale.onnx_vs_torch(64, 1, 1, 1, width=0.125, hidden=32)
    assert r["max_abs_diff"] < 1e-3 and all(v > 0 for v in r["ips"].values())
