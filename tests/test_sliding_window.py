"""Tiled prediction: window placement, blending, equality with whole-image prediction where the
tile covers the image, agreement with mmsegmentation's slide_inference, and bounded inputs."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from ignite_zoo.engines.inference.predict import SlideSettings, predict_logits_auto
from ignite_zoo.engines.inference.sliding_window import sliding_window_logits, window_starts, window_weights
from ignite_zoo.registry.errors import RecipeError


def conv_model(kernel: int = 3, k: int = 5) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, kernel, padding=kernel // 2), nn.ReLU(), nn.Conv2d(8, k, 1)).eval()


def tiny_fcn8s() -> nn.Module:
    from ignite_zoo.zoo import build_model

    torch.manual_seed(0)
    model = build_model({"backbone": {"type": "vgg16", "width": 0.125},
                         "head": {"type": "fcn8s", "num_classes": 7, "hidden": 16}}).eval()
    with torch.no_grad():
        for p in model.parameters():  # untrained skip layers are zero; make every path count
            p.add_(0.05 * torch.randn_like(p))
    return model


def mmseg_slide(model: nn.Module, x: torch.Tensor, tile: int, stride: int, k: int) -> torch.Tensor:
    """mmsegmentation's EncoderDecoder.slide_inference, as written there (count-matrix mean)."""
    b, _, h_img, w_img = x.shape
    h_grids = max(h_img - tile + stride - 1, 0) // stride + 1
    w_grids = max(w_img - tile + stride - 1, 0) // stride + 1
    preds = x.new_zeros((b, k, h_img, w_img))
    count = x.new_zeros((b, 1, h_img, w_img))
    for h_idx in range(h_grids):
        for w_idx in range(w_grids):
            y1, x1 = h_idx * stride, w_idx * stride
            y2, x2 = min(y1 + tile, h_img), min(x1 + tile, w_img)
            y1, x1 = max(y2 - tile, 0), max(x2 - tile, 0)
            out = model(x[:, :, y1:y2, x1:x2])
            preds += nn.functional.pad(out, (x1, w_img - x2, y1, h_img - y2))
            count[:, :, y1:y2, x1:x2] += 1
    return preds / count


def test_window_starts_cover_the_axis_and_end_at_the_border():
    assert window_starts(100, 128, 96) == [0]
    assert window_starts(128, 128, 96) == [0]
    assert window_starts(1000, 512, 384) == [0, 384, 488]
    for size, tile, stride in ((1000, 512, 384), (97, 32, 24), (65, 64, 1), (300, 100, 100)):
        starts = window_starts(size, tile, stride)
        covered = torch.zeros(size, dtype=torch.bool)
        for s in starts:
            covered[s:s + tile] = True
        assert covered.all() and starts[-1] + tile == size and all(b - a <= stride for a, b in zip(starts, starts[1:]))


@pytest.mark.parametrize("blend", ["gaussian", "linear", "mean"])
def test_weights_are_positive_and_peak_at_the_centre(blend):
    w = window_weights(33, 20, blend)
    assert w.shape == (33, 20) and (w > 0).all() and w.dtype == torch.float32
    assert w[16, 9:11].max() == pytest.approx(w.max().item())
    if blend != "mean":
        assert w[0, 0] < w[16, 10] / 10


@pytest.mark.parametrize("blend", ["gaussian", "linear", "mean"])
def test_a_tile_covering_the_image_is_whole_image_prediction(blend):
    model = tiny_fcn8s()
    x = torch.randn(2, 3, 40, 56)
    with torch.inference_mode():
        whole = model(x)
    for tile in (64, (40, 56), 1000):
        out = sliding_window_logits(model, x, tile, overlap=16, blend=blend)
        assert out.dtype == torch.float32 and out.device.type == "cpu"
        assert torch.equal(out, whole)


@pytest.mark.parametrize("blend", ["gaussian", "linear", "mean"])
def test_pointwise_model_tiles_to_the_whole_image_result(blend):
    """A model whose output at a pixel depends only on that pixel gives every window the
    whole image's logits, so any weighting must reproduce them: the normalisation is exact."""
    model = conv_model(kernel=1)
    x = torch.randn(1, 3, 70, 45)
    with torch.inference_mode():
        whole = model(x)
    out = sliding_window_logits(model, x, 32, overlap=12, batch_tiles=3, blend=blend)
    torch.testing.assert_close(out, whole, rtol=1e-5, atol=1e-5)


