"""Recipes: ``_base_`` merging, overrides, schema validation with useful errors, dumping."""
from __future__ import annotations

import copy
import textwrap
from pathlib import Path

import pytest
import yaml

from ignite_zoo.engines.handlers import check_handlers
from ignite_zoo.registry.errors import RecipeError, UserError
from ignite_zoo.registry.recipe import (
    SCHEMA,
    Key,
    apply_overrides,
    deep_merge,
    dump_recipe,
    dump_yaml,
    load_recipe,
    load_with_bases,
    load_yaml,
    load_yaml_text,
    parse_override,
    resolve_recipe_path,
    shipped_recipes,
    validate,
    write_yaml,
)

BASE = """
task: segmentation
data:
  type: toy_seg
  root: data/sat
model:
  backbone: {type: vgg16, pretrained: false}
  head: {type: fcn32s, num_classes: 7, dropout: 0.5}
train:
  epochs: 2
"""

MINIMAL = {
    "task": "segmentation",
    "data": {"type": "toy_seg"},
    "model": {"backbone": {"type": "vgg16"}, "head": {"type": "fcn32s"}},
    "train": {"epochs": 2},
}


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def minimal(**changes) -> dict:
    """MINIMAL with dotted-path changes; the value ``...`` deletes the key."""
    out = copy.deepcopy(MINIMAL)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        if value is ...:
            node.pop(last, None)
        else:
            node[last] = value
    return out


def error(recipe: dict) -> str:
    with pytest.raises(RecipeError) as info:
        validate(recipe)
    assert isinstance(info.value, UserError)
    return str(info.value)


# -- defaults --------------------------------------------------------------------------
def test_defaults_are_filled(tmp_path):
    r = load_recipe(write(tmp_path, "fcn32s_sat.yaml", BASE))
    assert r["handlers"]["checkpoint"] is True  # on; its settings are the handler's own defaults
    assert check_handlers(r["handlers"])["checkpoint"] == {"keep_last": 1, "keep_best": 1, "every": 1}
    assert r["train"]["amp"] == "auto" and r["train"]["epochs"] == 2
    assert r["data"]["loader"]["batch_size"] == 8
    assert r["data"]["val"]["split"] == "validation"
    assert r["loss"] == {"type": "cross_entropy"}
    assert r["optim"]["type"] == "sgd" and r["sched"] is None
    assert r["imports"] == [] and r["seed"] == 0
    assert r["model"]["head"] == {"type": "fcn32s", "num_classes": 7, "dropout": 0.5}
    assert r["out"]["name"] == "fcn32s_sat"  # the file stem
    assert r["out"]["root"] == "runs"


def test_explicit_out_name_is_kept(tmp_path):
    path = write(tmp_path, "r.yaml", BASE + "out: {name: my_run}\n")
    assert load_recipe(path)["out"]["name"] == "my_run"


def test_defaults_are_copies():
    a = validate(MINIMAL)
    check_handlers(a["handlers"])["mask_snapshots"]["epochs"].append(9)
    a["optim"]["lr"] = 123.0
    b = validate(MINIMAL)
    assert check_handlers(b["handlers"])["mask_snapshots"]["epochs"] == [1, "mid", "last"]
    assert b["optim"]["lr"] == 0.01
    assert SCHEMA["optim"].default["lr"] == 0.01


def test_validate_does_not_change_its_input():
    recipe = minimal(optim={"lr": 0.1})
    before = copy.deepcopy(recipe)
    validate(recipe)
    assert recipe == before


def test_component_without_type_keeps_the_default_type():
    """``optim: {lr: 0.1}`` (or ``optim.lr=0.1``) tunes the default SGD, not a typeless optimizer."""
    r = validate(minimal(optim={"lr": 0.1}))
    assert r["optim"] == {"type": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4}
    r = validate(minimal(loss={"ignore_index": 255}))
    assert r["loss"] == {"type": "cross_entropy", "ignore_index": 255}
    # a component of another type is taken whole: sgd's momentum must not leak into adam
    r = validate(minimal(optim={"type": "adam", "lr": 1e-3}))
    assert r["optim"] == {"type": "adam", "lr": 1e-3}


