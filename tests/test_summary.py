"""Architecture summary: torchsummary's format and published VGG16 numbers; tools/summary.py."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torchvision
from torch import nn

from ignite_zoo.registry.cli import main_guard
from ignite_zoo.registry.errors import RecipeError, UsageError
from ignite_zoo.zoo.model import build_model
from ignite_zoo.zoo.summary import summarize, summary_rows
from tests.helpers import tool_module

DASH, EQ = "-" * 64, "=" * 64
HEADER = "        Layer (type)               Output Shape         Param #"


class OldVGG16(nn.Module):
    """torchvision's VGG16 as it was when torchsummary published its table: no avgpool."""

    def __init__(self, tv: nn.Module) -> None:
        super().__init__()
        self.features, self.classifier = tv.features, tv.classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).view(x.size(0), -1))


@pytest.fixture(scope="module")
def tv_vgg16():
    return torchvision.models.vgg16(weights=None)


@pytest.fixture(scope="module")
def tool():
    return tool_module("summary")


def test_published_torchsummary_vgg16_table(tv_vgg16):
    text = summarize(OldVGG16(tv_vgg16), (3, 224, 224))
    lines = text.splitlines()
    assert lines[:4] == [DASH, HEADER, EQ, "            Conv2d-1         [-1, 64, 224, 224]           1,792"]
    assert lines[-11:] == [
        "           Linear-38                 [-1, 1000]       4,097,000",
        EQ,
        "Total params: 138,357,544",
        "Trainable params: 138,357,544",
        "Non-trainable params: 0",
        DASH,
        "Input size (MB): 0.57",
        "Forward/backward pass size (MB): 218.59",
        "Params size (MB): 527.79",
        "Estimated Total Size (MB): 746.96",
        DASH,
    ]
    assert len(lines) == 3 + 38 + 10


def test_current_torchvision_vgg16_and_ours_print_the_same_table(tv_vgg16):
    tv_table = summarize(tv_vgg16, (3, 224, 224))
    assert "AdaptiveAvgPool2d-32            [-1, 512, 7, 7]               0" in tv_table
    # the avgpool row (512*7*7 floats, x2 for gradients) is all that differs from the published table
    assert "Forward/backward pass size (MB): 218.78" in tv_table
    assert "Estimated Total Size (MB): 747.15" in tv_table
    ours = build_model({"backbone": {"type": "vgg16"}, "head": {"type": "classifier", "num_classes": 1000}})
    assert summarize(ours, (3, 224, 224)) == tv_table


def test_structured_rows_totals_and_cleanup():
    model = build_model({"backbone": {"type": "vgg16", "width": 0.125},
                         "head": {"type": "fcn8s", "num_classes": 3, "hidden": 16}})
    model.train()
    s = summary_rows(model, (3, 64, 48))
    assert s.total_params == sum(p.numel() for p in model.parameters())
    assert s.total_params == sum(r.params for r in s.rows)  # no leaf is reused here
    assert s.rows[-1].name == f"ConvTranspose2d-{len(s.rows)}" and s.rows[-1].output_shape == [-1, 3, 64, 48]
    assert s.forward_backward_mb == pytest.approx(2 * 4 * sum(r.numel for r in s.rows) / 2 ** 20)
    assert s.params_size_mb == pytest.approx(s.total_params * 4 / 2 ** 20)
    assert s.input_size_mb == pytest.approx(3 * 64 * 48 * 4 / 2 ** 20)
    assert model.training  # mode restored
    assert all(not m._forward_hooks for m in model.modules())  # hooks removed


def test_batch_size_frozen_reuse_and_tuple_outputs():
    class Pair(nn.Module):
        def forward(self, x):
            return x.mean(-1), (x.amax(-1), x.amin(-1))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(8, 8)
            self.frozen = nn.Linear(8, 2)
            self.frozen.requires_grad_(False)
            self.pair = Pair()

        def forward(self, x):
            x = self.lin(self.lin(x))  # same layer twice: two rows, counted once in totals
            return {"out": self.frozen(x), "stats": self.pair(x)}

    s = summary_rows(Net(), (5, 8), batch_size=4)
    assert [r.name for r in s.rows] == ["Linear-1", "Linear-2", "Linear-3", "Pair-4"]
    assert s.rows[0].output_shape == [4, 5, 8]
    assert s.rows[3].output_shape == [[4, 5], [4, 5], [4, 5]]
    assert s.total_params == 72 + 18 and s.trainable_params == 72 and s.non_trainable_params == 18
    assert s.input_size_mb == pytest.approx(4 * 5 * 8 * 4 / 2 ** 20)
    text = summarize(Net(), (5, 8), batch_size=4)
    assert "Non-trainable params: 18" in text and "[[4, 5], [4, 5], [4, 5]]" in text


