"""Backbones: torchvision-compatible VGG16 features, strict local weights, timm adapter."""
from __future__ import annotations

import logging

import pytest
import torch
from torchvision.models import vgg as tv_vgg

from ignite_zoo.zoo import backbones  # noqa: F401
from ignite_zoo.registry.errors import CheckpointError, RecipeError
from ignite_zoo.registry.registry import BACKBONES


def tv_features(batch_norm: bool = False) -> torch.nn.Sequential:
    """torchvision's VGG16 ``features`` alone (the 14.7M conv params, not the 138M model)."""
    return tv_vgg.make_layers(tv_vgg.cfgs["D"], batch_norm=batch_norm)


@pytest.fixture(scope="module")
def vgg16_file(tmp_path_factory):
    """A torchvision-style vgg16 state dict file: features.* plus small classifier.* tensors."""
    torch.manual_seed(0)
    feats = tv_features().eval()
    state = {f"features.{k}": v for k, v in feats.state_dict().items()}
    state["classifier.6.weight"] = torch.randn(3, 4)
    state["classifier.6.bias"] = torch.randn(3)
    path = tmp_path_factory.mktemp("weights") / "vgg16.pth"
    torch.save(state, path)
    return feats, state, path


@pytest.mark.parametrize("name,bn", [("vgg16", False), ("vgg16_bn", True)])
def test_feature_names_and_shapes_match_torchvision(name, bn):
    ours = BACKBONES.build(name).features.state_dict()
    theirs = tv_features(bn).state_dict()
    assert list(ours) == list(theirs)
    assert all(ours[k].shape == theirs[k].shape for k in ours)


def test_channels_and_strides_full_width():
    bb = BACKBONES.build("vgg16")
    assert [(f.stride, f.channels) for f in bb.feature_info] == [(2, 64), (4, 128), (8, 256), (16, 512), (32, 512)]
    assert bb.in_chans == 3 and bb.classifier_state is None


@pytest.mark.parametrize("size,expected", [((64, 64), [(32, 32), (16, 16), (8, 8), (4, 4), (2, 2)]),
                                           ((500, 375), [(250, 188), (125, 94), (63, 47), (32, 24), (16, 12)])])
def test_forward_returns_a_list_of_ceil_sized_maps_described_by_feature_info(size, expected):
    bb = BACKBONES.build({"type": "vgg16", "width": 0.125}).eval()
    assert [(f.stride, f.channels) for f in bb.feature_info] == [(2, 8), (4, 16), (8, 32), (16, 64), (32, 64)]
    with torch.no_grad():
        out = bb(torch.randn(1, 3, *size))
    assert isinstance(out, list) and len(out) == 5
    for t, f, hw in zip(out, bb.feature_info, expected):
        assert tuple(t.shape) == (1, f.channels, *hw)


def test_vgg_out_indices_keep_fewer_maps_and_layers():
    bb = BACKBONES.build({"type": "vgg16", "width": 0.125, "out_indices": [2, 3]}).eval()
    assert [f.stride for f in bb.feature_info] == [8, 16]
    assert len(bb.features) == 24  # up to pool4: pool5's convolutions are not built
    with torch.no_grad():
        assert [tuple(t.shape[-2:]) for t in bb(torch.randn(1, 3, 64, 64))] == [(8, 8), (4, 4)]
    with pytest.raises(RecipeError, match="out_indices"):
        BACKBONES.build({"type": "vgg16", "out_indices": [5]})


def test_vgg_in_chans_adapts_the_first_convolution(vgg16_file):
    """RGB filters stay on the bands named RGB; every other band starts from their mean."""
    feats, state, path = vgg16_file
    bb = BACKBONES.build({"type": "vgg16", "weights": str(path), "in_chans": 5, "rgb_bands": [2, 1, 0]})
    w, rgb = bb.features[0].weight, state["features.0.weight"]
    assert w.shape == (64, 5, 3, 3) and bb.in_chans == 5
    assert torch.equal(w[:, 2], rgb[:, 0]) and torch.equal(w[:, 1], rgb[:, 1]) and torch.equal(w[:, 0], rgb[:, 2])
    assert torch.allclose(w[:, 3], rgb.mean(1)) and torch.allclose(w[:, 4], rgb.mean(1))
    assert torch.equal(bb.features[2].weight, state["features.2.weight"])
    with torch.no_grad():
        assert bb(torch.randn(1, 5, 32, 32))[-1].shape == (1, 512, 1, 1)
    with pytest.raises(RecipeError, match="rgb_bands"):
        BACKBONES.build({"type": "vgg16", "in_chans": 4, "rgb_bands": [0, 1, 4]})
    with pytest.raises(RecipeError, match="in_chans"):
        BACKBONES.build({"type": "vgg16", "in_chans": 0})


def test_floor_pooling_option_matches_torchvision_sizes():
    bb = BACKBONES.build({"type": "vgg16", "width": 0.125, "ceil_mode": False}).eval()
    with torch.no_grad():
        out = bb(torch.randn(1, 3, 500, 375))
    assert tuple(out[-1].shape[-2:]) == (15, 11)


def test_random_init_is_logged(caplog):
    with caplog.at_level(logging.INFO, logger="zoo"):
        BACKBONES.build({"type": "vgg16_bn", "width": 0.125})
    assert any(r.name == "zoo" and "randomly initialised" in r.getMessage() for r in caplog.records)


def test_weights_file_loads_strictly_and_keeps_classifier(vgg16_file):
    feats, state, path = vgg16_file
    bb = BACKBONES.build({"type": "vgg16", "weights": str(path)}).eval()
    for k, v in feats.state_dict().items():
        assert torch.equal(bb.features.state_dict()[k], v)
    assert set(bb.classifier_state) == {"6.weight", "6.bias"}
    assert torch.equal(bb.classifier_state["6.bias"], state["classifier.6.bias"])
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(bb(x)[-1], feats(x), atol=1e-6)
        assert torch.allclose(bb(x)[2], feats[:17](x), atol=1e-6)


