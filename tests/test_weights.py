"""Backbone weights by name: ``imagenet`` is torchvision's own file in the torch hub cache."""
from __future__ import annotations

import pytest
import torch

from ignite_zoo.registry.errors import CheckpointError
from tests.helpers import REPO, call_tool
from ignite_zoo.zoo.backbones.weights import TORCHVISION_FILES, read_state_file, resolve_weights


def test_imagenet_resolves_torchvision_files_in_the_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    for backbone, name in TORCHVISION_FILES.items():
        (folder / name).write_bytes(b"x")
        assert resolve_weights("imagenet", backbone) == folder / name


def test_missing_imagenet_file_says_where_and_how_to_fetch_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(CheckpointError) as e:
        resolve_weights("imagenet", "vgg16")
    msg = str(e.value)
    assert "\n" not in msg and str(tmp_path / "hub" / "checkpoints" / "vgg16-397923af.pth") in msg
    assert "torchvision.models.vgg16(weights='IMAGENET1K_V1')" in msg


def test_a_path_is_expanded_and_must_exist(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "w.pth").write_bytes(b"x")
    assert resolve_weights("~/w.pth", "vgg16") == tmp_path / "w.pth"
    with pytest.raises(CheckpointError, match="file not found"):
        resolve_weights("~/nope.pth", "vgg16")


class Thing:
    """Any Python object that is not a tensor."""


@pytest.mark.parametrize("content, expected", [
    (b"just some text\n", "not a torch weights file (not the zip archive"),
    ("pickled", "holds pickled Python objects, not only tensors"),
])
def test_a_file_that_is_no_state_dict_is_one_line(tmp_path, content, expected):
    path = tmp_path / "w.pth"
    if content == "pickled":
        torch.save({"a": Thing()}, path)  # a pickled object: refused by the safe unpickler
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError) as e:
        read_state_file(path)
    assert expected in str(e.value) and str(path) in str(e.value) and "\n" not in str(e.value)


def test_course_recipe_without_the_imagenet_file_is_one_error_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    code, _, err = call_tool("run", REPO / "recipes" / "seg_fcn32s_vgg16_sat.yaml", f"data.root={tmp_path}",
                             f"out.root={tmp_path / 'runs'}", capsys=capsys)
    assert code == 2, err
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("(run again")]
    assert len(lines) == 1 and lines[0].startswith("error: model.backbone.weights=imagenet"), err
    assert "vgg16-397923af.pth" in lines[0] and not (tmp_path / "runs").exists()
