"""The recipe loader's rules, through ``tools/run.py --print-recipe`` as a user types it:
duplicate keys, deep or self-referencing or exploding YAML, replace markers, a ``#`` or
``: `` in an unquoted value, and values the schema's types cannot judge. Each is one
``error:`` line naming the file or override, the key and what was expected; exit 2."""
from __future__ import annotations

import time

import pytest

from tests.cli_check import user_error
from tests.helpers import DEMO


def _recipe(tmp_path, text: str):
    path = tmp_path / "mine.yaml"
    path.write_text(f"_base_: {DEMO}\n{text}")
    return path


def test_a_key_given_twice_names_both_lines(capsys, tmp_path):
    path = _recipe(tmp_path, "train: {epochs: 3}\nseed: 1\ntrain:\n  log_every: 1\n")
    user_error(capsys, "run", path, "--print-recipe",
               expect=[str(path), "line 4: key 'train' is given twice", "first on line 2"])


def test_a_key_given_twice_in_an_override_value(capsys):
    user_error(capsys, "run", DEMO, "optim={type: adam, lr: 0.1, lr: 0.2}", "--print-recipe",
               expect=["override 'optim=", "key 'lr' is given twice"])


def test_merge_keys_may_still_be_overridden(capsys, tmp_path):
    """``<<: *base`` then the same key is YAML's way to override, not a duplicate."""
    path = _recipe(tmp_path, "x: &o {type: adam, lr: 0.1}\noptim:\n  <<: *o\n  lr: 0.2\n")
    user_error(capsys, "run", path, "--print-recipe", expect=["x: unknown key in the top level"])


@pytest.mark.parametrize("where", ["top", "data.args"])
def test_an_alias_bomb_is_refused_at_once(capsys, tmp_path, where):
    rows = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    rows += [f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]" for p, c in zip("abcdefg", "bcdefgh")]
    bomb = "\n".join(rows) + "\n"  # 10^8 leaves in ~400 bytes
    if where == "data.args":
        bomb = "data:\n  args:\n" + "".join(f"    {r}\n" for r in rows)
    start = time.monotonic()
    user_error(capsys, "run", _recipe(tmp_path, bomb), "--print-recipe",
               expect=["aliases expand to more than 100000 values"])
    assert time.monotonic() - start < 10


def test_a_recursive_anchor_is_refused(capsys, tmp_path):
    user_error(capsys, "run", _recipe(tmp_path, "data:\n  args: &a {x: *a}\n"), "--print-recipe",
               expect=["an alias refers to an anchor that contains it"])


def test_a_very_deep_list_is_refused(capsys, tmp_path):
    user_error(capsys, "run", _recipe(tmp_path, "x: " + "[" * 5000 + "]" * 5000 + "\n"), "--print-recipe",
               expect=["nested more than 64 levels deep"])


@pytest.mark.parametrize("args, fragments", [
    (["_delete_=true"], ["_delete_ at the top level replaces nothing"]),
    (["optim={_delete_: yes please, type: adam}"], ["optim=", "_delete_: expected true or false, got 'yes please'"]),
    (["optim._replace_=1"], ["_replace_: expected true or false, got 1"]),
])
def test_replace_markers(capsys, args, fragments):
    user_error(capsys, "run", DEMO, *args, "--print-recipe", expect=fragments)


def test_a_replace_marker_at_the_top_of_a_file(capsys, tmp_path):
    path = _recipe(tmp_path, "_delete_: true\n")
    user_error(capsys, "run", path, "--print-recipe", expect=[str(path), "_delete_ at the top level"])


def test_a_hash_in_an_unquoted_value_is_not_cut_silently(capsys):
    user_error(capsys, "run", DEMO, "data.root=/x #1", "--print-recipe",
               expect=["' #' as the start of a comment", "cut to '/x'", "quote it"])


def test_a_quoted_hash_is_kept(capsys):
    from tests.helpers import call_tool

    code, out, err = call_tool("run", DEMO, "data.root='/x #1'", "--print-recipe", capsys=capsys)
    assert code == 0 and "root: '/x #1'" in out, err


def test_colon_space_in_a_path_says_to_quote_it(capsys):
    user_error(capsys, "run", DEMO, "data.root=/a: b", "--print-recipe",
               expect=["data.root: expected a string or null, got dict", "quote it"])


@pytest.mark.parametrize("override, fragments", [
    ("train.clip_grad_norm=-1", ["train.clip_grad_norm: expected a number > 0", "got -1"]),
    ("train.clip_grad_norm=0", ["train.clip_grad_norm: expected a number > 0"]),
    ("eval.miou_classes=[]", ["eval.miou_classes: expected a non-empty list", "got []"]),
    ("eval.miou_classes=[0,0,0]", ["eval.miou_classes: expected class ids without repeats"]),
    ("eval.miou_classes=[-1]", ["eval.miou_classes: expected a non-empty list of class ids"]),
    ("model.input_size=[3,x]", ["model.input_size: expected [C, H, W]", "[3, 'x']"]),
    ("model.input_size=[3,32]", ["model.input_size: expected [C, H, W]"]),
    ("model.input_size=[3,0,32]", ["model.input_size: expected [C, H, W]"]),
    ("out.name=../../../escape", ["out.name: expected one folder name under out.root", "'../../../escape'"]),
    ("out.name=a/b", ["out.name: expected one folder name"]),
    ("out.name=..", ["out.name: expected one folder name"]),
])
def test_values_the_types_cannot_judge(capsys, override, fragments):
    user_error(capsys, "run", DEMO, override, "--print-recipe", expect=fragments)
