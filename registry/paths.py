"""User paths: ``~`` means the home folder wherever a path comes from (recipe, override, flag).

A shell expands ``~`` only at the start of an unquoted word, so ``data.root=~/data`` and
``--out ~/preds`` (or a ``~`` in a YAML file) reach the program unexpanded; every path the
user types goes through here once.
"""
from __future__ import annotations

import os
from pathlib import Path


def expand_user(path: str) -> str:
    """``path`` with a leading ``~`` or ``~user`` replaced by that home folder; otherwise unchanged."""
    return os.path.expanduser(path)


def expand(path: str | os.PathLike[str]) -> Path:
    """A command-line path argument as a ``Path``, ``~`` expanded."""
    return Path(expand_user(os.fspath(path)))
