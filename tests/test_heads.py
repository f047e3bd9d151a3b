"""Heads: VGG classifier parity with torchvision, FCN32s/16s/8s sizes, init and weights."""
from __future__ import annotations

import importlib.util
import logging
import math
import sys

import pytest
import torch
import torch.nn.functional as F
import torchvision

from ignite_zoo.zoo import backbones  # noqa: F401
from ignite_zoo.zoo import heads  # noqa: F401
from ignite_zoo.registry.errors import RecipeError
from ignite_zoo.registry.registry import BACKBONES, HEADS
from ignite_zoo.zoo.heads.fcn import FCN8s, FCN32s, bilinear_upsample, fit
from ignite_zoo.zoo.model import IMAGENET_MEAN, IMAGENET_STD, build_model
from ignite_zoo.zoo.summary import summary_rows

SMALL = {"type": "vgg16", "width": 0.125}


@pytest.fixture(scope="module")
def tv_vgg16(tmp_path_factory):
    """torchvision vgg16 (random weights, eval) and its full state dict saved to a file."""
    torch.manual_seed(0)
    model = torchvision.models.vgg16(weights=None).eval()
    path = tmp_path_factory.mktemp("weights") / "vgg16.pth"
    torch.save(model.state_dict(), path)
    yield model, path


def small_model(head: str, backbone=SMALL, **kw):
    return build_model({"backbone": backbone, "head": {"type": head, "num_classes": 3, "hidden": 64, **kw}})


# -- classifier ---------------------------------------------------------------------------
def test_classifier_matches_torchvision_vgg16(tv_vgg16):
    tv, path = tv_vgg16
    model = build_model({"backbone": {"type": "vgg16", "weights": str(path)},
                         "head": {"type": "classifier", "num_classes": 1000}}).eval()
    assert sum(p.numel() for p in model.parameters()) == 138_357_544
    x = torch.rand(2, 3, 64, 64) * 255  # raw pixels: the model normalises (ImageNet's mean/std by default)
    xn = (x / 255 - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        logits, feats = model(x, return_features=True)
        expected = tv(xn)
        tv_feats = tv.classifier[:6](torch.flatten(tv.avgpool(tv.features(xn)), 1))
    assert torch.allclose(logits, expected, rtol=1e-4, atol=1e-6)
    assert feats.shape == (2, 4096) and torch.allclose(feats, tv_feats, rtol=1e-4, atol=1e-6)
    with torch.no_grad():
        assert torch.equal(model(x), logits)
    kinds = [r.name.rsplit("-", 1)[0] for r in summary_rows(model, (3, 32, 32)).rows]
    tv_kinds = [r.name.rsplit("-", 1)[0] for r in summary_rows(tv, (3, 32, 32)).rows]
    assert kinds == tv_kinds
    assert kinds[:5] == ["Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d"] and len(kinds) == 39
    assert kinds[-8:] == ["AdaptiveAvgPool2d", "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]


def test_classifier_new_class_count_keeps_fc6_fc7(tv_vgg16, caplog):
    tv, path = tv_vgg16
    with caplog.at_level(logging.INFO, logger="zoo"):
        model = build_model({"backbone": {"type": "vgg16", "weights": str(path)},
                             "head": {"type": "classifier", "num_classes": 10}})
    assert torch.equal(model.head.classifier[0].weight, tv.classifier[0].weight)
    assert torch.equal(model.head.classifier[3].bias, tv.classifier[3].bias)
    assert model.head.classifier[6].weight.shape == (10, 4096)
    assert any("re-initialised for 10 classes" in r.getMessage() for r in caplog.records)


def test_fcn32s_converts_fc6_fc7_from_torchvision_file(tv_vgg16):
    tv, path = tv_vgg16
    model = build_model({"backbone": {"type": "vgg16", "weights": str(path)},
                         "head": {"type": "fcn32s", "num_classes": 4}}).eval()
    head = model.head
    assert torch.equal(head.fc6.weight, tv.classifier[0].weight.reshape(4096, 512, 7, 7))
    assert torch.equal(head.fc6.bias, tv.classifier[0].bias)
    assert torch.equal(head.fc7.weight[:, :, 0, 0], tv.classifier[3].weight)
    # a 7x7 input gives a single pool5 cell at 224: fc6 as a conv equals the Linear there
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        pool5 = model.backbone(x)[-1]
        conv = head.relu7(head.fc7(head.relu6(head.fc6(pool5))))[0, :, 3, 3]
        lin = tv.classifier[:5](torch.flatten(tv.features(x), 1))[0]
    assert torch.allclose(conv, lin, rtol=1e-3, atol=1e-5)


def test_fcn_with_mismatched_hidden_keeps_random_fc(tv_vgg16, caplog):
    _, path = tv_vgg16
    with caplog.at_level(logging.WARNING, logger="zoo"):
        model = build_model({"backbone": {"type": "vgg16", "weights": str(path)},
                             "head": {"type": "fcn8s", "num_classes": 3, "hidden": 64}})
    assert model.head.fc6.weight.shape == (64, 512, 7, 7)
    assert any("randomly initialised" in r.getMessage() for r in caplog.records)


def test_classifier_on_timm_backbone():
    model = small_model("classifier", backbone={"type": "timm:resnet18"}).eval()
    with torch.no_grad():
        logits, feats = model(torch.randn(2, 3, 64, 64), return_features=True)
    assert logits.shape == (2, 3) and feats.shape == (2, 64)


# -- FCN output sizes -------------------------------------------------------------------
@pytest.mark.parametrize("head", ["fcn32s", "fcn16s", "fcn8s"])
@pytest.mark.parametrize("size", [(512, 512), (500, 375), (64, 64), (33, 70)])
def test_fcn_output_matches_input_size(head, size):
    torch.manual_seed(0)
    model = small_model(head).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, *size))
    assert out.shape == (1, 3, *size)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("head", ["fcn32s", "fcn8s"])
