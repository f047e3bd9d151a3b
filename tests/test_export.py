"""ONNX export: dynamic sizes, the metadata a deployment needs, ONNX Runtime logits equal to
PyTorch's, prediction from the .onnx file equal to prediction from the run, no overwriting."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ignite_zoo.engines.inference.onnx_model import OnnxModel
from tests.helpers import call_tool
from tests.test_predict import CLS, SEG_TINY, make_run, predict_tool, read_ids, write_images

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def export_tool(*argv, capsys) -> tuple[int, str, str]:
    return call_tool("export", *argv, capsys=capsys)


@pytest.fixture(scope="module")
def fcn8s(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export_seg")
    run = make_run(tmp / "run", overrides=(*SEG_TINY, "model.head.type=fcn8s", "train.amp=false"))
    from ignite_zoo.engines.inference.export import export_onnx

    result = export_onnx(run, tmp / "fcn8s.onnx")
    return run, result


def _torch_logits(run, x: np.ndarray) -> np.ndarray:
    from ignite_zoo.engines.checkpoint import load_model

    model, _ = load_model(run)
    with torch.inference_mode():
        return model(torch.from_numpy(x)).numpy()


def test_fcn8s_exports_with_dynamic_sizes_and_matches_pytorch(fcn8s):
    from ignite_zoo.engines.inference.onnx_model import OnnxModel

    run, result = fcn8s
    assert result.dynamic == ["batch", "height", "width"]
    assert 0 < result.max_abs_diff < 1e-5 * result.max_abs_logit
    model = OnnxModel(result.path)
    rng = np.random.default_rng(0)
    for shape in ((1, 3, 64, 64), (2, 3, 40, 72), (1, 3, 97, 33)):
        x = rng.uniform(0, 255, shape).astype(np.float32)  # raw pixels: the graph normalises
        got, ref = model.run(x), _torch_logits(run, x)
        assert got.shape == (shape[0], 7, *shape[2:])
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())


def test_metadata_carries_classes_palette_and_recipe_and_no_normalisation_copy(fcn8s):
    import yaml

    from ignite_zoo.zoo.data import CLASSES, PALETTE

    run, result = fcn8s
    props = {p.key: p.value for p in onnx.load(str(result.path)).metadata_props}
    assert "ignite_zoo.mean" not in props and "ignite_zoo.std" not in props  # inside the graph, as buffers
    assert json.loads(props["ignite_zoo.classes"]) == list(CLASSES)
    assert [tuple(c) for c in json.loads(props["ignite_zoo.palette"])] == list(PALETTE)
    assert props["ignite_zoo.input_channels"] == "3" and props["ignite_zoo.task"] == "segmentation"
    recipe = yaml.safe_load(props["ignite_zoo.recipe"])
    assert recipe["model"]["head"]["type"] == "fcn8s" and recipe["model"]["backbone"]["width"] == 0.125


def test_predict_from_onnx_writes_the_runs_masks(fcn8s, tmp_path, capsys):
    run, result = fcn8s
    images = write_images(tmp_path / "images")
    code, _, err = predict_tool(run, images, tmp_path / "from_run", capsys=capsys)
    assert code == 0, err
    code, _, err = predict_tool(result.path, images, tmp_path / "from_onnx", capsys=capsys)
    assert code == 0, err
    assert "onnxruntime" in err
    a, b = read_ids(tmp_path / "from_run"), read_ids(tmp_path / "from_onnx")
    assert a.keys() == b.keys() and len(a) == 3
    for name in a:
        assert np.array_equal(a[name], b[name]), name
    code, _, err = predict_tool(result.path, images, tmp_path / "tiled_onnx", "--tile", "32", "--overlap", "8",
                                capsys=capsys)
    assert code == 0, err
    code, _, err = predict_tool(result.path, images, tmp_path / "tiny_onnx", "--tile", "16", capsys=capsys)
    assert code == 2 and "expected at least 32 pixels" in err  # the file knows its deepest stride


def test_an_export_with_a_non_default_normalisation_predicts_the_runs_masks(tmp_path, capsys):
    """0.1 copied Normalize into metadata, scaled the wrong way round (255 / max_pixel_value):
    a recipe normalising with max_pixel_value 1 exported a mean of 31537. Now the graph holds
    the run's buffers, and its masks are the run's."""
    from ignite_zoo.engines.checkpoint import load_model

    norm = "model.normalize={mean: [100.0, 50.0, 10.0], std: [30.0, 40.0, 50.0], max_pixel_value: 1}"
    run = make_run(tmp_path / "run", overrides=(*SEG_TINY, "model.head.type=fcn8s", "train.amp=false", norm))
    model, _ = load_model(run)
    assert model.pixel_mean.flatten().tolist() == [100.0, 50.0, 10.0]
    code, _, err = export_tool(run, "--onnx", tmp_path / "norm.onnx", capsys=capsys)
    assert code == 0, err
    x = np.random.default_rng(3).integers(0, 256, (1, 3, 48, 40)).astype(np.float32)
    ref = _torch_logits(run, x)
    got = OnnxModel(tmp_path / "norm.onnx").run(x)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())
    images = write_images(tmp_path / "images")
    assert predict_tool(run, images, tmp_path / "from_run", capsys=capsys)[0] == 0
    assert predict_tool(tmp_path / "norm.onnx", images, tmp_path / "from_onnx", capsys=capsys)[0] == 0
    a, b = read_ids(tmp_path / "from_run"), read_ids(tmp_path / "from_onnx")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_classifier_exports_and_runs_at_two_sizes(tmp_path, capsys):
    from ignite_zoo.engines.inference.onnx_model import OnnxModel

    run = make_run(tmp_path / "cls", CLS, ("model.backbone.width=0.125", "model.head.hidden=16",
                                           "model.head.pool_size=1"))
    code, out, err = export_tool(run, "--onnx", tmp_path / "cls.onnx", capsys=capsys)
    assert code == 0, err
    assert "dynamic axes: batch, height, width" in out
    model = OnnxModel(tmp_path / "cls.onnx")
    assert model.classes == [str(i) for i in range(10)] and model.palette is None
    rng = np.random.default_rng(1)
    for shape in ((3, 3, 32, 32), (1, 3, 64, 48)):
        x = rng.uniform(0, 255, shape).astype(np.float32)
        ref = _torch_logits(run, x)
        np.testing.assert_allclose(model.run(x), ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())


def test_a_model_onnx_cannot_run_at_every_size_is_exported_for_one(tmp_path, capsys):
    """Adaptive pooling to 7x7 is fixed to the example's map size by the exporter, silently;
    the export notices (a second size disagrees) and fixes the input size instead."""
    from ignite_zoo.engines.inference.onnx_model import OnnxModel
    from ignite_zoo.registry.errors import RunError

    run = make_run(tmp_path / "cls7", CLS, ("model.backbone.width=0.125", "model.head.hidden=16"))
    code, out, err = export_tool(run, "--onnx", tmp_path / "cls7.onnx", capsys=capsys)
    assert code == 0, err
    assert "dynamic axes: batch;" in out and "warning: Classifier gives other logits" in err
    model = OnnxModel(tmp_path / "cls7.onnx")
    x = np.random.default_rng(2).uniform(0, 255, (2, 3, 32, 32)).astype(np.float32)
    ref = _torch_logits(run, x)
    np.testing.assert_allclose(model.run(x), ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())
    with pytest.raises(RunError, match="shape"):
        model.run(np.zeros((1, 3, 64, 48), np.float32))


def test_export_never_overwrites_without_being_asked(fcn8s, tmp_path, capsys):
    run, _ = fcn8s
    target = tmp_path / "model.onnx"
    target.write_bytes(b"a user's file")
    code, _, err = export_tool(run, "--onnx", target, capsys=capsys)
    assert code == 2 and f"--onnx {target}: exists" in err and "--overwrite" in err
    assert target.read_bytes() == b"a user's file"
    code, _, err = export_tool(run, "--onnx", target, "--overwrite", capsys=capsys)
    assert code == 0, err
    assert onnx.load(str(target)).graph.input[0].name == "image"
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary file left behind
