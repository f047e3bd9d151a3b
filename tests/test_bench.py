"""Every bench group's rows, each with a numeric value (no timing asserts).

Each group runs here, in this process, at tiny sizes: its own ``run`` builds the rows from
its real measuring functions, called with small models, images and one repeat (the
``tiny`` table below). The quick bench itself (``python bench/run.py --quick``) is a step
of its own in CI, after the test suite. The other tests check the helpers with tiny inputs.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any, Callable

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
    "quality": [
        *[f"quality: {side}: {what}" for side in ("FCN8s 1/4 VGG16-BN baseline", "seg_fcn8s_vgg16bn_sat_cpu")
          for what in ("val mIoU after", "Rangeland IoU", "wall time")],
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
    "scale: peak RSS of prediction with no tiling flag",
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


def _shrink(monkeypatch, module: Any, name: str, wrap: Callable[[Callable], Callable]) -> None:
    monkeypatch.setattr(module, name, wrap(getattr(module, name)))


def _small_vgg(model: dict) -> dict:
    """A VGG16 model spec at 1/8 width with a narrow FCN / classifier head (others unchanged)."""
    backbone, head = dict(model["backbone"]), dict(model["head"])
    if backbone.get("type") == "vgg16":
        backbone["width"] = 0.125
        if head.get("type", "").startswith("fcn") or head.get("type") == "classifier":
            head["hidden"] = 32
    return {**model, "backbone": backbone, "head": head}


def tiny(group: str, monkeypatch, got: dict | None = None) -> Callable[[], list[dict]]:
    """``bench/run.py``'s group ``group`` at tiny sizes: the same ``run`` and row names, with
    the matmul peaks at 64x64, small models and images, one repeat. ``got``: what the
    measuring functions returned, by name (scale's)."""
    got = {} if got is None else got
    import bench.common
    import ignite_zoo.zoo.model
    from bench import run as bench_run

    def small_matmul(f):
        return lambda n, *a, **k: f(64, *a, **k)

    for module in (bench.common, bench_run):
        if hasattr(module, "matmul_cases"):
            _shrink(monkeypatch, module, "matmul_cases", small_matmul)
    if group == "machine":
        return lambda: bench_run.machine(True, bench_run.thread_speedup(True), 1)
    if group == "trainer":
        from bench import trainer_overhead as m

        monkeypatch.setattr(m, "EPOCH_LEN", 2)
        monkeypatch.setattr(m, "BATCH", 2)
        _shrink(monkeypatch, m, "measure", lambda f: lambda pairs: f(1))
    elif group == "evaluator":
        from bench import evaluator_overhead as m

        _shrink(monkeypatch, ignite_zoo.zoo.model, "build_model", lambda f: lambda spec, *a, **k: f(_small_vgg(spec), *a, **k))
        monkeypatch.setattr(m, "SNAPSHOT_IDS", ["0000", "0001", "0002"])
        _shrink(monkeypatch, m, "measure", lambda f: lambda n, size, batch, repeats: f(4, 32, 2, 1))
    elif group == "compute":
        from bench import compute_efficiency as m

        _shrink(monkeypatch, m, "matmul_cases", small_matmul)
        _shrink(monkeypatch, ignite_zoo.zoo.model, "build_model", lambda f: lambda spec, *a, **k: f(_small_vgg(spec), *a, **k))
        _shrink(monkeypatch, m, "measure", lambda f: lambda kind, size, batch, repeats: f(kind, 32, 1, 1))
    elif group == "heads":
        from bench import heads as m

        _shrink(monkeypatch, m, "matmul_cases", small_matmul)
        monkeypatch.setattr(m, "BACKBONE", {"type": "vgg16", "width": 0.125})  # every head reads any backbone
        _shrink(monkeypatch, m, "_step", lambda f: lambda head, size, batch: f(head, 64, 1))
    elif group == "data":
        from bench import data_pipeline as m

        _shrink(monkeypatch, m, "run", lambda f: lambda quick, n=None, repeats=None: f(quick, n=2, repeats=1))
    elif group == "peer":
        from bench import peer_torchfcn as m

        _shrink(monkeypatch, m, "matmul_cases", small_matmul)
        _shrink(monkeypatch, ignite_zoo.zoo.model, "build_model", lambda f: lambda spec, *a, **k: f(_small_vgg(spec), *a, **k))
        monkeypatch.setattr(m, "_torchfcn_fcn32s", lambda: (None, "not installed"))  # the rebuilt geometry, shrunk alike
        _shrink(monkeypatch, m, "_caffe_fcn32s", lambda f: lambda n_class: f(n_class, width=0.125, hidden=32))
        _shrink(monkeypatch, m, "measure", lambda f: lambda size, batch, repeats: f(32, 1, 1))
    elif group == "inference":
        from bench import inference as m

        _shrink(monkeypatch, ignite_zoo.zoo.model, "build_model", lambda f: lambda spec, *a, **k: f(_small_vgg(spec), *a, **k))
        _shrink(monkeypatch, m, "throughput", lambda f: lambda size, batch, repeats: f(32, 1, 1))
        _shrink(monkeypatch, m, "training_peak_rss", lambda f: lambda size, batch, steps, n: f(32, 1, 1, 1, 0.125, 32))
    elif group == "scale":
        from bench import scale as m

        small = {"width": 0.125, "hidden": 32}

        def keep(name: str, f: Callable) -> Callable:
            def call(*a: Any, **k: Any) -> Any:
                got[name] = f(*a, **k)
                return got[name]
            return call

        _shrink(monkeypatch, m, "tiled_peak_rss", lambda f: lambda size, n, tile=m.TILE, **k: keep(
            f"rss tile {tile}", f)(64, 1, **small, tile=32 if tile else 0, overlap=8))
        _shrink(monkeypatch, m, "tiled_vs_whole", lambda f: lambda size, repeats, **k: keep("tiled", f)(
            64, 1, **small, tile=32, overlap=8))
        _shrink(monkeypatch, m, "onnx_vs_torch", lambda f: lambda size, batch, repeats, n, *a, **k: keep("onnx", f)(
            64, 1, 1, 1, **small))
    elif group == "quality":
        from bench import quality as m
        from tests.conftest import SHARED_DATA

        if not (SHARED_DATA / "sat512").is_dir():
            pytest.skip(f"the real tiles are not at {SHARED_DATA / 'sat512'}: the quality group has no rows")

        def in_process(recipe, overrides, root, out):  # the same run as tools/run.py, without a new Python
            import json
            import time

            from ignite_zoo.engines.launch import run_experiment
            from ignite_zoo.registry.recipe import load_recipe

            start = time.perf_counter()
            run_experiment(load_recipe(recipe, [f"data.root={root}", f"out.dir={out}", *m.QUIET, *overrides,
                                                "train.threads=1"]))
            return json.loads((out / "metrics.json").read_text())["final"], time.perf_counter() - start

        monkeypatch.setattr(m, "train", in_process)
    elif group == "soak":
        from bench import soak as m

        return lambda: m.rows_from(m.soak(4), 4, quick=True)  # bench/run.py runs it in a child: same rows
    return lambda: bench_run._group(group)(True, 1)


@pytest.mark.parametrize("group", list(EXPECTED))
def test_group_rows_at_tiny_size(group, monkeypatch):
    """The group's own ``run`` at tiny sizes: one row per expected prefix, no row outside
    them, every value a finite number, targets and ``met`` consistent."""
    got: dict[str, Any] = {}
    rows = tiny(group, monkeypatch, got)()
    check_rows(rows, *group_prefixes(group))
    if group == "scale":
        check_scale_measurements(got)


def check_scale_measurements(got: dict[str, Any]) -> None:
    """A 1/8-width FCN8s, 64x64 image in 32-pixel tiles: the functions behind the scale rows
    measure what they say (those whose module is missing did not run)."""
    if "rss tile 32" in got:
        for key in ("rss tile 32", "rss tile 0"):
            peak, source = got[key]
            assert peak > 10 and source in ("VmHWM", "ru_maxrss"), (key, got[key])
    if "tiled" in got:
        r = got["tiled"]
        assert r["images"] == 4 and all(v > 0 for v in r["mps"].values()) and r["ratio"] > 0, r
    if "onnx" in got:
        r = got["onnx"]
        assert r["max_abs_diff"] < 1e-3 and all(v > 0 for v in r["ips"].values()), r


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
def test_tiles_must_divide_the_image():
    from bench import scale

    with pytest.raises(ValueError):
        scale.tiled_vs_whole(48, 1, width=0.125, hidden=32, tile=32)