# -- _base_ ----------------------------------------------------------------------------
def test_base_deep_merge_keeps_the_base_keys(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    child = write(tmp_path, "child.yaml", """
        _base_: base.yaml
        model:
          head: {type: fcn8s}
    """)
    r = load_recipe(child)
    assert r["model"]["head"] == {"type": "fcn8s", "num_classes": 7, "dropout": 0.5}
    assert r["model"]["backbone"] == {"type": "vgg16", "pretrained": False}
    assert r["task"] == "segmentation" and r["data"]["root"] == "data/sat"
    assert r["out"]["name"] == "child"
    assert "_base_" not in load_with_bases(child)


def test_base_list_later_wins_and_child_wins_over_all(tmp_path):
    write(tmp_path, "a.yaml", BASE + "seed: 1\neval: {every: 3}\n")
    write(tmp_path, "b.yaml", "seed: 2\ntrain: {epochs: 5, amp: false}\n")
    child = write(tmp_path, "c.yaml", "_base_: [a.yaml, b.yaml]\ntrain: {epochs: 9}\n")
    r = load_recipe(child)
    assert r["seed"] == 2  # b over a
    assert r["eval"]["every"] == 3  # only in a
    assert r["train"]["epochs"] == 9 and r["train"]["amp"] is False  # child over b, b's amp kept


def test_base_paths_are_relative_to_the_file_that_names_them(tmp_path):
    write(tmp_path, "_bases/root.yaml", BASE)
    write(tmp_path, "_bases/seg/mid.yaml", "_base_: ../root.yaml\nseed: 7\n")
    child = write(tmp_path, "recipes/x/child.yaml", "_base_: ../../_bases/seg/mid.yaml\n")
    r = load_recipe(child)
    assert r["seed"] == 7 and r["task"] == "segmentation"


def test_replace_swaps_a_component_whole(tmp_path):
    write(tmp_path, "base.yaml", BASE + "loss: {type: cross_entropy, weight: [1, 2], ignore_index: 255}\n")
    child = write(tmp_path, "child.yaml", """
        _base_: base.yaml
        loss: {_replace_: true, type: focal, gamma: 2.0}
    """)
    assert load_recipe(child)["loss"] == {"type": "focal", "gamma": 2.0}


def test_replace_marker_never_reaches_the_recipe(tmp_path):
    """Also where the base has nothing to replace, and nested inside a copied section."""
    write(tmp_path, "base.yaml", "task: segmentation\ndata: {type: toy_seg}\ntrain: {epochs: 1}\n")
    child = write(tmp_path, "child.yaml", """
        _base_: base.yaml
        model:
          backbone: {type: vgg16}
          head: {_replace_: true, type: fcn8s}
        sched: {_replace_: false, type: step}
    """)
    r = load_recipe(child)
    assert r["model"]["head"] == {"type": "fcn8s"}
    assert r["sched"] == {"type": "step"}


def test_deep_merge():
    base = {"a": {"x": 1, "y": {"p": 1}}, "b": [1, 2], "c": 1}
    over = {"a": {"y": {"q": 2}}, "b": [3], "d": {"_replace_": True, "k": 1}}
    assert deep_merge(base, over) == {"a": {"x": 1, "y": {"p": 1, "q": 2}}, "b": [3], "c": 1, "d": {"k": 1}}
    assert deep_merge({"a": {"x": 1}}, {"a": {"_replace_": True, "y": 2}}) == {"a": {"y": 2}}
    assert deep_merge({"a": {"x": 1}}, {"a": None}) == {"a": None}
    assert base == {"a": {"x": 1, "y": {"p": 1}}, "b": [1, 2], "c": 1}  # inputs untouched


def test_base_cycle_names_the_files(tmp_path):
    write(tmp_path, "a.yaml", "_base_: b.yaml\n")
    write(tmp_path, "b.yaml", "_base_: a.yaml\n")
    with pytest.raises(RecipeError) as info:
        load_recipe(tmp_path / "a.yaml")
    msg = str(info.value)
    assert "cycle" in msg and "a.yaml -> b.yaml -> a.yaml" in msg


def test_base_self_cycle(tmp_path):
    write(tmp_path, "self.yaml", "_base_: self.yaml\n")
    with pytest.raises(RecipeError, match="cycle: .*self.yaml -> .*self.yaml"):
        load_recipe(tmp_path / "self.yaml")


def test_same_base_twice_is_not_a_cycle(tmp_path):
    write(tmp_path, "common.yaml", BASE)
    write(tmp_path, "a.yaml", "_base_: common.yaml\nseed: 1\n")
    write(tmp_path, "b.yaml", "_base_: common.yaml\n")
    assert load_recipe(write(tmp_path, "c.yaml", "_base_: [a.yaml, b.yaml]\n"))["seed"] == 1


def test_missing_base_file(tmp_path):
    child = write(tmp_path, "child.yaml", "_base_: nowhere/base.yaml\n")
    with pytest.raises(RecipeError) as info:
        load_recipe(child)
    msg = str(info.value)
    assert "child.yaml" in msg and "_base_ file not found" in msg and "nowhere" in msg


def test_bad_base_value(tmp_path):
    child = write(tmp_path, "child.yaml", "_base_: 3\n")
    with pytest.raises(RecipeError, match="child.yaml: _base_ must be a file name or a list"):
        load_recipe(child)


# -- files -----------------------------------------------------------------------------
def test_missing_recipe_file(tmp_path):
    with pytest.raises(RecipeError, match="recipe file not found: .*nope.yaml"):
        load_recipe(tmp_path / "nope.yaml")


def test_yaml_syntax_error_names_the_file(tmp_path):
    path = write(tmp_path, "broken.yaml", "task: [segmentation\ntrain: {epochs: 2}\n")
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert str(path) in str(info.value) and "not valid YAML" in str(info.value)


def test_non_mapping_file_names_the_file(tmp_path):
    path = write(tmp_path, "list.yaml", "- task\n- train\n")
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert str(path) in str(info.value) and "mapping" in str(info.value) and "list" in str(info.value)


def test_non_mapping_base_names_the_base(tmp_path):
    write(tmp_path, "base.yaml", "just a string\n")
    with pytest.raises(RecipeError, match=r"base\.yaml: a recipe must be a mapping"):
        load_recipe(write(tmp_path, "child.yaml", "_base_: base.yaml\n"))


def test_empty_file_is_an_empty_recipe(tmp_path):
    assert load_yaml(write(tmp_path, "empty.yaml", "# nothing\n")) == {}
    with pytest.raises(RecipeError, match="task: missing required key"):
        load_recipe(tmp_path / "empty.yaml")


def test_scientific_floats_in_files_are_floats(tmp_path):
    path = write(tmp_path, "r.yaml", BASE + "optim: {type: adam, lr: 1e-3, weight_decay: 5E-4, eps: 1.5e-8}\n")
    optim = load_recipe(path)["optim"]
    assert optim == {"type": "adam", "lr": 0.001, "weight_decay": 0.0005, "eps": 1.5e-8}
    assert all(type(optim[k]) is float for k in ("lr", "weight_decay", "eps"))


# -- overrides -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, key, value",
    [
        ("train.epochs=3", ["train", "epochs"], 3),
        ("train.amp=false", ["train", "amp"], False),
        ("train.amp=bf16", ["train", "amp"], "bf16"),
        ("optim.lr=1e-3", ["optim", "lr"], 0.001),
        ("optim.lr=1E-3", ["optim", "lr"], 0.001),
        ("optim.lr=5e+2", ["optim", "lr"], 500.0),
        ("optim.lr=1.5e3", ["optim", "lr"], 1500.0),
        ("optim.lr=-2e-5", ["optim", "lr"], -2e-5),
        ("optim.lr=0.01", ["optim", "lr"], 0.01),
        ("optim.lr=.5", ["optim", "lr"], 0.5),
        ("model.head.type=fcn8s", ["model", "head", "type"], "fcn8s"),
        ("eval.miou_classes=[0,1,2]", ["eval", "miou_classes"], [0, 1, 2]),
        ("out.name='007'", ["out", "name"], "007"),
        ("out.name=1e3x", ["out", "name"], "1e3x"),
        ("out.name=", ["out", "name"], None),
        ("sched=null", ["sched"], None),
        ("data.args={a: 1}", ["data", "args"], {"a": 1}),
        (" train.epochs = 4", ["train", "epochs"], 4),
        ("out.name=a=b", ["out", "name"], "a=b"),
        ("handlers.early_stopping.patience=5", ["handlers", "early_stopping", "patience"], 5),
        ("data.loader.pin-memory=1", ["data", "loader", "pin-memory"], 1),
    ],
)
def test_parse_override_types(text, key, value):
    k, v = parse_override(text)
    assert k == key
    assert v == value and type(v) is type(value)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("train.epochs", "expected key.sub=value"),
        ("=3", "is not a dotted key path"),
        ("train..epochs=3", "is not a dotted key path"),
        ("train.=3", "is not a dotted key path"),
        ("train epochs=3", "is not a dotted key path"),
        ("train.epochs=[1,", "value is not valid YAML"),
    ],
)
def test_bad_override_syntax(text, fragment):
    with pytest.raises(RecipeError) as info:
        parse_override(text)
    assert fragment in str(info.value) and repr(text) in str(info.value)


