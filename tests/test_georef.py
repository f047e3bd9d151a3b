"""Georeferenced prediction and scoring on tiny rasters written by rasterio (fake step functions)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

rasterio = pytest.importorskip("rasterio")
from rasterio.transform import from_origin  # noqa: E402

from ignite_zoo.registry.errors import DataError  # noqa: E402

ORIGIN = (612345.0, 5432100.0)  # map coordinates of the scene's top-left corner (EPSG:32633, 10 m pixels)
NAMES, COLOURS, VALUES = ("land", "water"), ((200, 180, 120), (0, 0, 255)), (1, 2)


def write(path, data, nodata=None, origin=ORIGIN, crs="EPSG:32633", pixel=10.0):
    data = data if data.ndim == 3 else data[None]
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
                       dtype=data.dtype.name, crs=crs, transform=from_origin(*origin, pixel, pixel),
                       nodata=nodata) as dst:
        dst.write(data)
    return path


def water_box(height=280, width=300):
    """Band 2 is 5000 inside the map box x 613345-614345, y 5430100-5431100 (1 km squares), else 100."""
    img = np.full((3, height, width), 100, np.uint16)
    c0, c1 = int((613345 - ORIGIN[0]) / 10), int((614345 - ORIGIN[0]) / 10)
    r0, r1 = int((ORIGIN[1] - 5431100) / 10), int((ORIGIN[1] - 5430100) / 10)
    img[1, r0:r1, c0:c1] = 5000
    img[:, -20:, :] = 0  # nodata strip at the bottom
    return img


def threshold_step(x):
    """Logits of 'water' where band 2 (raw values) is above 1000: no model, no training."""
    water = (x[:, 1] > 1000).float()
    return torch.stack([1 - water, water], 1) * 4.0


def predict(src, out, **kw):
    from ignite_zoo.engines.inference.georef import predict_scene

    args = dict(tile=64, overlap=16, classes=NAMES, colours=COLOURS, values=VALUES, progress=False, panel=256)
    return predict_scene(kw.pop("step", threshold_step), src, out, **{**args, **kw})


def test_output_grid_equals_the_source_and_map_positions_match(tmp_path):
    src = write(tmp_path / "scene.tif", water_box(), nodata=0)
    r = predict(src, tmp_path / "pred.tif", probabilities=True)
    with rasterio.open(src) as s, rasterio.open(r.out_path) as p, rasterio.open(r.probabilities_path) as q:
        for o in (p, q):
            assert o.crs == s.crs and o.transform == s.transform and (o.width, o.height) == (s.width, s.height)
        assert p.count == 1 and p.dtypes[0] == "uint8" and p.nodata == 0 and q.count == 2
        assert p.colormap(1)[2] == (0, 0, 255, 255)
        ids = p.read(1)
        for x, y, want in ((613400, 5431000, 2), (614300, 5430150, 2), (613300, 5431000, 1), (614400, 5430500, 1),
                           (612400, 5431500, 1)):
            row, col = p.index(x, y)
            assert ids[row, col] == want, (x, y)
        assert (ids[-20:] == 0).all() and (ids[:-20] != 0).all()  # nodata where the source has none
        prob = q.read()
        assert prob[1][ids == 2].min() > 200 and prob[0][ids == 1].min() > 200


def test_blending_and_panels_give_the_whole_scene_sliding_window_result(tmp_path):
    from ignite_zoo.engines.inference.sliding_window import sliding_window_logits

    rng = np.random.default_rng(0)
    img = rng.integers(1, 3000, (3, 150, 530)).astype(np.uint16)
    src = write(tmp_path / "noise.tif", img)
    conv = torch.nn.Conv2d(3, 2, 9, padding=4)  # context-dependent: blending matters
    torch.nn.init.normal_(conv.weight, std=1e-3)

    def step(x):
        with torch.no_grad():
            return conv(x)

    r = predict(src, tmp_path / "p.tif", step=step, values=(0, 1))
    want = sliding_window_logits(None, torch.from_numpy(img.astype(np.float32)), 64, 16, step_fn=step).argmax(1)[0]
    with rasterio.open(r.out_path) as p:
        got = p.read(1)
    assert (got == want.numpy()).mean() > 0.999


def test_nodata_only_windows_are_not_predicted(tmp_path):
    img = water_box()
    img[:, :, :150] = 0
    calls = []

    def step(x):
        calls.append(len(x))
        return threshold_step(x)

    r = predict(write(tmp_path / "s.tif", img, nodata=0), tmp_path / "p.tif", step=step)
    assert r.skipped > 0 and sum(calls) == r.windows


def test_evaluation_aligns_offset_grids_by_map_coordinates(tmp_path):
    from ignite_zoo.engines.inference.georef_eval import evaluate_rasters
    from ignite_zoo.zoo.data.geo import parse_classes

    table = parse_classes({1: "land", 2: "water"})
    rng = np.random.default_rng(1)
    big = rng.integers(1, 3, (60, 80)).astype(np.uint8)   # truth over a larger area
    pred = big[10:40, 15:65].copy()                         # the prediction: a window 10 rows, 15 columns in
    pred[0, :5] = 0                                         # nodata in the prediction
    write(tmp_path / "truth.tif", big, nodata=0, origin=ORIGIN)
    write(tmp_path / "pred.tif", pred, nodata=0, origin=(ORIGIN[0] + 150, ORIGIN[1] - 100))
    r = evaluate_rasters(tmp_path / "pred.tif", tmp_path / "truth.tif", table)
    assert r["miou"] == 1.0 and r["pixels"] == 30 * 50 - 5
    # the same pixels compared by index (both grids from the origin) would not match
    write(tmp_path / "pred0.tif", pred, nodata=0, origin=ORIGIN)
    assert evaluate_rasters(tmp_path / "pred0.tif", tmp_path / "truth.tif", table)["miou"] < 0.7

    write(tmp_path / "utm32.tif", pred, nodata=0, crs="EPSG:32632")
    with pytest.raises(DataError, match="CRS"):
        evaluate_rasters(tmp_path / "utm32.tif", tmp_path / "truth.tif", table)
    write(tmp_path / "far.tif", pred, nodata=0, origin=(ORIGIN[0] + 1e5, ORIGIN[1]))
    with pytest.raises(DataError, match="do not overlap"):
        evaluate_rasters(tmp_path / "far.tif", tmp_path / "truth.tif", table)
    write(tmp_path / "half.tif", pred, nodata=0, origin=(ORIGIN[0] + 5, ORIGIN[1]))
    with pytest.raises(DataError, match="fraction of a pixel"):
        evaluate_rasters(tmp_path / "half.tif", tmp_path / "truth.tif", table)


def test_evaluate_tool_scores_geotiffs(tmp_path, capsys):
    from helpers import call_tool

    truth = np.where(np.arange(40) < 20, 1, 2).astype(np.uint8)[None].repeat(30, 0)
    (tmp_path / "gt").mkdir()
    (tmp_path / "pr").mkdir()
    write(tmp_path / "gt" / "a.tif", truth, nodata=0)
    pred = truth.copy()
    pred[:, 18:20] = 2
    write(tmp_path / "pr" / "a.tif", pred, nodata=0)
    write(tmp_path / "pr" / "a_probabilities.tif", np.zeros((2, 30, 40), np.uint8))  # predict --probabilities
    (tmp_path / "gt" / "classes.json").write_text(json.dumps({"1": "land", "2": "water"}))
    code, out, err = call_tool("evaluate", tmp_path / "pr", tmp_path / "gt", "--json", capsys=capsys)
    assert code == 0, err
    got = json.loads(out)
    assert got["iou"]["land"] == pytest.approx(18 / 20) and got["miou"] == pytest.approx((18 / 20 + 20 / 22) / 2)


def test_geo_bench_rows_with_tiny_scenes():
    from bench import geo

    rows = geo.run(quick=True, sizes=(96, 192), read_size=256, reads=4)
    names = [r["name"] for r in rows]
    for prefix in (geo.RSS_NAME, geo.RSS_RATIO_NAME, geo.READ_NAME, geo.WHOLE_NAME, geo.READ_RATIO_NAME):
        assert sum(n.startswith(prefix) for n in names) == 1, (prefix, names)
    assert all(isinstance(r["value"], float) and r["value"] > 0 for r in rows)
