"""Checkpoints are read with ``weights_only=True``: a ``.pt`` holding a pickled object is
refused with one line, and the object's code never runs (a pickle can run anything)."""
from __future__ import annotations

from pathlib import Path

import torch

from tests.cli_check import user_error


class _Planted:
    """Unpickling this calls ``Path.touch(marker)``: the marker exists only if it ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickled_object_in_a_checkpoint_never_runs(capsys, tmp_path):
    marker = tmp_path / "code_ran"
    ckpt = tmp_path / "evil.pt"
    torch.save({"model": {}, "recipe": {"yaml": "{}"}, "payload": _Planted(marker)}, ckpt)
    user_error(capsys, "export", ckpt, "--onnx", tmp_path / "out" / "m.onnx",
               expect=[f"{ckpt}: cannot read checkpoint"])
    assert not marker.exists()