def test_override_under_a_scalar_is_an_error():
    with pytest.raises(RecipeError) as info:
        apply_overrides(MINIMAL, ["train.epochs.max=3"])
    assert "train.epochs is 2, not a section" in str(info.value)
    with pytest.raises(RecipeError, match="model.head.type is 'fcn32s'"):
        apply_overrides(MINIMAL, ["model.head.type.x=1"])


def test_apply_overrides_creates_sections_and_leaves_input_alone():
    before = copy.deepcopy(MINIMAL)
    out = apply_overrides(MINIMAL, ["handlers.checkpoint.keep_last=5", "model.head.type=fcn8s"])
    assert out["handlers"] == {"checkpoint": {"keep_last": 5}}
    assert out["model"]["head"]["type"] == "fcn8s"
    assert MINIMAL == before


def test_load_recipe_with_overrides(tmp_path):
    path = write(tmp_path, "r.yaml", BASE)
    r = load_recipe(path, [
        "train.epochs=3", "train.amp=false", "optim.lr=1e-3", "model.head.type=fcn8s",
        "eval.miou_classes=[0,1,2]", "handlers.checkpoint.keep_last=4",
    ])
    assert r["train"]["epochs"] == 3 and r["train"]["amp"] is False
    assert r["optim"]["lr"] == 0.001 and r["optim"]["type"] == "sgd"
    assert r["model"]["head"] == {"type": "fcn8s", "num_classes": 7, "dropout": 0.5}
    assert r["eval"]["miou_classes"] == [0, 1, 2]
    assert r["handlers"]["checkpoint"] == {"keep_last": 4}
    assert check_handlers(r["handlers"])["checkpoint"] == {"keep_last": 4, "keep_best": 1, "every": 1}


