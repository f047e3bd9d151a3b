"""``model.input_scale``: the model resizes its input before the backbone and its logits back,
so a coarse-label task trains at a fraction of the cost while callers (loss, metric,
predictor, ONNX) still see H x W in and H x W out."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ignite_zoo.registry.errors import RecipeError
from ignite_zoo.zoo.model import SegmentationModel, build_model

CFG = {"backbone": {"type": "vgg16_bn", "width": 0.125},
       "head": {"type": "unet", "num_classes": 3, "decoder_channels": [16, 16, 8, 8, 8]}}


def pixels(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) * 255


@pytest.fixture(scope="module")
def scaled() -> SegmentationModel:
    torch.manual_seed(0)
    return build_model({**CFG, "input_scale": 0.5}).eval()


def test_half_scale_is_the_full_model_on_the_resized_image_with_logits_resized_back(scaled):
    h, w = 250, 333
    x = pixels(1, 3, h, w)
    full = SegmentationModel(scaled.backbone, scaled.head, scaled.pixel_mean.flatten().tolist(),
                             scaled.pixel_std.flatten().tolist()).eval()  # the same weights at scale 1
    small = F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)
    assert small.shape[-2:] == (125, 166)
    with torch.inference_mode():
        expected = F.interpolate(full(small), size=(h, w), mode="bilinear", align_corners=False)
        got = scaled(x)
    assert got.shape == (1, 3, h, w)
    torch.testing.assert_close(got, expected)


def test_half_scale_downsampling_is_a_2x2_box_average():
    x = pixels(2, 3, 64, 96)
    torch.testing.assert_close(F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False),
                               F.avg_pool2d(x, 2))


def test_gradients_reach_every_input_pixel_and_the_loss_sees_h_by_w(scaled):
    x = pixels(1, 3, 70, 90).requires_grad_(True)
    logits = scaled.train()(x)
    scaled.eval()
    assert logits.shape[-2:] == (70, 90)
    F.cross_entropy(logits, torch.zeros(1, 70, 90, dtype=torch.long)).backward()
    assert (x.grad.abs().sum(dim=1) > 0).float().mean() > 0.99


@pytest.mark.parametrize("value", [0, -0.5, 1.5, "half", True])
def test_a_bad_input_scale_names_the_key(value):
    with pytest.raises(RecipeError, match=r"model.input_scale: expected a number in \(0, 1\]"):
        build_model({**CFG, "input_scale": value})


def test_a_classifier_refuses_an_input_scale():
    cfg = {"backbone": {"type": "vgg16", "width": 0.125}, "head": {"type": "classifier", "num_classes": 5},
           "input_scale": 0.5}
    with pytest.raises(RecipeError, match="model.input_scale: 0.5 is for segmentation models"):
        build_model(cfg)


def test_onnx_carries_the_scale(scaled):
    from tests.test_modern_heads import onnx_parity

    assert onnx_parity(scaled, sizes=((250, 333), (64, 96))).max() < 1e-4
