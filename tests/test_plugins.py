"""Plugins: recipe ``imports:`` of user modules and lazily loaded ``ignite_zoo.plugins`` entry points."""
from __future__ import annotations

import importlib.metadata
import sys
import textwrap
import uuid

import pytest

from ignite_zoo import registry
import ignite_zoo.registry.plugins as plugins

# a plugin warning here means a test set things up wrong, except where a test expects one
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")
from ignite_zoo.registry import HEADS, REGISTRIES, RecipeError, Registry
from ignite_zoo.registry.plugins import ENTRY_POINT_GROUP, import_modules, load_entry_point_plugins


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(autouse=True)
def isolated(monkeypatch):
    """sys.path, sys.modules, HEADS and the entry-point state are restored after each test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    modules_before = set(sys.modules)
    heads_before = dict(HEADS._items)
    registries_before = dict(REGISTRIES)
    monkeypatch.setattr(plugins, "_entry_points_loaded", False)
    monkeypatch.setattr(plugins, "failed_entry_points", [])
    yield
    for name in set(sys.modules) - modules_before:
        del sys.modules[name]
    HEADS._items.clear()
    HEADS._items.update(heads_before)
    REGISTRIES.clear()
    REGISTRIES.update(registries_before)


def write_module(folder, name: str, body: str):
    path = folder / (name.replace(".", "/") + ".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body))
    return path


HEAD_MODULE = """
    from ignite_zoo import registry

    @registry.HEADS.register("{head}")
    class PluginHead:
        def __init__(self, backbone, num_classes, scale=1.0):
            self.backbone, self.num_classes, self.scale = backbone, num_classes, scale
"""


# -- imports: --------------------------------------------------------------------------
def test_import_modules_registers_a_head_from_a_file_beside_the_recipe(tmp_path, uid):
    module, head = f"my_heads_{uid}", f"plugin_head_{uid}"
    write_module(tmp_path, module, HEAD_MODULE.format(head=head))
    assert head not in HEADS

    import_modules([module], search_dir=tmp_path)

    assert str(tmp_path) in sys.path
    assert head in HEADS
    built = HEADS.build({"type": head, "num_classes": 3, "scale": 2.0}, backbone="bb")
    assert (built.backbone, built.num_classes, built.scale) == ("bb", 3, 2.0)
    assert type(built).__module__ == module
    import_modules([module], search_dir=tmp_path)  # importing again is harmless
    assert sys.path.count(str(tmp_path)) == 1


def test_import_modules_dotted_package_and_a_single_name(tmp_path, uid):
    pkg, head = f"pkg_{uid}", f"pkg_head_{uid}"
    write_module(tmp_path, f"{pkg}.__init__", "")
    write_module(tmp_path, f"{pkg}.heads", HEAD_MODULE.format(head=head))
    import_modules(f"{pkg}.heads", search_dir=tmp_path)  # a bare string is one module name
    assert head in HEADS


def test_plugin_file_written_after_an_earlier_import_is_found(tmp_path, uid):
    write_module(tmp_path, f"first_{uid}", "")
    import_modules([f"first_{uid}"], search_dir=tmp_path)
    write_module(tmp_path, f"second_{uid}", HEAD_MODULE.format(head=f"late_{uid}"))
    import_modules([f"second_{uid}"], search_dir=tmp_path)
    assert f"late_{uid}" in HEADS


def test_missing_module_names_it(tmp_path, uid):
    with pytest.raises(RecipeError) as info:
        import_modules(["os", f"no_such_module_{uid}"], search_dir=tmp_path)
    msg = str(info.value)
    assert msg.startswith(f"imports[1]: cannot import module 'no_such_module_{uid}'")
    assert "beside the recipe" in msg


def test_missing_submodule_names_it(tmp_path, uid):
    write_module(tmp_path, f"pkg_{uid}.__init__", "")
    with pytest.raises(RecipeError, match=f"imports\\[0\\]: cannot import module 'pkg_{uid}.nope'"):
        import_modules([f"pkg_{uid}.nope"], search_dir=tmp_path)


def test_plugin_with_a_missing_dependency_names_both(tmp_path, uid):
    write_module(tmp_path, f"needs_{uid}", f"import absent_dep_{uid}\n")
    with pytest.raises(RecipeError) as info:
        import_modules([f"needs_{uid}"], search_dir=tmp_path)
    assert f"module 'needs_{uid}' needs module 'absent_dep_{uid}', which is not installed" in str(info.value)


def test_plugin_bug_keeps_its_traceback(tmp_path, uid):
    """An error in the user's own module is one line naming the module and the exception;
    the original (with its traceback, which ``--debug`` prints) is the error's cause."""
    write_module(tmp_path, f"buggy_{uid}", "raise ZeroDivisionError('plugin bug')\n")
    with pytest.raises(RecipeError) as info:
        import_modules([f"buggy_{uid}"], search_dir=tmp_path)
    assert str(info.value) == f"imports[0]: importing module 'buggy_{uid}' failed: ZeroDivisionError: plugin bug"
    assert isinstance(info.value.__cause__, ZeroDivisionError) and info.value.__cause__.__traceback__ is not None