def test_overrides_are_validated(tmp_path):
    path = write(tmp_path, "r.yaml", BASE)
    with pytest.raises(RecipeError, match="train.epochs: expected an integer, got float 3.5"):
        load_recipe(path, ["train.epochs=3.5"])
    with pytest.raises(RecipeError, match="train.epoch: unknown key in section 'train'; did you mean 'epochs'"):
        load_recipe(path, ["train.epoch=3"])


# -- validation errors -----------------------------------------------------------------
def test_minimal_recipe_is_valid():
    assert validate(MINIMAL)["task"] == "segmentation"


def test_unknown_top_level_key_with_suggestion():
    msg = error(minimal(trian={"epochs": 2}))
    assert msg == "trian: unknown key in the top level; did you mean 'train'?"


def test_unknown_top_level_key_without_suggestion_lists_known_keys():
    msg = error(minimal(zzzzzz=1))
    assert msg.startswith("zzzzzz: unknown key in the top level; known keys: ")
    assert "train" in msg and "handlers" in msg


def test_unknown_section_key():
    msg = error(minimal(train__epoch=2))
    assert msg == "train.epoch: unknown key in section 'train'; did you mean 'epochs'?"
    with pytest.raises(RecipeError, match=r"handlers.checkpoint: .*unexpected argument 'keep' \(did you mean "
                                          r"'keep_best' or 'keep_last'\?\)"):
        check_handlers(validate(minimal(handlers__checkpoint__keep=2))["handlers"])


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"data__type": 3}, "data.type: expected a string, got int 3"),
        ({"train__epochs": True}, "train.epochs: expected an integer, got bool True"),
        ({"train__epochs": "3"}, "train.epochs: expected an integer, got str '3'"),
        ({"train__epochs": 2.0}, "train.epochs: expected an integer, got float 2.0"),
        ({"seed": False}, "seed: expected an integer, got bool False"),
        ({"train__clip_grad_norm": True}, "train.clip_grad_norm: expected an integer or a number or null"),
        ({"data__loader__batch_size": None}, "data.loader.batch_size: expected an integer, got NoneType None"),
        ({"imports": "my_heads"}, "imports: expected a list, got str"),
        ({"train__persistent": 1}, "train.persistent: unknown key"),
    ],
)
def test_wrong_types(changes, fragment):
    assert fragment in error(minimal(**changes))