def test_tool_recipe_default_input_and_tree(tool, tmp_path, capsys):
    recipe = tmp_path / "fcn.yaml"
    recipe.write_text(
        "task: segmentation\ndata: {type: anything}\ntrain: {epochs: 1}\n"
        "model:\n  backbone: {type: vgg16, width: 0.125}\n  head: {type: fcn16s, num_classes: 7, hidden: 16}\n"
    )
    assert main_guard(tool.main, [str(recipe), "--tree"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("SegmentationModel(") and "(head): FCN16s(" in out and HEADER in out
    assert "[-1, 7, 512, 512]" in out  # segmentation default input 3,512,512
    assert main_guard(tool.main, [str(recipe), "--input", "3,100,75", "--num-classes", "2"]) == 0
    # rows show leaf outputs: the last deconv gives 16 * ceil(100/16) x 16 * ceil(75/16), cropped after
    assert "ConvTranspose2d-41           [-1, 2, 112, 80]" in capsys.readouterr().out


def test_tool_run_directory_and_overrides(tool, tmp_path, capsys):
    """A run directory's model at its input size, and key=value overrides after a recipe; no weights read."""
    recipe = tmp_path / "fcn.yaml"
    recipe.write_text(
        "task: segmentation\ndata: {type: anything}\ntrain: {epochs: 1}\n"
        "model:\n  backbone: {type: vgg16, width: 0.125, weights: /nowhere/vgg16.pth}\n"
        "  head: {type: fcn32s, num_classes: 7, hidden: 16}\n  input_size: [3, 64, 48]\n"
    )
    run = tmp_path / "run"
    run.mkdir()
    (run / "recipe.yaml").write_text(recipe.read_text())  # a run that has not finished an epoch yet
    assert main_guard(tool.main, [str(run)]) == 0
    from_run = capsys.readouterr().out
    assert "Conv2d-1            [-1, 8, 64, 48]" in from_run and from_run.startswith(DASH)
    assert main_guard(tool.main, [str(recipe)]) == 0
    assert capsys.readouterr().out == from_run  # the same table, run dir or recipe
    # FCN8s adds the pool3/pool4 score layers: more rows, more parameters than FCN32s
    assert main_guard(tool.main, [str(recipe), "--input", "3,32,32", "model.head.type=fcn8s",
                                  "model.head.num_classes=3"]) == 0
    fcn8s = capsys.readouterr().out
    assert "[-1, 3, 32, 32]" in fcn8s and "[-1, 8, 64, 48]" not in fcn8s and fcn8s.count("Conv2d") > from_run.count("Conv2d")
    assert main_guard(tool.main, [str(run), "model.head.type=fcn16s"]) == 0
    assert "Conv2d-1            [-1, 8, 64, 48]" in capsys.readouterr().out
    assert main_guard(tool.main, [str(recipe), "model.hed.type=fcn8s"]) == 2
    assert "model.hed: unknown key" in capsys.readouterr().err
    assert main_guard(tool.main, ["torchvision:vgg16", "model.head.type=fcn8s"]) == 2
    assert "not torchvision:vgg16" in capsys.readouterr().err


def test_tool_timm_and_errors(tool, capsys):
    assert main_guard(tool.main, ["timm:resnet18", "--input", "3,32,32"]) == 0
    assert "Total params: 11,689,512" in capsys.readouterr().out
    with pytest.raises(RecipeError, match="torchvision:vgg16"):
        tool.main(["torchvision:vgg16x"])
    with pytest.raises(UsageError, match="--input"):
        tool.main(["timm:resnet18", "--input", "3,abc"])
    assert main_guard(tool.main, ["not-a-model"]) == 2
    assert "error: MODEL 'not-a-model'" in capsys.readouterr().err


def test_tool_help_is_fast_and_does_not_import_torch(repo_root):
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['summary.py', '--help']\n"
        "try:\n"
        f"    runpy.run_path({str(repo_root / 'tools' / 'summary.py')!r}, run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "MODEL" in out.stdout and out.stdout.strip().endswith("False")
