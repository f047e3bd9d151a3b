"""UNet, FPN, DeepLabV3+, UPerNet, SegFormer and segmentation_models_pytorch models on the
backbone contract: any input size (padded border outside the loss), ONNX parity, a training
step that learns, argument checks, many backbones, and whole runs through the tools."""
from __future__ import annotations

import logging
import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ignite_zoo.registry.errors import CheckpointError, RecipeError
from ignite_zoo.registry.registry import BACKBONES, HEADS
from ignite_zoo.zoo import backbones  # noqa: F401
from ignite_zoo.zoo import heads  # noqa: F401
from ignite_zoo.zoo.backbones.base import Backbone, FeatureInfo, feature_info_of
from ignite_zoo.zoo.heads.pyramid import adaptive_avg_pool
from ignite_zoo.zoo.model import SegmentationModel, build_model, normalize_values
from tests.helpers import DEMO, call_tool, tiny_seg

#: narrow decoders: every head in milliseconds at 64 px (U-Net's four blocks end at stride 2 of a
#: stride-32 backbone and at stride 1 of a stride-16 one)
TINY = {
    "unet": {"decoder_channels": [16, 16, 8, 8]},
    "fpn": {"pyramid_channels": 16, "segmentation_channels": 16},
    "deeplabv3plus": {"aspp_channels": 16, "low_level_channels": 8, "decoder_channels": 16},
    "upernet": {"channels": 16},
    "segformer": {"embed_dim": 16},
}
NAMES = list(TINY)
VGG = {"type": "vgg16", "width": 0.125}
RESNET = {"type": "timm:resnet18"}
H, W = 250, 333


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread: these layers are tiny, and on a busy machine every OpenMP barrier
    of a multi-threaded op waits for a descheduled thread (a 0.1 s step then takes seconds)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def shared():
    """One backbone per kind, shared by the heads' models (a timm ResNet-18 is built once)."""
    torch.manual_seed(0)
    return {"vgg": BACKBONES.build(VGG), "resnet": BACKBONES.build(RESNET)}


def on(backbone: nn.Module, head: str, num_classes: int = 3, **kw) -> SegmentationModel:
    """The model ``build_model`` makes, around an already built backbone."""
    h = HEADS.build({"type": head, **TINY.get(head, {}), **kw}, feature_info=feature_info_of(backbone),
                    num_classes=num_classes)
    mean, std = normalize_values(None, backbone.in_chans)
    return SegmentationModel(backbone, h, mean, std)


def pixels(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) * 255