@pytest.mark.parametrize(
    "changes",
    [
        {"train__clip_grad_norm": 1},
        {"train__clip_grad_norm": 0.5},
        {"train__clip_grad_norm": None},
        {"train__amp": True},
        {"train__amp": "bf16"},
        {"data__loader__pin_memory": False},
        {"data__loader__val_batch_size": None},
        {"task": "classification"},
    ],
)
def test_accepted_values(changes):
    validate(minimal(**changes))


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"task": "detection"}, "task: expected one of 'classification', 'segmentation', got 'detection'"),
        ({"train__amp": "fp32"}, "train.amp: expected one of True, False, 'auto', 'bf16', 'fp16', got 'fp32'"),
    ],
)
def test_choices(changes, fragment):
    assert fragment in error(minimal(**changes))


@pytest.mark.parametrize("dotted", ["task", "data__type", "model__backbone", "model__head", "train__epochs"])
def test_missing_required_key(dotted):
    path = dotted.replace("__", ".")
    assert error(minimal(**{dotted: ...})).startswith(f"{path}: missing required key")
    assert error(minimal(**{dotted: None})).startswith(f"{path}: missing required key")


def test_missing_required_key_says_what_is_expected():
    assert "'classification' or 'segmentation'" in error(minimal(task=...))
    assert "a registered dataset" in error(minimal(data__type=...))


def test_missing_sections():
    assert error({"task": "segmentation"}).startswith("data.type: missing required key")
    assert error(minimal(model=...)).startswith("model.backbone: missing required key")


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"train": 5}, "train: expected a section (mapping), got int 5"),
        ({"model": ["vgg16"]}, "model: expected a section (mapping), got list"),
        ({"handlers__checkpoint": [1]}, "handlers.checkpoint: expected a mapping or true/false or null, got list"),
        ({"data__train": "train"}, "data.train: expected a section (mapping), got str 'train'"),
    ],
)
def test_section_not_a_mapping(changes, fragment):
    assert fragment in error(minimal(**changes))


@pytest.mark.parametrize(
    "handlers, message",
    [
        ({"checkpoint": {"keep_last": 0}}, "handlers.checkpoint.keep_last: expected an integer >= 1, got 0"),
        ({"checkpoint": {"keep_best": -1}}, "handlers.checkpoint.keep_best: expected an integer >= 0, got -1"),
        ({"checkpoint": {"every": True}}, "handlers.checkpoint.every: expected an integer >= 1, got True"),
        ({"early_stopping": {"patience": 0}},
         "handlers.early_stopping.patience: expected an integer >= 1 or null, got 0"),
        ({"tensorboard": {"images": "yes"}}, "handlers.tensorboard.images: expected true or false, got str 'yes'"),
        ({"tensorboard": {"enabled": "yes"}}, "handlers.tensorboard.enabled: expected true or false, got str 'yes'"),
        ({"tensorboard": {"log_every": 0}}, "handlers.tensorboard.log_every: expected an integer >= 1 or null"),
        ({"progress": {"force": 1}}, "handlers.progress.force: expected true or false, got int 1"),
        ({"mask_snapshots": {"epochs": "last"}},
         "handlers.mask_snapshots.epochs: expected a list such as [1, mid, last], got str 'last'"),
        ({"mask_snapshots": {"epochs": [0]}}, "handlers.mask_snapshots.epochs[0]: expected an epoch number >= 1"),
        ({"mask_snapshots": {"ids": "0010"}}, "handlers.mask_snapshots.ids: expected a list of file ids"),
    ],
)
def test_each_handler_checks_its_own_settings(handlers, message):
    """The schema knows only the handlers' names; each handler says what it expected."""
    r = validate(minimal(handlers=handlers))  # the recipe schema takes any settings of a handler
    with pytest.raises(RecipeError) as info:
        check_handlers(r["handlers"])
    assert str(info.value).startswith(message), str(info.value)


def test_empty_section_gets_defaults():
    r = validate(minimal(handlers=None, eval={}))
    assert r["handlers"]["checkpoint"] is True and r["eval"]["every"] == 1


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"model__head": {"num_classes": 7}}, "model.head: expected a mapping with a 'type' key, got keys ['num_classes']"),
        ({"model__backbone": {}}, "model.backbone: expected a mapping with a 'type' key"),
        ({"sched": {"step_size": 3}}, "sched: expected a mapping with a 'type' key"),
        ({"model__head": "fcn8s"}, "model.head: expected a mapping, got str 'fcn8s'"),
        ({"model__head": {"type": 8}}, "model.head.type: expected a string (a registered name), got int 8"),
        ({"loss": {"type": None}}, "loss.type: expected a string (a registered name), got NoneType None"),
    ],
)
def test_component_errors(changes, fragment):
    assert fragment in error(minimal(**changes))


