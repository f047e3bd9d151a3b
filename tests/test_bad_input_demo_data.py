"""``make_demo_data``: flag errors name the flag typed, and regenerating a set with other
parameters never deletes what else lies in its folder (a run, a user's notes)."""
from __future__ import annotations

import pytest

from tests.cli_check import snapshot, user_error
from tests.helpers import call_tool


@pytest.mark.parametrize("flags, fragment", [
    (["--size", "100000"], "--size 100000: expected an image side of 16 to 8192 pixels"),
    (["--size", "8"], "--size 8: expected an image side of 16 to 8192 pixels"),
    (["--n", "0"], "--n 0: expected a positive number of images"),
    (["--seed", "-1"], "--seed -1: expected a non-negative integer"),
    (["--val-fraction", "1.5"], "--val-fraction 1.5: expected a number in [0, 1)"),
    (["--layout", "voc", "--n", "1"], "--n 1: expected a positive number of images (voc: at least 2"),
    (["--layout", "voc", "--classes", "30"], "--classes 30: expected 2 to 21 classes"),
])
def test_flag_errors_name_the_flag(tmp_path, capsys, flags, fragment):
    user_error(capsys, "make_demo_data", tmp_path / "set", *flags, expect=[fragment])
    assert not (tmp_path / "set").exists()


def test_regenerating_never_deletes_other_files_in_the_set(tmp_path, capsys):
    root = tmp_path / "set"
    code, _, err = call_tool("make_demo_data", root, "--n", "4", "--size", "16", capsys=capsys)
    assert code == 0, err
    (root / "runs" / "mine").mkdir(parents=True)
    (root / "runs" / "mine" / "recipe.yaml").write_text("a run of mine\n")
    before = snapshot(root)
    user_error(capsys, "make_demo_data", root, "--n", "5", "--size", "16",
               expect=[f"{root} holds a set generated with other parameters and also runs", "move those out"])
    assert snapshot(root) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left
