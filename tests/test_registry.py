"""Registry: registering, looking up (with suggestions and name families) and building."""
from __future__ import annotations

import uuid

import pytest

from ignite_zoo.registry import plugins
from ignite_zoo.registry import REGISTRIES, RecipeError, UserError
from ignite_zoo.registry.registry import (
    BACKBONES,
    DATASETS,
    HEADS,
    LOSSES,
    OPTIMIZERS,
    SCHEDULERS,
    TRANSFORMS,
    Registry,
)


@pytest.fixture(autouse=True)
def no_entry_points(monkeypatch):
    """Unknown names must not scan installed plugins here: that is tested in test_plugins."""
    monkeypatch.setattr(plugins, "_entry_points_loaded", True)


@pytest.fixture
def make_registry():
    """Throwaway registries with unique names, removed from REGISTRIES afterwards."""
    made: list[str] = []

    def make(stem: str = "t", suffix: str = "") -> Registry:
        reg = Registry(f"{stem}{uuid.uuid4().hex[:8]}{suffix}")
        made.append(reg.name)
        return reg

    yield make
    for name in made:
        REGISTRIES.pop(name, None)


@pytest.fixture
def heads(make_registry):
    """A registry shaped like the real heads, for suggestion tests."""
    reg = make_registry("heads")

    def head(name):
        def builder(backbone, num_classes: int = 7, dropout: float = 0.5):
            return {"name": name, "backbone": backbone, "num_classes": num_classes, "dropout": dropout}

        return builder

    for name in ("fcn8s", "fcn16s", "fcn32s", "classifier", "segnet"):
        reg.register(name)(head(name))
    return reg


# -- registering -----------------------------------------------------------------------
def test_register_with_name_without_name_and_bare(make_registry):
    reg = make_registry()

    @reg.register()
    def from_call():
        return "call"

    @reg.register("explicit")
    def ignored_name():
        return "explicit"

    @reg.register
    def bare():
        return "bare"

    @reg.register
    class Klass:
        pass

    assert reg.names() == ["Klass", "bare", "explicit", "from_call"]
    # the decorator hands back the object itself, so decorated code stays usable
    assert from_call() == "call" and ignored_name() == "explicit" and bare() == "bare"
    assert reg.get("from_call") is from_call
    assert reg.get("explicit") is ignored_name
    assert reg.get("Klass") is Klass
    assert "bare" in reg and "ignored_name" not in reg
    assert len(reg) == 4 and list(reg) == reg.names()
    assert reg.name in repr(reg)


def test_duplicate_name_is_an_error_and_force_replaces(make_registry):
    reg = make_registry()

    @reg.register("dup")
    def first():
        return 1

    def second():
        return 2

    with pytest.raises(RecipeError) as info:  # a user error, so the CLI shows it as one line
        reg.register("dup")(second)
    assert isinstance(info.value, UserError)
    msg = str(info.value)
    assert "'dup'" in msg and "first" in msg and "force=True" in msg
    assert reg.get("dup") is first  # the failed registration changed nothing

    reg.register("dup", force=True)(second)
    assert reg.get("dup") is second

    @reg.register(force=True)
    def second():  # noqa: F811 - same __name__, registered again with force
        return 3

    assert reg.get("second")() == 3


def test_registering_the_same_object_twice_is_harmless(make_registry):
    reg = make_registry()

    def f():
        pass

    reg.register("f")(f)
    reg.register("f")(f)  # e.g. a plugin module imported by two recipes
    assert reg.names() == ["f"]


def test_empty_name_is_rejected(make_registry):
    reg = make_registry()
    with pytest.raises(ValueError, match="non-empty string"):
        reg.register("")(lambda: None)


def test_registry_names_are_unique_and_builtins_exist(make_registry):
    reg = make_registry()
    with pytest.raises(ValueError, match=reg.name):
        Registry(reg.name)
    assert REGISTRIES[reg.name] is reg
    expected = {
        "backbone": BACKBONES, "head": HEADS, "loss": LOSSES, "dataset": DATASETS,
        "transform": TRANSFORMS, "optimizer": OPTIMIZERS, "scheduler": SCHEDULERS,
    }
    for name, reg in expected.items():
        assert REGISTRIES[name] is reg and reg.name == name


# -- building --------------------------------------------------------------------------
def test_build_with_kwargs_extra_and_string_shorthand(make_registry):
    reg = make_registry()

    @reg.register("pair")
    def pair(a, b=2, *, c=3):
        return (a, b, c)

    assert reg.build({"type": "pair", "a": 1}) == (1, 2, 3)
    assert reg.build({"type": "pair", "a": 1, "b": 5}, c=7) == (1, 5, 7)
    assert reg.build({"type": "pair"}, a="from-extra") == ("from-extra", 2, 3)
    # extra wins over the recipe (the caller knows better, e.g. the real backbone)
    assert reg.build({"type": "pair", "a": 1}, a=9) == (9, 2, 3)
    assert reg.build("pair", a=0) == (0, 2, 3)