def test_bn_file_into_plain_vgg_names_file_and_keys(vgg16_file, tmp_path):
    bn_state = {f"features.{k}": v for k, v in tv_features(True).state_dict().items()}
    path = tmp_path / "vgg16_bn.pth"
    torch.save(bn_state, path)
    with pytest.raises(CheckpointError) as e:
        BACKBONES.build({"type": "vgg16", "weights": str(path)})
    msg = str(e.value)
    assert str(path) in msg and "missing keys" in msg and "unexpected keys" in msg
    assert "features.1.running_mean" in msg or "features.3.weight" in msg


def test_foreign_keys_are_rejected(vgg16_file, tmp_path):
    _, state, _ = vgg16_file
    path = tmp_path / "extra.pth"
    torch.save({**state, "fc.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(CheckpointError, match="unexpected keys: fc.weight"):
        BACKBONES.build({"type": "vgg16", "weights": str(path)})


def test_shape_mismatch_is_a_checkpoint_error(vgg16_file, tmp_path):
    _, state, _ = vgg16_file
    bad = dict(state)
    bad["features.0.weight"] = torch.zeros(64, 3, 5, 5)
    path = tmp_path / "bad.pth"
    torch.save(bad, path)
    with pytest.raises(CheckpointError, match=r"features\.0\.weight"):
        BACKBONES.build({"type": "vgg16", "weights": str(path)})


def test_missing_or_corrupt_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found.*nope.pth"):
        BACKBONES.build({"type": "vgg16", "weights": str(tmp_path / "nope.pth")})
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="junk.pth"):
        BACKBONES.build({"type": "vgg16", "weights": str(junk)})


def test_weights_need_full_width(vgg16_file):
    with pytest.raises(RecipeError, match="width"):
        BACKBONES.build({"type": "vgg16", "weights": str(vgg16_file[2]), "width": 0.5})


# -- timm ---------------------------------------------------------------------------------
def test_timm_backbone_strides_and_channels_from_feature_info():
    bb = BACKBONES.build({"type": "timm:resnet18"}).eval()
    assert [(f.stride, f.channels) for f in bb.feature_info] == [(2, 64), (4, 64), (8, 128), (16, 256), (32, 512)]
    assert bb.classifier_state is None
    with torch.no_grad():
        out = bb(torch.randn(1, 3, 64, 48))
    assert [tuple(t.shape) for t in out] == [
        (1, 64, 32, 24), (1, 64, 16, 12), (1, 128, 8, 6), (1, 256, 4, 3), (1, 512, 2, 2)]


def test_timm_in_chans_and_output_stride_keep_several_maps_at_one_stride():
    bb = BACKBONES.build({"type": "timm:resnet18", "in_chans": 4, "output_stride": 8}).eval()
    assert [f.stride for f in bb.feature_info] == [2, 4, 8, 8, 8]  # a dict keyed by stride kept one of three
    with torch.no_grad():
        out = bb(torch.randn(1, 4, 64, 64))
    assert [tuple(t.shape[-2:]) for t in out] == [(32, 32), (16, 16), (8, 8), (8, 8), (8, 8)]
    with pytest.raises(RecipeError, match="output_stride"):
        BACKBONES.build({"type": "timm:resnet18", "output_stride": 12})


def test_timm_out_indices():
    bb = BACKBONES.build({"type": "timm:resnet18", "out_indices": [2, 3, 4]})
    assert [f.stride for f in bb.feature_info] == [8, 16, 32]


def test_timm_local_weights_load_and_mismatch_fails(tmp_path, vgg16_file):
    import timm

    full = timm.create_model("resnet18", pretrained=False)
    path = tmp_path / "resnet18.pth"
    torch.save(full.state_dict(), path)
    bb = BACKBONES.build({"type": "timm:resnet18", "weights": str(path)})
    assert torch.equal(bb.model.conv1.weight, full.conv1.weight)
    assert torch.equal(bb.model.layer4[1].bn2.running_var, full.layer4[1].bn2.running_var)
    with pytest.raises(CheckpointError, match=r"vgg16\.pth.*missing keys: .*conv1\.weight"):
        BACKBONES.build({"type": "timm:resnet18", "weights": str(vgg16_file[2])})


def test_timm_unknown_name_suggests():
    with pytest.raises(RecipeError, match="timm:resnet18"):
        BACKBONES.build({"type": "timm:resnet18x"})


def test_wrapped_checkpoint_is_unwrapped_and_non_tensors_rejected(vgg16_file, tmp_path):
    feats, state, _ = vgg16_file
    wrapped = tmp_path / "ckpt.pth"
    torch.save({"state_dict": state, "epoch": 3}, wrapped)
    bb = BACKBONES.build({"type": "vgg16", "weights": str(wrapped)})
    assert torch.equal(bb.features[28].weight, feats[28].weight)
    odd = tmp_path / "odd.pth"
    torch.save({"epoch": 3, "features.0.weight": state["features.0.weight"]}, odd)
    with pytest.raises(CheckpointError, match="odd.pth.*not tensors: epoch"):
        BACKBONES.build({"type": "vgg16", "weights": str(odd)})


def test_timm_out_indices_must_be_integers():
    with pytest.raises(RecipeError, match="out_indices"):
        BACKBONES.build({"type": "timm:resnet18", "out_indices": "ab"})
    with pytest.raises(RecipeError, match="out_indices"):
        BACKBONES.build({"type": "timm:resnet18", "out_indices": [9]})