def test_every_schema_leaf_is_a_key():
    def walk(node, prefix=""):
        for k, v in node.items():
            if isinstance(v, dict):
                yield from walk(v, f"{prefix}{k}.")
            else:
                assert isinstance(v, Key), prefix + k
                yield prefix + k

    leaves = list(walk(SCHEMA))
    assert "handlers.checkpoint" in leaves and len(leaves) > 40
    validate(MINIMAL)  # every default passes its own check


# -- dumping ---------------------------------------------------------------------------
def test_dump_recipe_round_trips(tmp_path):
    path = write(tmp_path, "r.yaml", BASE + "optim: {type: adam, lr: 1e-5}\nout: {dir: '1e-3'}\n")
    r = load_recipe(path, ["eval.miou_classes=[0,1]", "train.amp=false"])
    dumped = tmp_path / "resolved.yaml"
    dump_recipe(r, dumped)
    again = load_recipe(dumped)
    assert again == r
    assert again["out"]["dir"] == "1e-3" and again["optim"]["lr"] == 1e-5
    assert again["out"]["name"] == "r"  # the original run name, not the dump's stem
    assert list(yaml.safe_load(dumped.read_text())) == list(SCHEMA)  # readable: schema order


def test_replace_marker_in_an_override_is_harmless():
    from ignite_zoo.registry.recipe import apply_overrides

    out = apply_overrides({"optim": {"type": "sgd", "momentum": 0.9}}, ["optim={_replace_: true, type: adam, lr: 0.001}"])
    assert out["optim"] == {"type": "adam", "lr": 0.001}


# -- the one YAML writer ---------------------------------------------------------------
#: strings that YAML 1.1 (PyYAML), the YAML 1.1 spec or the YAML 1.2 core schema reads as
#: something other than a string
AMBIGUOUS = ["0097", "0010", "0107", "007", "08", "1e-3", "5E4", "1.5e3", ".5", "1.", "-2", "+3",
             "0o17", "0x1F", "0b101", "1_000", "12:30", "yes", "No", "ON", "off", "y", "N", "true",
             "False", "null", "Null", "~", "", ".inf", "-.Inf", ".nan", "2024-01-02"]


@pytest.mark.parametrize("text", AMBIGUOUS)
def test_writer_quotes_strings_any_reader_would_retype(text):
    dumped = dump_yaml({"k": text, "ids": [text]})
    values = [line.split(": ", 1)[1] if ": " in line else line.lstrip("- ")
              for line in dumped.splitlines() if line not in ("ids:",)]
    assert all(v[0] in "'\"" for v in values), dumped
    assert load_yaml_text(dumped) == {"k": text, "ids": [text]}
    assert yaml.safe_load(dumped) == {"k": text, "ids": [text]}  # a plain YAML 1.1 reader too


@pytest.mark.parametrize("text", ["fcn8s", "1e3x", "mid", "data/demo_sat", "0010_mask.png", "yes please"])
def test_writer_leaves_plain_strings_plain(text):
    assert dump_yaml({"k": text}) == f"k: {text}\n"


def test_writer_keeps_types_and_order():
    obj = {"b": 1, "a": [0.001, 1e-5, True, None, 97, -1.5], "t": (1, 2), "s": {"z": "x", "y": 2}}
    text = dump_yaml(obj)
    assert text.splitlines()[0] == "b: 1" and "&" not in text
    back = load_yaml_text(text)
    assert back == {**obj, "t": [1, 2]} and list(back) == ["b", "a", "t", "s"]
    assert type(back["a"][0]) is float and back["a"][2] is True and back["a"][3] is None


def test_write_yaml_is_atomic_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "r.yaml"
    write_yaml({"a": "0097"}, path)
    assert load_yaml_text(path.read_text()) == {"a": "0097"}

    class Boom(Exception):
        pass

    def fail(*args):
        raise Boom

    monkeypatch.setattr("ignite_zoo.registry.recipe.yaml_io.os.replace", fail)
    with pytest.raises(Boom):
        write_yaml({"a": "new"}, path)
    assert load_yaml_text(path.read_text()) == {"a": "0097"}  # the old file, whole
    assert [p.name for p in tmp_path.iterdir()] == ["r.yaml"]