def test_build_does_not_mutate_the_recipe(make_registry):
    parts = make_registry("part")
    outer = make_registry()
    parts.register("p")(lambda x=0: ("p", x))
    outer.register("o")(lambda **kw: kw)
    cfg = {"type": "o", parts.name: {"type": "p", "x": 1}}
    before = repr(cfg)
    outer.build(cfg)
    assert repr(cfg) == before


def test_nested_type_under_a_registry_named_key_is_built_from_that_registry(make_registry):
    parts = make_registry("part")
    outer = make_registry("outer")

    @parts.register("p")
    def part(x=0):
        return ("part", x)

    @outer.register("o")
    def build_outer(**kwargs):
        return kwargs

    built = outer.build({
        "type": "o",
        parts.name: {"type": "p", "x": 4},                 # singular key: one component
        f"{parts.name}s": [{"type": "p"}, {"type": "p", "x": 2}],  # plural key: a list of them
        "plain": {"type": "p", "x": 5},                    # not a registry name: left alone
        "untyped": [1, 2],
    })
    assert built[parts.name] == ("part", 4)
    assert built[f"{parts.name}s"] == [("part", 0), ("part", 2)]
    assert built["plain"] == {"type": "p", "x": 5}
    assert built["untyped"] == [1, 2]


def test_nested_type_with_es_plural(make_registry):
    """A registry named like ``loss`` is also found under its -es plural (``losses: [...]``)."""
    losses = make_registry("z", suffix="loss")
    losses.register("l1")(lambda weight=1.0: ("l1", weight))
    outer = make_registry("outer")
    outer.register("combo")(lambda **kw: kw)
    built = outer.build({"type": "combo", losses.name + "es": [{"type": "l1", "weight": 0.5}, {"type": "l1"}]})
    assert built[losses.name + "es"] == [("l1", 0.5), ("l1", 1.0)]
    assert outer.build({"type": "combo", losses.name: {"type": "l1"}})[losses.name] == ("l1", 1.0)


def test_real_losses_key_maps_to_the_loss_registry(make_registry):
    """The documented ``losses:`` key: built from LOSSES."""
    outer = make_registry("outer")
    outer.register("combo")(lambda losses: losses)
    name = f"test_l_{uuid.uuid4().hex[:8]}"
    LOSSES.register(name)(lambda w=1: ("loss", w))
    try:
        assert outer.build({"type": "combo", "losses": [{"type": name, "w": 3}]}) == [("loss", 3)]
    finally:
        LOSSES._items.pop(name, None)


def test_nested_errors_name_the_nested_path(make_registry):
    parts = make_registry("part")
    outer = make_registry("outer")
    parts.register("p")(lambda x=0: x)
    outer.register("o")(lambda **kw: kw)
    with pytest.raises(RecipeError) as info:
        outer.build({"type": "o", f"{parts.name}s": [{"type": "p"}, {"type": "q"}]}, _path="model.head")
    assert str(info.value).startswith(f"model.head.{parts.name}s[1].type: unknown {parts.name} 'q'")
    with pytest.raises(RecipeError) as info:
        outer.build({"type": "o", parts.name: {"type": "p", "y": 1}}, _path="model.head")
    assert f"model.head.{parts.name}" in str(info.value) and "'y'" in str(info.value)


# -- name families ("timm:resnet18") ---------------------------------------------------
def test_prefix_family(make_registry):
    reg = make_registry()

    @reg.register("toy:")
    def toy(variant, depth=1):
        return ("toy", variant, depth)

    @reg.register("toy:special")
    def special(depth=1):
        return ("special", depth)

    assert reg.get("toy:resnet18")() == ("toy", "resnet18", 1)
    assert reg.build({"type": "toy:resnet18", "depth": 3}) == ("toy", "resnet18", 3)
    assert reg.build("toy:a:b") == ("toy", "a:b", 1)  # only the first colon splits
    assert reg.get("toy:special") is special  # an exact name wins over the family
    with pytest.raises(RecipeError, match="unknown"):
        reg.get("other:resnet18")
    with pytest.raises(RecipeError) as info:
        reg.build({"type": "toy:resnet18", "width": 2}, _path="model.backbone")
    msg = str(info.value)
    assert "model.backbone" in msg and "'width'" in msg and "depth" in msg


# -- errors ----------------------------------------------------------------------------
def test_unknown_name_suggests_the_closest(heads):
    with pytest.raises(RecipeError) as info:
        heads.get("fcn8")
    assert f"unknown {heads.name} 'fcn8'; did you mean 'fcn8s'?" in str(info.value)
    with pytest.raises(RecipeError) as info:
        heads.build({"type": "fnc8s"}, _path="model.head")
    msg = str(info.value)
    assert msg.startswith("model.head.type: unknown")
    assert "did you mean 'fcn8s'" in msg


