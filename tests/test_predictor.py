"""engines.predictor: the one way images become logits (whole, tiled, auto; flip/D4 TTA)."""
from __future__ import annotations

import pytest
import torch

from ignite_zoo.engines.predictor import PredictSettings, Predictor, forward_logits, tta_step
from ignite_zoo.engines.step import StepConfig
from ignite_zoo.registry.errors import RecipeError

CPU = StepConfig(device=torch.device("cpu"))


def tiny_fcn8s() -> torch.nn.Module:
    from ignite_zoo.zoo import build_model

    torch.manual_seed(0)
    return build_model({"backbone": {"type": "vgg16", "width": 0.125},
                        "head": {"type": "fcn8s", "num_classes": 3, "hidden": 16}}).eval()


def pixels(*shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(0)) * 255


def test_whole_slide_and_a_tile_covering_the_image():
    model = tiny_fcn8s()
    x = pixels(1, 3, 64, 96)
    whole = Predictor.for_model(model, CPU, PredictSettings(mode="whole"))(x)
    torch.testing.assert_close(whole, forward_logits(model, x, CPU))
    covering = Predictor.for_model(model, CPU, PredictSettings(mode="slide", tile=128, overlap=32))(x)
    assert torch.equal(covering, whole)
    tiled = Predictor.for_model(model, CPU, PredictSettings(mode="slide", tile=32, overlap=16))(x)
    assert tiled.shape == whole.shape and not torch.equal(tiled, whole)
    with pytest.raises(RecipeError, match="eval.mode"):
        PredictSettings(mode="tiles")


def test_auto_tiles_only_images_whose_activations_exceed_the_limit():
    model = tiny_fcn8s()
    calls = []

    def bpp() -> float:
        calls.append(1)
        return 1000.0  # bytes per input pixel

    limit = 64 * 64 * 1000 * Predictor.PEAK_FACTOR / 2**30  # exactly a 64x64 image's estimate
    p = Predictor(lambda x: forward_logits(model, x, CPU), PredictSettings(tile=32, memory_gib=limit), bytes_per_pixel=bpp)
    assert not p.tiles(64, 64) and p.tiles(64, 65) and not p.tiles(32, 32)
    assert len(calls) == 1  # measured once, lazily
    real = Predictor.for_model(model, CPU, PredictSettings())
    assert not real.tiles(512, 512) and real.tiles(20000, 20000)  # the course's tiles stay whole


def test_a_tile_smaller_than_the_deepest_stride_is_refused():
    with pytest.raises(RecipeError, match="tile 8: expected at least 32 pixels"):
        Predictor.for_model(tiny_fcn8s(), CPU, PredictSettings(mode="slide", tile=8))
    Predictor.for_model(tiny_fcn8s(), CPU, PredictSettings(mode="whole", tile=8))  # no tiling, no window


def test_settings_from_recipe_and_flags():
    recipe = {"eval": {"mode": "slide", "tile": 256, "overlap": 64, "tta": "flip"}}
    s = PredictSettings.from_recipe(recipe)
    assert (s.mode, s.tile, s.window_overlap, s.above, s.tta) == ("slide", 256, 64, None, "flip")
    assert PredictSettings.from_recipe({}).mode == "auto"
    s = PredictSettings.from_recipe({}, tile=None, above=1024)
    assert s.mode == "slide" and s.tile == 512
    p = Predictor(lambda x: x, s)
    assert not p.tiles(1024, 1000) and p.tiles(1025, 10)
    s = PredictSettings.from_recipe(recipe, tile=128, overlap=None)
    assert (s.tile, s.window_overlap) == (128, 64)
    s = PredictSettings.from_recipe({}, tile=64)  # no overlap anywhere: a quarter of the tile
    assert (s.mode, s.tile, s.window_overlap) == ("slide", 64, 16)
    with pytest.raises(RecipeError, match="overlap 512"):
        PredictSettings(mode="slide", tile=512, overlap=512)
    with pytest.raises(RecipeError, match="tta 'd8'"):
        PredictSettings(tta="d8")


def test_flip_tta_is_the_mean_of_the_image_and_its_mirror():
    model = tiny_fcn8s()
    step = lambda x: forward_logits(model, x, CPU)  # noqa: E731
    x = pixels(1, 3, 64, 64)
    flipped = tta_step(step, "flip")(x)
    torch.testing.assert_close(flipped, 0.5 * (step(x) + step(x.flip(-1)).flip(-1)))
    assert not torch.allclose(flipped, step(x), atol=1e-4)  # the model is not mirror-symmetric
    sym = torch.cat([x[..., :32], x[..., :32].flip(-1)], -1)  # a mirror-symmetric image
    torch.testing.assert_close(tta_step(step, "flip")(sym), 0.5 * (step(sym) + step(sym).flip(-1)))


def test_flip_tta_on_a_flip_symmetric_model_and_input_equals_no_tta():
    conv = torch.nn.Conv2d(3, 2, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(0.5 * (conv.weight + conv.weight.flip(-1)))  # a mirror-symmetric kernel
    step = lambda x: conv(x)  # noqa: E731
    x = pixels(1, 3, 16, 16)
    sym = 0.5 * (x + x.flip(-1))
    with torch.no_grad():
        torch.testing.assert_close(tta_step(step, "flip")(sym), step(sym))


def test_d4_tta_averages_the_eight_symmetries_and_works_in_tiles():
    model = tiny_fcn8s()
    step = lambda x: forward_logits(model, x, CPU)  # noqa: E731
    x = pixels(1, 3, 64, 64)
    expected = 0
    for k in range(4):
        for flip in (False, True):
            t = x.flip(-1) if flip else x
            out = torch.rot90(step(torch.rot90(t, k, (-2, -1))), -k, (-2, -1))
            expected = expected + (out.flip(-1) if flip else out)
    torch.testing.assert_close(tta_step(step, "d4")(x), expected / 8)
    p = Predictor.for_model(model, CPU, PredictSettings(mode="slide", tile=32, overlap=8, tta="d4"))
    assert p(pixels(1, 3, 48, 80)).shape == (1, 3, 48, 80)