def test_dumped_recipe_keeps_mask_ids_strings(tmp_path):
    r = load_recipe(write(tmp_path, "r.yaml", BASE + "handlers: {mask_snapshots: {ids: ['0097', '0010']}}\n"))
    dump_recipe(r, tmp_path / "out.yaml")
    text = (tmp_path / "out.yaml").read_text()
    assert "- '0097'" in text and "- '0010'" in text
    assert load_recipe(tmp_path / "out.yaml")["handlers"]["mask_snapshots"]["ids"] == ["0097", "0010"]


def test_print_recipe_uses_the_writer(capsys):
    from tests.helpers import DEMO, call_tool

    code, out, err = call_tool("run", DEMO, "handlers.mask_snapshots.ids=['0097','0010']", "out.dir='1e-3'",
                               "--print-recipe", capsys=capsys)
    assert code == 0, err
    assert "- '0097'" in out and "dir: '1e-3'" in out
    assert load_yaml_text(out)["handlers"]["mask_snapshots"]["ids"] == ["0097", "0010"]


# -- _delete_ and list indexes (mmengine / Hydra spellings) ----------------------------
def test_delete_is_the_spelling_of_replace(tmp_path):
    write(tmp_path, "base.yaml", BASE + "loss: {type: cross_entropy, weight: [1, 2], ignore_index: 255}\n")
    child = write(tmp_path, "child.yaml", """
        _base_: base.yaml
        loss: {_delete_: true, type: focal, gamma: 2.0}
        model:
          head: {_delete_: false, dropout: 0.1}
          backbone: {type: vgg16, extra: {_delete_: true, a: 1}}
    """)
    r = load_recipe(child)
    assert r["loss"] == {"type": "focal", "gamma": 2.0}
    assert r["model"]["head"] == {"type": "fcn32s", "num_classes": 7, "dropout": 0.1}  # false: merged
    assert r["model"]["backbone"] == {"type": "vgg16", "pretrained": False, "extra": {"a": 1}}


def test_no_marker_survives_at_any_depth():
    merged = deep_merge({"a": {"x": 1}}, {"a": {"_delete_": True, "l": [{"_replace_": True, "b": {"_delete_": 1}}]}})
    assert merged == {"a": {"l": [{"b": {}}]}}
    out = apply_overrides({}, ["optim={_delete_: true, type: adam}"])
    assert out["optim"] == {"type": "adam"}


TRANSFORMS = {"data": {"train": {"transforms": [{"type": "HorizontalFlip", "p": 0.5},
                                                {"type": "VerticalFlip", "p": 0.5}]}}}


def test_list_index_overrides():
    out = apply_overrides(TRANSFORMS, ["data.train.transforms.0.p=1.0", "data.train.transforms.-1.p=0.0"])
    assert out["data"]["train"]["transforms"] == [{"type": "HorizontalFlip", "p": 1.0},
                                                  {"type": "VerticalFlip", "p": 0.0}]
    out = apply_overrides(TRANSFORMS, ["data.train.transforms.1={type: Transpose}"])
    assert out["data"]["train"]["transforms"][1] == {"type": "Transpose"}
    out = apply_overrides({"eval": {"miou_classes": [0, 1, 2]}}, ["eval.miou_classes.-1=5"])
    assert out["eval"]["miou_classes"] == [0, 1, 5]
    assert TRANSFORMS["data"]["train"]["transforms"][0]["p"] == 0.5  # input untouched


@pytest.mark.parametrize(
    "override, fragments",
    [
        ("data.train.transforms.2.p=1", ["data.train.transforms has 2 items", "index 2 is out of range",
                                         "0..1 or -1 for the last"]),
        ("data.train.transforms.-3.p=1", ["index -3 is out of range"]),
        ("data.train.transforms.first.p=1", ["data.train.transforms is a list", "'first'"]),
        ("data.train.0=1", ["data.train is a mapping, not a list", "0 is neither an index"]),
        ("data.val.transforms.0.p=1", ["data.val.transforms is not set", "no items to index"]),
        ("data.train.transforms.0.p.x=1", ["data.train.transforms.0.p is 0.5, not a section"]),
    ],
)
def test_list_index_override_errors_name_the_override(override, fragments):
    with pytest.raises(RecipeError) as info:
        apply_overrides(TRANSFORMS, [override])
    msg = str(info.value)
    assert msg.startswith(f"override {override!r}: ") and "\n" not in msg
    for f in fragments:
        assert f in msg, msg


def test_empty_list_index_error():
    with pytest.raises(RecipeError, match="has 0 items; index 0 is out of range \\(none: the list is empty\\)"):
        apply_overrides({"imports": []}, ["imports.0=x"])