def test_mean_blend_matches_mmsegmentation_slide_inference():
    model = tiny_fcn8s()
    x = torch.randn(1, 3, 100, 77)
    with torch.inference_mode():
        ref = mmseg_slide(model, x, 48, 32, 7)
    out = sliding_window_logits(model, x, 48, overlap=16, blend="mean", batch_tiles=5)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    with torch.inference_mode():
        whole = model(x)
    assert not torch.allclose(out, whole, atol=1e-4)  # tiles see less context: a real difference


def test_result_does_not_depend_on_the_window_batch_and_inputs_stay_tile_sized():
    model = tiny_fcn8s()
    x = torch.randn(2, 3, 90, 70)
    seen: list[tuple[int, ...]] = []

    def step(t: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(t.shape))
        return model(t).float()

    a = sliding_window_logits(None, x, 32, overlap=8, step_fn=step, batch_tiles=1)
    n_windows = len(seen) // 2
    assert n_windows == len(window_starts(90, 32, 24)) * len(window_starts(70, 32, 24))
    seen.clear()
    b = sliding_window_logits(None, x, 32, overlap=8, step_fn=step, batch_tiles=4)
    assert max(s[0] for s in seen) == 4 and all(s[2:] == (32, 32) for s in seen)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)  # batch size changes conv kernels slightly
    one = sliding_window_logits(None, x[1], 32, overlap=8, step_fn=step)  # [C, H, W] works too
    torch.testing.assert_close(one[0], a[1], rtol=1e-4, atol=1e-5)


def test_predict_logits_auto_whole_and_slide():
    from ignite_zoo.engines.runtime import resolve_amp
    from ignite_zoo.engines.trainer import StepConfig

    model = tiny_fcn8s()
    cfg = StepConfig(device=torch.device("cpu"), amp_dtype=resolve_amp(False, torch.device("cpu")),
                     channels_last=False, non_blocking=False)
    x = torch.randn(1, 3, 64, 96)
    whole = predict_logits_auto(model, x, cfg, "whole")
    with torch.inference_mode():
        torch.testing.assert_close(whole, model(x))
    covering = predict_logits_auto(model, x, cfg, "slide", tile=128, overlap=32)
    assert torch.equal(covering, whole)
    tiled = predict_logits_auto(model, x, cfg, "slide", tile=32, overlap=16)
    assert tiled.shape == whole.shape and tiled.device == x.device
    with pytest.raises(RecipeError, match="eval.mode"):
        predict_logits_auto(model, x, cfg, "tiles")


def test_bad_arguments():
    model = conv_model()
    x = torch.randn(1, 3, 64, 64)
    with pytest.raises(ValueError, match="overlap"):
        sliding_window_logits(model, x, 32, overlap=32)
    with pytest.raises(ValueError, match="blend"):
        sliding_window_logits(model, x, 32, overlap=8, blend="max")
    with pytest.raises(RecipeError, match="overlap 512"):
        SlideSettings(mode="slide", tile=512, overlap=512)


def test_slide_settings_from_recipe_and_flags():
    recipe = {"eval": {"mode": "slide", "tile": 256, "overlap": 64}}
    s = SlideSettings.from_recipe(recipe)
    assert (s.mode, s.tile, s.overlap, s.above) == ("slide", 256, 64, None) and s.tiles(100, 100)
    assert SlideSettings.from_recipe({}).mode == "whole" and not SlideSettings.from_recipe({}).tiles(9000, 9000)
    s = SlideSettings.from_recipe({}, tile=None, above=1024)
    assert s.mode == "slide" and s.tile == 512 and not s.tiles(1024, 1000) and s.tiles(1025, 10)
    s = SlideSettings.from_recipe(recipe, tile=128, overlap=None)
    assert (s.tile, s.overlap) == (128, 64)
    s = SlideSettings.from_recipe({}, tile=64)  # no overlap anywhere: a quarter of the tile
    assert (s.mode, s.tile, s.overlap) == ("slide", 64, 16)