def test_unknown_name_without_close_match_lists_all(heads):
    with pytest.raises(RecipeError) as info:
        heads.get("transformer")
    msg = str(info.value)
    assert "did you mean" not in msg
    assert "classifier, fcn16s, fcn32s, fcn8s, segnet" in msg


def test_unknown_name_in_an_empty_registry(make_registry):
    reg = make_registry()
    with pytest.raises(RecipeError, match=r"\(none\)"):
        reg.get("anything")


def test_wrong_kwargs_name_the_path_and_accepted_args(heads):
    with pytest.raises(RecipeError) as info:
        heads.build({"type": "fcn8s", "num_class": 7}, _path="model.head", backbone=None)
    msg = str(info.value)
    assert "model.head" in msg and "'fcn8s'" in msg and "'num_class'" in msg
    assert "unexpected argument 'num_class' (did you mean 'num_classes'?)" in msg
    assert msg.endswith("accepted arguments: backbone, num_classes, dropout")


def test_builder_taking_any_keyword_accepts_everything(make_registry):
    reg = make_registry()
    reg.register("kw")(lambda a, **kw: (a, kw))
    assert reg.build({"type": "kw", "a": 1, "zz": 2}) == (1, {"zz": 2})


def test_missing_required_argument_is_reported(heads):
    with pytest.raises(RecipeError) as info:
        heads.build({"type": "fcn8s"}, _path="model.head")
    msg = str(info.value)
    assert "model.head" in msg and "'backbone'" in msg and "missing" in msg


def test_missing_type(heads):
    with pytest.raises(RecipeError) as info:
        heads.build({"num_classes": 7}, _path="model.head")
    msg = str(info.value)
    assert msg.startswith("model.head: missing 'type'")
    assert "fcn8s" in msg


def test_non_mapping_and_non_string_type(heads):
    with pytest.raises(RecipeError, match="expected a mapping with a 'type' key"):
        heads.build(3)
    with pytest.raises(RecipeError, match="must be a string"):
        heads.build({"type": 3}, _path="model.head")
    with pytest.raises(RecipeError, match="must be a string"):
        heads.get(None)


def test_recipe_and_usage_errors_are_plain_user_errors():
    """Not KeyErrors: an ``except KeyError`` must not swallow them, and str() must not quote."""
    from ignite_zoo.registry.errors import UsageError

    for cls in (RecipeError, UsageError):
        e = cls("model.head: bad 'x'")
        assert isinstance(e, UserError) and not isinstance(e, KeyError)
        assert str(e) == "model.head: bad 'x'"
    with pytest.raises(RecipeError):
        try:
            raise RecipeError("inside a dict lookup guard")
        except KeyError:  # pragma: no cover - must not catch it
            pass


def test_messages_and_list_spell_plurals(make_registry, capsys):
    with pytest.raises(RecipeError, match="registered losses: "):
        LOSSES.get("nothing_like_any_loss")
    assert make_registry("head").plural.endswith("s") and LOSSES.plural == "losses"
    from tests.helpers import call_tool

    code, out, err = call_tool("run", "--list", capsys=capsys)
    assert code == 0, err
    assert "losses (" in out and "heads (" in out and "losss" not in out


# -- fallbacks and run-supplied arguments ----------------------------------------------
def test_fallback_serves_unregistered_names(make_registry):
    reg = make_registry()

    @reg.register("mine")
    def mine(x: int = 1):
        return ("mine", x)

    def lookup(name):
        return (lambda x=0: ("other", name, x)) if name in ("Other", "Mine") else None

    reg.set_fallback(lookup, lambda: ["Mine", "Other"], "any Other thing")
    assert reg.build({"type": "Other", "x": 3}) == ("other", "Other", 3)
    assert reg.build({"type": "mine"}) == ("mine", 1)  # registered names win
    with pytest.raises(RecipeError, match="did you mean 'Other'"):
        reg.get("Othr")
    with pytest.raises(RecipeError, match=r"registered .*: mine; or any Other thing"):
        reg.get("zzzzzz")


def test_run_supplied_arguments_cannot_come_from_the_recipe(make_registry):
    reg = make_registry()

    @reg.register("s")
    def s(optimizer, total_iters, step: int = 1):
        return (optimizer, total_iters, step)

    s.run_supplied = ("optimizer", "total_iters")
    assert reg.build({"type": "s", "step": 2}, optimizer="o", total_iters=9) == ("o", 9, 2)
    with pytest.raises(RecipeError) as info:
        reg.build({"type": "s", "total_iters": 5}, _path="sched", optimizer="o", total_iters=9)
    assert str(info.value) == "sched.total_iters: set by the run, not by the recipe; remove it"