# -- ~ in paths ------------------------------------------------------------------------
def _path_keys(node=SCHEMA, prefix=""):
    for k, v in node.items():
        if isinstance(v, dict):
            yield from _path_keys(v, f"{prefix}{k}__")
        elif v.path:
            yield prefix + k


def test_every_path_key_expands_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    keys = list(_path_keys())
    assert {"data__root", "out__root", "out__dir", "resume"} <= set(keys)
    for dotted in keys:
        r = validate(minimal(**{dotted: "~/x/y"}))
        node = r
        for part in dotted.split("__"):
            node = node[part]
        assert node == f"{tmp_path}/x/y", dotted
    r = validate(minimal(model__backbone={"type": "vgg16", "weights": "~/vgg16.pth", "name": "~keep"}))
    assert r["model"]["backbone"] == {"type": "vgg16", "weights": f"{tmp_path}/vgg16.pth", "name": "~keep"}


def test_home_expansion_leaves_other_values_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    r = validate(minimal(resume="auto", data__root="data/~x", out__name="~run", handlers__mask_snapshots__ids=["~1"]))
    assert r["resume"] == "auto" and r["data"]["root"] == "data/~x"
    assert r["out"]["name"] == "~run" and r["handlers"]["mask_snapshots"]["ids"] == ["~1"]


def test_overrides_and_files_get_home_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    path = write(tmp_path, "r.yaml", BASE + "out: {root: ~/runs}\n")
    r = load_recipe(path, ["data.root=~/sat", "model.backbone.weights=~/w.pth"])
    assert r["out"]["root"] == f"{tmp_path}/runs" and r["data"]["root"] == f"{tmp_path}/sat"
    assert r["model"]["backbone"]["weights"] == f"{tmp_path}/w.pth"


def test_paths_expand_for_tools(tmp_path, monkeypatch):
    from ignite_zoo.registry.paths import expand

    monkeypatch.setenv("HOME", str(tmp_path))
    assert expand("~/preds") == tmp_path / "preds"
    assert expand(Path("rel/~x")) == Path("rel/~x")


# -- recipes by name -------------------------------------------------------------------
REPO = Path(__file__).resolve().parents[1]


def test_shipped_recipes_are_found_through_the_recipes_package():
    shipped = shipped_recipes()
    assert shipped["seg_demo"] == REPO / "recipes" / "seg_demo.yaml"
    assert {"cls_vgg16_digits", "seg_fcn8s_vgg16_sat"} <= set(shipped)
    assert not any(name.startswith("_") for name in shipped)  # _base_ parts and __init__ are no recipes


@pytest.mark.parametrize("name", ["seg_demo", "seg_demo.yaml"])
def test_recipe_by_name(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing called seg_demo here
    assert resolve_recipe_path(name) == REPO / "recipes" / "seg_demo.yaml"
    r = load_recipe(name, ["train.epochs=1"])
    assert r["out"]["name"] == "seg_demo" and r["train"]["epochs"] == 1
    assert r["data"]["type"] == "synthetic_landcover"


def test_an_existing_file_wins_over_a_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "seg_demo.yaml", BASE)
    assert resolve_recipe_path("seg_demo.yaml") == Path("seg_demo.yaml")
    assert load_recipe("seg_demo.yaml")["data"]["type"] == "toy_seg"


def test_unknown_recipe_name_suggests_close_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RecipeError) as info:
        resolve_recipe_path("seg_dem")
    msg = str(info.value)
    assert "recipe file not found: seg_dem" in msg and "did you mean 'seg_demo'" in msg and "\n" not in msg
    with pytest.raises(RecipeError, match="shipped recipes: .*seg_demo"):
        load_recipe("zzzz")


def test_base_may_name_a_shipped_recipe(tmp_path):
    child = write(tmp_path, "mine.yaml", "_base_: seg_demo\ntrain: {epochs: 2}\n")
    r = load_recipe(child)
    assert r["data"]["type"] == "synthetic_landcover" and r["train"]["epochs"] == 2
    assert r["out"]["name"] == "mine"
    # a shipped _base_ part by its path inside the package
    part = write(tmp_path, "part.yaml", "_base_: _base_/seg_sat.yaml\n")
    assert load_with_bases(part)["task"] == "segmentation"


def test_relative_base_wins_over_a_shipped_one(tmp_path):
    write(tmp_path, "seg_demo.yaml", BASE + "seed: 42\n")
    child = write(tmp_path, "mine.yaml", "_base_: seg_demo.yaml\n")
    assert load_recipe(child)["seed"] == 42
