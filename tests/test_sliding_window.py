"""Tiled prediction: window placement, blending, equality with whole-image prediction where the
tile covers the image, agreement with mmsegmentation's slide_inference, and bounded inputs."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from ignite_zoo.engines.inference.sliding_window import sliding_window_logits, window_starts, window_weights


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


def test_bad_arguments():
    model = conv_model()
    x = torch.randn(1, 3, 64, 64)
    with pytest.raises(ValueError, match="overlap"):
        sliding_window_logits(model, x, 32, overlap=32)
    with pytest.raises(ValueError, match="blend"):
        sliding_window_logits(model, x, 32, overlap=8, blend="max")




@pytest.mark.parametrize("blend", ["gaussian", "linear"])
def test_the_blend_argument_weights_the_windows(blend):
    """The overlap is a weighted mean with ``window_weights(blend)``, recomputed here window by
    window; a model whose output depends on the window (zero padding at its borders) makes
    every blend give another result, so a blend ignored (always the mean) fails."""
    model = conv_model(kernel=5)
    torch.manual_seed(1)
    x = torch.randn(1, 3, 40, 40)
    tile, overlap = 24, 12
    with torch.no_grad():
        out = sliding_window_logits(model, x, tile, overlap=overlap, blend=blend)
        mean = sliding_window_logits(model, x, tile, overlap=overlap, blend="mean")
        w = window_weights(tile, tile, blend)
        num, den = torch.zeros(5, 40, 40), torch.zeros(40, 40)
        for y in window_starts(40, tile, tile - overlap):
            for x0 in window_starts(40, tile, tile - overlap):
                num[:, y:y + tile, x0:x0 + tile] += model(x[:, :, y:y + tile, x0:x0 + tile])[0] * w
                den[y:y + tile, x0:x0 + tile] += w
    assert torch.allclose(out[0], num / den, atol=1e-5)
    assert (out - mean).abs().max() > 1e-3