@pytest.mark.parametrize("backbone", [{"type": "vgg16_bn", "width": 0.125}, {"type": "timm:resnet18"}])
def test_fcn_other_backbones_sizes(head, backbone):
    model = small_model(head, backbone=backbone).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 100, 75)).shape == (1, 3, 100, 75)


def test_fit_crops_at_origin_and_edge_pads():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert torch.equal(fit(x, (2, 3)), x[..., :2, :3])
    padded = fit(x, (5, 6))
    assert padded.shape[-2:] == (5, 6)
    assert torch.equal(padded[..., :4, :4], x) and torch.equal(padded[..., 4, :4], x[..., 3, :])


# -- FCN initialisation ------------------------------------------------------------------
@pytest.mark.parametrize("factor", [2, 8, 16, 32])
def test_bilinear_deconv_equals_interpolate_in_interior(factor):
    h, w = 9, 7
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    smooth = torch.stack([torch.sin(3 * yy) + xx, torch.cos(2 * xx) * yy])[None]
    up = bilinear_upsample(2, factor)
    with torch.no_grad():
        ours = up(smooth)
    ref = F.interpolate(smooth, scale_factor=factor, mode="bilinear", align_corners=False)
    assert ours.shape == ref.shape == (1, 2, h * factor, w * factor)
    m = factor  # the outer half cell differs: the deconv sees zeros beyond the edge
    assert torch.allclose(ours[..., m:-m, m:-m], ref[..., m:-m, m:-m], atol=1e-5)
    assert not torch.allclose(ours, ref, atol=1e-3)  # ...and only there


def test_untrained_fcn8s_is_fcn32s_coarse_prediction_upsampled():
    torch.manual_seed(0)
    backbone = BACKBONES.build(SMALL).eval()
    f32 = FCN32s(backbone.feature_info, 3, hidden=64).eval()
    f8 = FCN8s(backbone.feature_info, 3, hidden=64).eval()
    shared = {k: v for k, v in f32.state_dict().items() if k.split(".")[0] in ("fc6", "fc7", "score_fr")}
    f8.load_state_dict(shared, strict=False)
    for conv in (f8.score_pool4, f8.score_pool3):
        assert not conv.weight.any() and not conv.bias.any()
    x = torch.randn(1, 3, 160, 130)
    with torch.no_grad():
        feats = backbone(x)
        coarse = f32.score32(feats[-1])  # FCN32s's stride-32 prediction (pool5)
        s = fit(f8.upscore2(coarse), feats[-2].shape[-2:])
        s = fit(f8.upscore_pool4(s), feats[-3].shape[-2:])
        expected = fit(f8.upscore8(s), x.shape[-2:])
        out = f8(feats, x.shape[-2:])
        assert torch.allclose(out, expected, atol=1e-6)
        # both are bilinear upsamplings of the same coarse map, so they nearly agree
        assert (out.argmax(1) == f32(feats, x.shape[-2:]).argmax(1)).float().mean() > 0.8
        f8.score_pool3.bias.fill_(0.1)  # the check above would see a live skip branch
        assert not torch.allclose(f8(feats, x.shape[-2:]), expected, atol=1e-3)


def test_fixed_upsampling_is_frozen():
    model = small_model("fcn16s", learnable_upsample=False).head
    assert not model.upscore2.weight.requires_grad and not model.upscore16.weight.requires_grad
    assert small_model("fcn16s").head.upscore16.weight.requires_grad


