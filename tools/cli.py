"""The ``ignite-zoo`` command: one subcommand per tool, ``ignite-zoo run`` being tools/run.py.

Subcommands are found in this package (a module with a ``main(argv)``; ``make_demo_data``
becomes ``make-demo-data``), so a new tool is a new command without a table to edit. Their
descriptions are read from the modules' source: ``ignite-zoo --help`` imports no tool and
no torch.
"""
from __future__ import annotations

import ast
import configparser
import difflib
import importlib
import sys
from pathlib import Path
from typing import Sequence

if not __package__:  # a script in a checkout: ``ignite_zoo`` names this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _checkout  # noqa: F401

from ignite_zoo.registry.cli import EXIT_USER_ERROR, command_name, main_guard  # noqa: E402  (light: no torch)

DIST_NAME = "ignite-zoo"
_HERE = Path(__file__).resolve().parent


def _summary(doc: str | None) -> str:
    """A docstring's first line, up to its first colon: the one-line description."""
    line = (doc or "").strip().split("\n")[0]
    return line.split(": ")[0].rstrip(".").strip()


def subcommands(folder: Path = _HERE) -> dict[str, tuple[str, str]]:
    """Subcommand -> (module name, one-line description) for each tool module in ``folder``
    that defines ``main``; modules are parsed, not imported."""
    found = {}
    for path in sorted(folder.glob("*.py")):
        if path.stem.startswith("_") or path.stem == "cli":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        if any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in tree.body):
            found[path.stem.replace("_", "-")] = (f"ignite_zoo.tools.{path.stem}",
                                                  _summary(ast.get_docstring(tree)))
    return found


def version() -> str:
    """The installed distribution's version; from a checkout that is not installed, setup.cfg's."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version(DIST_NAME)
    except PackageNotFoundError:
        cfg = configparser.ConfigParser()
        cfg.read(_HERE.parent / "setup.cfg", encoding="utf-8")
        return cfg.get("metadata", "version", fallback="unknown")


def help_text(commands: dict[str, tuple[str, str]]) -> str:
    width = max(len(c) for c in commands) + 2
    rows = "\n".join(f"  {c:<{width}}{desc}" for c, (_, desc) in commands.items())
    return f"""usage: ignite-zoo [--version] [--help] COMMAND [ARGS ...]

Train, evaluate and report image classification and segmentation models from recipes.

commands:
{rows}

`ignite-zoo COMMAND --help` shows a command's options and examples; each command is
the script tools/<command>.py of a checkout (make-demo-data: tools/make_demo_data.py).
  ignite-zoo run seg_demo           train a shipped recipe by name (or a recipe file)
  ignite-zoo run --list-recipes     the recipes shipped with the package
  --debug (anywhere)                the full traceback of an error
"""


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--debug"] and len(argv) > 1:  # `ignite-zoo --debug run ...`: main_guard takes it anywhere
        argv = [*argv[1:], "--debug"]
    commands = subcommands()
    if not argv or argv[0] in ("-h", "--help"):
        print(help_text(commands), end="")
        return 0
    if argv[0] == "--version":
        print(f"{DIST_NAME} {version()}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in commands:
        close = difflib.get_close_matches(name, list(commands), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        print(f"error: unknown command {name!r}{hint} (ignite-zoo --help lists them)", file=sys.stderr)
        return EXIT_USER_ERROR
    prog = f"ignite-zoo {name}"
    sys.argv[0] = prog  # tools that build a plain ArgumentParser take their name from it
    module = importlib.import_module(commands[name][0])
    prepare = getattr(module, "prepare_process", None)  # process-wide settings: entry points only
    if prepare is not None:
        prepare()
    with command_name(prog):
        return main_guard(module.main, rest)


if __name__ == "__main__":
    sys.exit(main())
