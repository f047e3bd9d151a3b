"""The geotiff dataset, band statistics and the demo scenes, on tiny rasters written by rasterio."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

rasterio = pytest.importorskip("rasterio")
from rasterio.transform import from_origin  # noqa: E402

from ignite_zoo.registry.errors import DataError, RecipeError  # noqa: E402

CLASSES = {"classes": [{"value": 10, "name": "water", "colour": [0, 0, 255]},
                       {"value": 20, "name": "forest", "colour": [0, 128, 0]}]}


def write(path, data, nodata=None, origin=(500000.0, 5500000.0), crs="EPSG:32633", dtype=None):
    data = data if data.ndim == 3 else data[None]
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
                       dtype=dtype or data.dtype.name, crs=crs, transform=from_origin(*origin, 10, 10),
                       nodata=nodata) as dst:
        dst.write(data)
    return path


@pytest.fixture
def scenes(tmp_path):
    """root/{train,validation}/{images,masks}/s.tif: 5-band uint16 (band b = 100 * b), nodata 0
    in the first 8 columns; mask 10 left half, 20 right half, garbage 77 under the nodata."""
    root = tmp_path / "scenes"
    for split in ("train", "validation"):
        img = np.stack([np.full((40, 48), 100 * b, np.uint16) for b in range(1, 6)])
        img[:, :, :8] = 0
        mask = np.where(np.arange(48) < 24, 10, 20).astype(np.uint8)[None].repeat(40, 0)
        mask[:, :8] = 77
        write(root / split / "images" / "s.tif", img, nodata=0)
        write(root / split / "masks" / "s.tif", mask)
    (root / "classes.json").write_text(json.dumps(CLASSES))
    return root


def geotiff(root, split="train", **kw):
    from ignite_zoo.zoo.data.geotiff import GeoTiff

    return GeoTiff(root, split, None, **kw)


def test_bands_are_chosen_and_ordered_raw_and_nodata_is_ignored(scenes):
    ds = geotiff(scenes, "validation", bands=[5, 1, 3], window=16)
    x, y = ds[len(ds) - 1]  # bottom-right window: no nodata
    assert x.dtype == torch.float32 and tuple(x.shape) == (3, 16, 16)
    assert x[:, 0, 0].tolist() == [500.0, 100.0, 300.0]  # raw values, in the asked order
    x0, y0 = ds[0]  # top-left window: 8 nodata columns with garbage labels
    assert (y0[:, :8] == 255).all() and (y0[:, 8:] == 0).all()
    assert (x0[:, :, :8] == 0).all()
    assert ds.info.classes == ("water", "forest") and ds.info.ignore_index == 255
    assert ds.info.palette == ((0, 0, 255), (0, 128, 0))


def test_validation_is_a_grid_covering_every_pixel(scenes):
    ds = geotiff(scenes, "validation", window=16)
    assert len(ds) == 3 * 3  # rows 0, 16, 24; columns 0, 16, 32
    assert sorted({y for _, y, _ in ds.grid}) == [0, 16, 24] and sorted({x for _, _, x in ds.grid}) == [0, 16, 32]


def test_training_windows_are_windowed_reads_and_count_windows_per_epoch(scenes, monkeypatch):
    from rasterio.io import DatasetReader

    reads = []
    original = DatasetReader.read

    def spy(self, *args, **kwargs):
        reads.append(kwargs.get("window"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DatasetReader, "read", spy)
    ds = geotiff(scenes, window=16, windows_per_epoch=7)
    assert len(ds) == 7
    loader = torch.utils.data.DataLoader(ds, batch_size=2, shuffle=True, drop_last=False)
    assert sum(len(x) for x, _ in loader) == 7
    assert reads and all(w is not None and (w.height, w.width) == (16, 16) for w in reads)


def test_rgb_only_transform_on_five_bands_names_it_and_the_band_count(scenes):
    from ignite_zoo.zoo.data.geo_transforms import band_pipeline

    with pytest.raises(RecipeError, match=r"data.train.transforms\[1\] \(ColorJitter\).*5 bands"):
        band_pipeline([{"type": "HorizontalFlip"}, {"type": "ColorJitter"}], 5, where="data.train.transforms")
    pipe = band_pipeline([{"type": "HorizontalFlip", "p": 1.0}, {"type": "RandomRotate90"}], 5)
    x, y = pipe(np.ones((8, 8, 5), np.float32) * 1234.0, np.zeros((8, 8), np.uint8))
    assert tuple(x.shape) == (5, 8, 8) and float(x.max()) == 1234.0  # no Normalize


def test_nodata_with_garbage_labels_leaves_loss_and_metric_unchanged(scenes, tmp_path):
    from ignite_zoo.engines.metrics import confusion_from_ids

    ds = geotiff(scenes, "validation", window=16)
    clean = scenes.parent / "clean"
    for split in ("validation",):
        for sub in ("images", "masks"):
            src = scenes / split / sub / "s.tif"
            with rasterio.open(src) as s:
                data = s.read()
            if sub == "masks":
                data[:, :, :8] = 20  # other garbage under the nodata
            write(clean / split / sub / "s.tif", data, nodata=0 if sub == "images" else None)
    (clean / "classes.json").write_text(json.dumps(CLASSES))
    other = geotiff(clean, "validation", window=16)
    loss = torch.nn.CrossEntropyLoss(ignore_index=255)
    logits = torch.randn(1, 2, 16, 16, generator=torch.Generator().manual_seed(0))
    for i in range(len(ds)):
        (_, a), (_, b) = ds[i], other[i]
        assert torch.equal(a, b)
        assert loss(logits, a[None]).item() == loss(logits, b[None]).item()
        assert torch.equal(confusion_from_ids(logits.argmax(1), a[None], 2), confusion_from_ids(logits.argmax(1), b[None], 2))


def test_class_table_forms_and_errors(tmp_path):
    from ignite_zoo.zoo.data.geo import load_classes, parse_classes

    t = parse_classes({20: "forest", 10: {"name": "water", "colour": "#0000ff"}})
    assert t.values == (10, 20) and t.names == ("water", "forest") and t.colours[0] == (0, 0, 255)
    assert t.ids(np.array([10, 20, 5, 300]), 255).tolist() == [0, 1, 255, 255]
    with pytest.raises(RecipeError, match="class value 'x'"):
        parse_classes({"x": "a"})
    with pytest.raises(DataError, match="classes.yaml"):
        load_classes(None, tmp_path)


def test_stats_file_and_auto_normalize(scenes):
    from ignite_zoo.zoo.data.stats import compute_stats, resolve_normalize, write_stats

    with pytest.raises(RecipeError, match="ignite-zoo stats"):
        resolve_normalize({"mean": "auto", "std": "auto"}, scenes)
    stats = compute_stats(scenes, "train", windows=4, window=16)
    assert stats["mean"] == [100.0 * b for b in range(1, 6)] and stats["std"] == [0.0] * 5
    assert stats["nodata_share"] == pytest.approx(8 / 48, abs=0.2) and stats["nodata_share"] > 0
    assert set(stats["class_frequency"]) == {"water", "forest"}
    write_stats(scenes, stats)
    got = resolve_normalize({"mean": "auto", "std": "auto"}, {"root": str(scenes), "args": {"bands": [4, 2]}})
    assert got == {"mean": [400.0, 200.0], "std": [0.0, 0.0], "max_pixel_value": 1.0}
    assert resolve_normalize({"mean": [1], "std": [2]}, scenes) == {"mean": [1], "std": [2]}


def test_demo_scenes_are_projected_uint16_with_a_nodata_border(tmp_path):
    from ignite_zoo.zoo.data.synthetic_geotiff import make_geotiff_demo

    assert make_geotiff_demo(tmp_path / "d", n_train=1, n_val=1, size=96) is True
    assert make_geotiff_demo(tmp_path / "d", n_train=1, n_val=1, size=96) is False
    with rasterio.open(tmp_path / "d" / "train" / "images" / "scene_00.tif") as s:
        assert s.count == 4 and s.dtypes[0] == "uint16" and s.crs.to_epsg() == 32633 and s.nodata == 0
        assert (s.read(1)[:, 0] == 0).all()
    ds = geotiff(tmp_path / "d", window=32, windows_per_epoch=2)
    assert ds.info.num_classes == 4 and ds[0][0].shape[0] == 4


@pytest.mark.slow
def test_five_band_model_trains_predicts_scenes_and_exports(tmp_path, capsys):
    """A 5-band geotiff run end to end: train, predict a scene onto its map grid, export to ONNX."""
    from helpers import REPO, call_tool

    from ignite_zoo.zoo.data.synthetic_geotiff import write_scene

    root = tmp_path / "five"
    rng = np.random.default_rng(0)
    for split in ("train", "validation"):
        ids = (np.arange(64)[None] // 32 + np.zeros((64, 1), int)).astype(np.uint8) + 1
        img = (rng.normal(1000, 50, (5, 64, 64)) + 3000 * (ids == 2)[None]).astype(np.uint16)
        for sub, data in (("images", img), ("masks", ids)):
            (root / split / sub).mkdir(parents=True)
            write_scene(root / split / sub / "s.tif", data, (500000.0, 5500000.0), 0)
    (root / "classes.json").write_text(json.dumps(CLASSES | {"classes": [{"value": 1, "name": "a"},
                                                                          {"value": 2, "name": "b"}]}))
    overrides = [f"data.root={root}", "data.args.bands=[1,2,3,4,5]", "data.args.window=32",
                 "data.args.windows_per_epoch=4", "data.loader.batch_size=2", "model.backbone.in_chans=5",
                 "model.backbone.width=0.125", "model.head.num_classes=2", "model.head.hidden=16",
                 "model.input_size=[5,32,32]", "model.normalize.mean=1000", "model.normalize.std=1000",
                 "train.epochs=1", "handlers.progress=false", f"out.dir={tmp_path / 'run'}", "train.amp=false"]
    code, out, err = call_tool("run", REPO / "recipes" / "seg_geotiff_demo.yaml", *overrides, capsys=capsys)
    assert code == 0, err[-3000:]
    code, out, err = call_tool("predict", tmp_path / "run", root / "validation" / "images" / "s.tif",
                               tmp_path / "pred", "--no-progress", "--tile", "32", capsys=capsys)
    assert code == 0, err[-3000:]
    with rasterio.open(tmp_path / "pred" / "s.tif") as p, rasterio.open(root / "validation" / "images" / "s.tif") as s:
        assert p.crs == s.crs and p.transform == s.transform and p.shape == s.shape
    code, out, err = call_tool("export", tmp_path / "run", "--onnx", tmp_path / "m.onnx", capsys=capsys)
    assert code == 0, err[-3000:]
    assert (tmp_path / "m.onnx").stat().st_size > 0
