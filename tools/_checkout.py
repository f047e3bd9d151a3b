"""``python tools/<name>.py`` in a checkout: make ``ignite_zoo`` name this checkout.

The package's folders sit at the top of the repository and are installed under one name,
``ignite_zoo``. A script run from a checkout binds that name to the checkout itself (not to
another installed copy), as ``pip install -e .`` does; nothing heavy is imported.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bind() -> None:
    if "ignite_zoo" in sys.modules:
        return
    spec = importlib.util.spec_from_file_location("ignite_zoo", ROOT / "__init__.py",
                                                  submodule_search_locations=[str(ROOT)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["ignite_zoo"] = module
    spec.loader.exec_module(module)


bind()
