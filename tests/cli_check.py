"""What a user's shell sees after a mistake: the tools run in this process through
``main_guard`` (as their ``__main__`` does), and a user error must come back as exit code
2 and one line ``error: ...`` naming what was wrong, with no traceback and no hint."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Sequence

from registry.cli import main_guard
from tests.helpers import REPO

_TOOLS: dict[str, Any] = {}


def load_tool(name: str) -> Any:
    if name not in _TOOLS:
        spec = importlib.util.spec_from_file_location(f"zoo_tool_{name}", REPO / "tools" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _TOOLS[name] = module
    return _TOOLS[name]


def user_error(capsys: Any, tool: str, *args: object, expect: Sequence[str] = ()) -> str:
    """Run ``tools/<tool>.py args``; assert exit 2 and one ``error:`` line holding every
    fragment of ``expect``; returns that line."""
    code = main_guard(load_tool(tool).main, [str(a) for a in args])
    out, err = capsys.readouterr()
    assert code == 2, f"tools/{tool}.py exited {code}, expected 2\nstdout: {out[-2000:]}\nstderr: {err[-3000:]}"
    assert "Traceback" not in err + out, err[-3000:]
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], err[-3000:]  # the error is the last word
    assert "--debug" not in err, err  # a user error is the whole story: no hint
    for fragment in expect:
        assert str(fragment) in errors[0], f"{fragment!r} not in the message:\n{errors[0]}"
    return errors[0]


def no_run_left(out_root: Path) -> None:
    """A run that failed before its first checkpoint leaves no run directory behind."""
    assert not list(Path(out_root).rglob("recipe.yaml")), list(Path(out_root).rglob("*"))
    assert not list(Path(out_root).rglob("*.pt")), list(Path(out_root).rglob("*"))