def test_fcn_needs_its_strides():
    with pytest.raises(RecipeError, match=r"fcn8s needs a backbone map at stride 8; the backbone gives 16 \(256 ch\)"):
        small_model("fcn8s", backbone={"type": "timm:resnet18", "out_indices": [3, 4]})


def test_timm_fcn8s_trains_one_step():
    torch.manual_seed(0)
    model = small_model("fcn8s", backbone={"type": "timm:resnet18"}).train()
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, t = torch.randn(2, 3, 64, 48), torch.randint(0, 3, (2, 64, 48))
    loss = F.cross_entropy(model(x), t)
    assert math.isfinite(loss.item())
    loss.backward()
    opt.step()
    changed = {k for k, v in model.named_parameters() if not torch.equal(v, before[k])}
    for name in ("backbone.model.conv1.weight", "head.fc6.weight", "head.fc7.weight", "head.score_fr.weight",
                 "head.score_pool4.weight", "head.score_pool3.weight", "head.upscore8.weight"):
        assert name in changed, name
    with torch.no_grad():
        assert math.isfinite(F.cross_entropy(model(x), t).item())


# -- build_model and a user head ---------------------------------------------------------
def test_build_model_errors():
    with pytest.raises(RecipeError, match="model.head"):
        build_model({"backbone": SMALL})
    with pytest.raises(RecipeError, match="model.head.type"):
        build_model({"backbone": SMALL, "head": {"type": "fcn9s", "num_classes": 2}})
    with pytest.raises(RecipeError, match="model.head.backbone"):
        build_model({"backbone": SMALL, "head": {"type": "fcn8s", "num_classes": 2, "backbone": SMALL}})


def test_build_model_extra_num_classes():
    model = build_model({"backbone": SMALL, "head": {"type": "fcn32s", "hidden": 16}}, num_classes=5)
    assert model.head.score_fr.out_channels == 5


def test_example_user_head(repo_root):
    if "my_head" not in HEADS:
        spec = importlib.util.spec_from_file_location("my_head", repo_root / "examples" / "my_head.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["my_head"] = module
        spec.loader.exec_module(module)
    model = build_model({"backbone": SMALL, "head": {"type": "my_head", "num_classes": 4}}).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 100, 75)).shape == (1, 4, 100, 75)


@pytest.mark.parametrize("head", ["classifier", "fcn32s", "fcn16s", "fcn8s"])
@pytest.mark.parametrize("num_classes", [0, "7"])
def test_every_head_refuses_a_class_count_that_is_not_a_positive_integer(head, num_classes):
    with pytest.raises(RecipeError, match=f"model.head.num_classes: expected a positive integer, got {num_classes!r}"):
        small_model(head, num_classes=num_classes)


LEGACY_HEAD = """
import torch.nn.functional as F
from torch import nn
from ignite_zoo.registry import HEADS

@HEADS.register("legacy_head_{uid}")
class LegacyHead(nn.Module):
    def __init__(self, backbone, num_classes, stride=None):
        super().__init__()
        self.backbone = backbone
        self.stride = stride or max(backbone.channels)
        self.score = nn.Conv2d(backbone.channels[self.stride], num_classes, kernel_size=1)

    def forward(self, x):
        score = self.score(self.backbone(x)[self.stride])
        return F.interpolate(score, size=x.shape[-2:], mode="bilinear", align_corners=False)
"""


def test_a_head_written_for_0_1_runs_through_the_compatibility_view(tmp_path):
    """0.1's contract: the head gets the backbone, reads backbone.channels {stride: ch} and
    calls it for {stride: map}; it keeps working, with one warning naming the new contract."""
    import warnings

    uid = "compat"
    if f"legacy_head_{uid}" not in HEADS:
        exec(compile(LEGACY_HEAD.format(uid=uid), "legacy_head.py", "exec"), {})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = build_model({"backbone": SMALL, "head": {"type": f"legacy_head_{uid}", "num_classes": 4}}).eval()
    future = [w for w in caught if issubclass(w.category, FutureWarning)]
    assert len(future) == 1 and "feature_info" in str(future[0].message) and "Upgrading from 0.1" in str(future[0].message)
    assert model.head.backbone.channels == {2: 8, 4: 16, 8: 32, 16: 64, 32: 64}
    x = torch.rand(1, 3, 100, 75) * 255
    with torch.no_grad():
        out = model(x)
        xn = (x / 255 - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        direct = model.head(xn)
    assert out.shape == (1, 4, 100, 75) and torch.allclose(out, direct, atol=1e-5)  # normalised once, by the model