@pytest.mark.parametrize("bad", [3, None, ""])
def test_import_name_must_be_a_string(bad):
    with pytest.raises(RecipeError, match=r"imports\[0\]: expected a module name"):
        import_modules([bad])


# -- entry points ----------------------------------------------------------------------
class FakeEntryPoint:
    """What ``importlib.metadata.entry_points(group=...)`` yields: ``load()`` imports the plugin."""

    def __init__(self, name, on_load):
        self.name, self.value, self.group = name, f"fake_pkg.{name}", ENTRY_POINT_GROUP
        self.on_load = on_load
        self.loads = 0

    def load(self):
        self.loads += 1
        return self.on_load()


@pytest.fixture
def fake_entry_points(monkeypatch):
    """Install fake entry points; returns the list of group names asked for."""
    asked: list[str] = []

    def install(*eps):
        def entry_points(**kwargs):
            asked.append(kwargs.get("group"))
            return [ep for ep in eps if ep.group == kwargs.get("group")]

        monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
        return asked

    return install


def test_entry_points_load_lazily_on_the_first_failed_lookup(fake_entry_points, uid):
    reg = Registry(f"ep_{uid}")
    reg.register("builtin")(lambda: "builtin")
    def from_plugin(x=1):
        return ("plugin", x)

    # like a real import, loading again registers the same object again (harmless)
    ep = FakeEntryPoint("toy", lambda: reg.register("from_plugin")(from_plugin))
    asked = fake_entry_points(ep)

    assert reg.get("builtin")() == "builtin"  # found: no plugin is loaded
    assert reg.build("builtin") == "builtin"
    assert ep.loads == 0 and asked == []

    assert reg.build({"type": "from_plugin", "x": 2}) == ("plugin", 2)  # not found: plugins load
    assert ep.loads == 1 and asked == [ENTRY_POINT_GROUP]

    with pytest.raises(RecipeError, match="unknown ep_.* 'missing'"):
        reg.get("missing")
    assert ep.loads == 1  # loaded once per process, not on every miss

    load_entry_point_plugins(force=True)
    assert ep.loads == 2


def test_entry_point_loading_is_shared_by_all_registries(fake_entry_points, uid):
    a, b = Registry(f"epa_{uid}"), Registry(f"epb_{uid}")
    ep = FakeEntryPoint("both", lambda: (a.register("x")(lambda: "a"), b.register("x")(lambda: "b")))
    fake_entry_points(ep)
    assert a.get("x")() == "a" and b.get("x")() == "b"
    assert ep.loads == 1


def test_broken_entry_point_warns_and_the_others_still_load(fake_entry_points, uid):
    reg = Registry(f"epbroken_{uid}")

    def broken():
        raise ImportError("No module named 'torch_extra'")

    bad = FakeEntryPoint("bad", broken)
    good = FakeEntryPoint("good", lambda: reg.register("fine")(lambda: "fine"))
    fake_entry_points(bad, good)

    with pytest.warns(RuntimeWarning, match="bad .*torch_extra"):
        assert reg.get("fine")() == "fine"
    with pytest.raises(RecipeError) as info:
        reg.get("from_bad")
    msg = str(info.value)
    assert "unknown" in msg and "plugins that failed to load: bad" in msg and "torch_extra" in msg


def test_a_real_installed_distribution(tmp_path, uid):
    """A tiny dist-info on sys.path, found by the real ``importlib.metadata``."""
    reg = Registry(f"eptiny_{uid}")
    module = f"tinyplug_{uid}"
    write_module(tmp_path, module, f"""
        from ignite_zoo.registry import REGISTRIES
        REGISTRIES["{reg.name}"].register("tiny")(lambda: "tiny")
    """)
    info = tmp_path / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\ntiny = {module}\n")
    sys.path.insert(0, str(tmp_path))

    assert module not in sys.modules
    assert reg.get("tiny")() == "tiny"
    assert module in sys.modules


def test_public_api():
    assert registry.import_modules is import_modules
    assert registry.load_entry_point_plugins is load_entry_point_plugins
    assert ENTRY_POINT_GROUP == "ignite_zoo.plugins"