# -- any input size: output size, padding and cropping, border outside the loss ----------------
@pytest.mark.parametrize("kind", ["vgg", "resnet"])
@pytest.mark.parametrize("head", NAMES)
def test_odd_size_output_padding_and_loss(shared, kind, head):
    full_depth = {"decoder_channels": [16, 16, 8, 8, 8]} if head == "unet" else {}  # down to stride 1
    model = on(shared[kind], head, **full_depth).eval()
    assert model.head.size_multiple == model.size_multiple == 32  # the deepest stride it reads
    x = pixels(1, 3, H, W)
    # the padded border is the mean colour at the bottom/right: a manually padded input gives the same logits
    m = model.size_multiple
    padded = model.pixel_mean.expand(1, 3, -(-H // m) * m, -(-W // m) * m).clone()
    padded[..., :H, :W] = x
    with torch.no_grad():
        ref = model(padded)[..., :H, :W]
    full = {}

    def keep(mod, inputs, logits) -> None:  # the head's logits at the padded size
        logits.retain_grad()
        full["logits"] = logits

    hook = model.head.register_forward_hook(keep)
    try:
        out = model(x)
    finally:
        hook.remove()
    assert out.shape == (1, 3, H, W)
    torch.testing.assert_close(out.detach(), ref, atol=1e-4, rtol=1e-4)
    # the loss on the output reaches the head's logits inside the image only
    target = torch.randint(0, 3, (1, H, W), generator=torch.Generator().manual_seed(1))
    F.cross_entropy(out, target).backward()
    grad = full["logits"].grad
    assert grad.shape[-2:] == padded.shape[-2:]
    assert grad[..., H:, :].abs().sum() == 0 and grad[..., :, W:].abs().sum() == 0
    assert grad[..., :H, :W].abs().sum() > 0


# -- ONNX export with ONNX Runtime parity at two sizes ----------------------------------------
class EveryHead(nn.Module):
    """The five heads on one backbone in one graph (one export instead of five): normalise and
    pad as ``SegmentationModel`` does, run the backbone once, every head, crop, concatenate."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.models = nn.ModuleList(on(backbone, head) for head in NAMES)
        assert len({m.size_multiple for m in self.models}) == 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from ignite_zoo.zoo.model import pad_to_multiple

        first = self.models[0]
        h, w = x.shape[-2], x.shape[-1]
        xp = pad_to_multiple(first.normalize(x), first.size_multiple)
        features = first.backbone(xp)
        return torch.cat([m.head(features, xp.shape[-2:])[..., :h, :w] for m in self.models], dim=1)


def onnx_parity(model: nn.Module, sizes=((H, W), (64, 96))) -> np.ndarray:
    """Per output channel: the largest |ONNX Runtime - PyTorch| over both sizes, relative to the logits."""
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from torch.export import Dim

    model = model.eval()
    dims = {0: Dim("batch", min=1, max=64), 2: Dim("height", min=32, max=4096), 3: Dim("width", min=32, max=4096)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(model, (pixels(2, 3, 70, 90),), dynamo=True, dynamic_shapes=(dims,),
                                    input_names=["image"], verbose=False)
    session = ort.InferenceSession(program.model_proto.SerializeToString(), providers=["CPUExecutionProvider"])
    diffs = []
    for i, (h, w) in enumerate(sizes):
        x = pixels(1, 3, h, w, seed=i)
        with torch.inference_mode():
            ref = model(x).numpy()
        got = session.run(None, {"image": x.numpy()})[0]
        assert got.shape == ref.shape == (1, ref.shape[1], h, w)
        diffs.append(np.abs(got - ref).max(axis=(0, 2, 3)) / max(1.0, float(np.abs(ref).max())))
    return np.max(diffs, axis=0)


@pytest.fixture(scope="module")
def every_head_parity() -> np.ndarray:
    """On a user's small backbone (strides 4 to 16): the exporter's time grows with the graph,
    and VGG's path through export is the run test's below."""
    torch.manual_seed(0)
    return onnx_parity(EveryHead(UserBackbone()))


@pytest.mark.parametrize("head", NAMES)
def test_onnx_export_parity(every_head_parity, head):
    i = NAMES.index(head)
    assert every_head_parity[3 * i:3 * i + 3].max() < 1e-4


def test_pooling_that_export_keeps_dynamic_equals_adaptive_pooling():
    x = torch.randn(2, 5, 11, 17)
    for bins in (1, 2, 3, 6):
        torch.testing.assert_close(adaptive_avg_pool(x, bins), F.adaptive_avg_pool2d(x, bins))


# -- a training step learns -------------------------------------------------------------------
@pytest.mark.parametrize("head", NAMES)
def test_training_steps_lower_the_loss(head):
    torch.manual_seed(0)
    model = on(BACKBONES.build({"type": "vgg16_bn", "width": 0.125}), head, dropout=0.0).train()
    x = F.interpolate(pixels(2, 3, 4, 4), size=(32, 32), mode="nearest")  # 8x8 blocks of one colour
    y = (x.mean(1) > 127.5).long() + (x[:, 0] > 200).long()  # labels the colour decides
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(6):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.85 * losses[0], losses


# -- bf16 and channels_last on a CPU --------------------------------------------------------
@pytest.mark.parametrize("head", NAMES)
def test_bf16_channels_last_forward(shared, head):
    model = on(shared["vgg"], head).eval().to(memory_format=torch.channels_last)
    x = pixels(1, 3, 70, 90).contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
    assert out.shape == (1, 3, 70, 90) and torch.isfinite(out.float()).all()


# -- many backbones ---------------------------------------------------------------------------
class UserBackbone(Backbone):
    """A user's backbone: maps at strides 4, 8, 8 (two share one) and 16, described by mappings."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 6, 4, stride=4)
        self.b = nn.Conv2d(6, 10, 2, stride=2)
        self.b2 = nn.Conv2d(10, 12, 3, padding=1)
        self.c = nn.Conv2d(12, 14, 2, stride=2)
        self.feature_info = [{"stride": 4, "channels": 6}, {"stride": 8, "channels": 10},
                             {"reduction": 8, "channels": 12}, {"stride": 16, "channels": 14}]

    def forward(self, x):
        a = self.a(x)
        b = self.b(a)
        b2 = self.b2(b)
        return [a, b, b2, self.c(b2)]


@pytest.mark.parametrize("name", ["timm:convnext_atto", "timm:efficientnet_b0", "timm:mobilenetv3_small_100",
                                  "timm:regnetx_002", "user"])
def test_every_head_on_other_backbones(name):
    backbone = UserBackbone() if name == "user" else BACKBONES.build({"type": name})
    from ignite_zoo.zoo.backbones.base import feature_info_of

    backbone.feature_info = feature_info_of(backbone)
    deepest = max(f.stride for f in backbone.feature_info)
    for head in NAMES:
        model = on(backbone, head).eval()
        assert model.size_multiple == deepest
        with torch.no_grad():
            assert model(pixels(1, 3, 45, 71)).shape == (1, 3, 45, 71), (name, head)


def test_user_backbone_through_the_registry():
    BACKBONES.register("test_user_backbone", force=True)(UserBackbone)
    model = build_model({"backbone": {"type": "test_user_backbone"}, "head": {"type": "upernet", "num_classes": 2,
                                                                               "channels": 8}})
    assert model.head.index == [0, 2, 3]  # the deeper of the two stride-8 maps
    assert model.eval()(pixels(1, 3, 33, 50)).shape == (1, 2, 33, 50)


def test_deeplab_uses_the_dilated_stride_and_says_which(caplog):
    with caplog.at_level(logging.INFO, logger="zoo"):
        model = build_model({"backbone": {**RESNET, "output_stride": 16},
                             "head": {"type": "deeplabv3plus", "num_classes": 2, **TINY["deeplabv3plus"]}})
    assert model.size_multiple == 16 and model.head.rates == [6, 12, 18]
    assert model.head.low == 1  # timm's resnet18: [act1 (2), layer1 (4), ...]
    assert "ASPP at stride 16 (the backbone's output_stride), rates [6, 12, 18]" in caplog.text
    assert model.eval()(pixels(1, 3, 50, 70)).shape == (1, 2, 50, 70)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="zoo"):
        vgg = build_model({"backbone": VGG, "head": {"type": "deeplabv3plus", "num_classes": 2}})
    assert vgg.head.rates == [3, 6, 9] and "ASPP at stride 32 (the backbone's deepest stride" in caplog.text


# -- argument checks ---------------------------------------------------------------------------
@pytest.mark.parametrize("head,key,value", [
    ("unet", "decoder_channels", [16, 0]), ("unet", "decoder_channels", [8] * 6), ("unet", "decoder_channels", 16),
    ("unet", "dropout", 1.0), ("fpn", "pyramid_channels", 0), ("fpn", "segmentation_channels", "wide"),
    ("fpn", "dropout", -0.1), ("deeplabv3plus", "atrous_rates", [6, 0]), ("deeplabv3plus", "atrous_rates", 6),
    ("deeplabv3plus", "aspp_channels", 1.5), ("deeplabv3plus", "low_level_channels", True),
    ("deeplabv3plus", "decoder_channels", -1), ("deeplabv3plus", "dropout", 2), ("upernet", "pool_scales", [1, 0]),
    ("upernet", "pool_scales", []), ("upernet", "channels", 0), ("upernet", "dropout", "a"),
    ("segformer", "embed_dim", 0), ("segformer", "dropout", 1.5),
])
def test_bad_arguments_name_the_key(shared, head, key, value):
    with pytest.raises(RecipeError, match=rf"^model\.head\.{key}: .*{re.escape(str(value)[:6])}"):
        build_model({"backbone": VGG, "head": {"type": head, "num_classes": 2, key: value}})


class OneStride(UserBackbone):
    def __init__(self) -> None:
        super().__init__()
        self.feature_info = [FeatureInfo(16, 14)]

    def forward(self, x):
        return [super().forward(x)[-1]]


@pytest.mark.parametrize("head", ["fpn", "upernet", "deeplabv3plus"])
def test_too_few_maps_say_what_the_backbone_gives(head):
    with pytest.raises(RecipeError, match=r"^model\.head: .* the backbone gives 16 \(14 ch\)$"):
        on(OneStride(), head)
    for ok in ("unet", "segformer"):  # one map is enough for these
        assert on(OneStride(), ok).eval()(pixels(1, 3, 40, 40)).shape == (1, 3, 40, 40)


# -- segmentation_models_pytorch ---------------------------------------------------------------
SMP = {"type": "smp:resnet18"}


def test_smp_model_any_size():
    torch.manual_seed(0)
    model = build_model({"backbone": SMP, "head": {"type": "smp:Unet", "num_classes": 3,
                                                    "decoder_channels": [32, 16, 16, 8, 8]}}).eval()
    assert [f.stride for f in model.backbone.feature_info] == [2, 4, 8, 16, 32] and model.size_multiple == 32
    assert not any(n.startswith("encoder") for n, _ in model.head.named_parameters())  # smp's copy is dropped
    x = pixels(1, 3, H, W)
    with torch.no_grad():
        assert model(x).shape == (1, 3, H, W)


@pytest.mark.parametrize("arch", ["FPN", "DeepLabV3Plus", "Segformer"])
def test_smp_architectures_and_zoo_heads_on_an_smp_encoder(arch):
    stride = {"output_stride": 16} if arch == "DeepLabV3Plus" else {}
    model = build_model({"backbone": {**SMP, **stride}, "head": {"type": f"smp:{arch}", "num_classes": 2}}).eval()
    zoo = on(model.backbone, "unet", num_classes=2).eval()
    with torch.no_grad():
        assert model(pixels(1, 3, 50, 70)).shape == zoo(pixels(1, 3, 50, 70)).shape == (1, 2, 50, 70)


def test_smp_errors_and_local_weights(tmp_path):
    with pytest.raises(RecipeError, match=r"^model\.head\.type: smp:Unet takes an smp:<encoder> backbone"):
        build_model({"backbone": VGG, "head": {"type": "smp:Unet", "num_classes": 2}})
    with pytest.raises(RecipeError, match=r"^model\.head\.type: unknown segmentation_models_pytorch architecture 'Unett'"):
        build_model({"backbone": SMP, "head": {"type": "smp:Unett", "num_classes": 2}})
    with pytest.raises(RecipeError, match=r"^model\.backbone\.type: unknown segmentation_models_pytorch encoder 'resnet19'"):
        build_model({"backbone": {"type": "smp:resnet19"}, "head": {"type": "unet", "num_classes": 2}})
    with pytest.raises(RecipeError, match=r"^model\.head\.classes: set by the backbone or the run"):
        build_model({"backbone": SMP, "head": {"type": "smp:Unet", "num_classes": 2, "classes": 4}})
    with pytest.raises(CheckpointError, match="not 'imagenet'"):
        build_model({"backbone": {**SMP, "weights": "imagenet"}, "head": {"type": "unet", "num_classes": 2}})
    source = build_model({"backbone": SMP, "head": {"type": "smp:Unet", "num_classes": 2}})
    path = tmp_path / "encoder.pth"
    torch.save(source.backbone.encoder.state_dict(), path)
    loaded = build_model({"backbone": {**SMP, "weights": str(path)}, "head": {"type": "smp:Unet", "num_classes": 2}})
    for k, v in source.backbone.state_dict().items():
        assert torch.equal(loaded.backbone.state_dict()[k], v)
    torch.save({"conv1.weight": torch.zeros(1)}, path)
    with pytest.raises(CheckpointError, match="does not match segmentation_models_pytorch encoder 'resnet18'"):
        build_model({"backbone": {**SMP, "weights": str(path)}, "head": {"type": "unet", "num_classes": 2}})


# -- whole runs: tools/run.py, checkpoint, summary, sliding window, export -----------------------
UNET_RUN = ["model.head={type: unet, num_classes: 7, decoder_channels: [16, 16, 8, 8, 8]}"]
SMP_RUN = ['model.backbone={type: "smp:resnet18", depth: 3}',
           'model.head={type: "smp:Unet", num_classes: 7, decoder_channels: [16, 8, 8]}']


@pytest.mark.parametrize("model", [UNET_RUN, SMP_RUN], ids=["unet", "smp"])
def test_one_epoch_run_then_predict_slide_summary_and_export(tmp_path, capsys, model):
    from ignite_zoo.engines.checkpoint import load_model
    from ignite_zoo.engines.inference.export import export_onnx
    from ignite_zoo.engines.predictor import PredictSettings, Predictor
    from ignite_zoo.engines.step import StepConfig

    run = tmp_path / "run"
    argv = [*[a for a in tiny_seg(tmp_path) if not a.startswith("model.head.hidden")], *model, "train.epochs=1",
            f"out.dir={run}", "train.amp=false"]
    code, out, err = call_tool("run", DEMO, *argv, capsys=capsys)
    assert code == 0, out[-2000:] + err[-2000:]
    runs = [p for p in run.rglob("metrics.json")]
    assert runs, f"no metrics.json under {run}"
    run_dir = runs[0].parent
    model_, _ = load_model(run_dir)
    x = pixels(1, 3, 70, 90)
    cfg = StepConfig(torch.device("cpu"))
    whole = Predictor.for_model(model_, cfg, PredictSettings(mode="whole"))(x)
    slide = Predictor.for_model(model_, cfg, PredictSettings(mode="slide", tile=64, overlap=32))(x)
    assert whole.shape == slide.shape == (1, 7, 70, 90)
    code, out, _ = call_tool("summary", run_dir, capsys=capsys)
    assert code == 0 and "Total params" in out
    result = export_onnx(run_dir, tmp_path / "model.onnx")
    assert result.dynamic == ["batch", "height", "width"]
    assert result.max_abs_diff <= 1e-4 * max(1.0, result.max_abs_logit)
