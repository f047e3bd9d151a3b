"""User paths: ``~`` means the home folder wherever a path comes from (recipe, override, flag).

A shell expands ``~`` only at the start of an unquoted word, so ``data.root=~/data`` and
``--out ~/preds`` (or a ``~`` in a YAML file) reach the program unexpanded; every path the
user types goes through here once.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from ignite_zoo.registry.errors import RunError


def expand_user(path: str) -> str:
    """``path`` with a leading ``~`` or ``~user`` replaced by that home folder; otherwise unchanged."""
    return os.path.expanduser(path)


def expand(path: str | os.PathLike[str]) -> Path:
    """A command-line path argument as a ``Path``, ``~`` expanded."""
    return Path(expand_user(os.fspath(path)))


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


@contextlib.contextmanager
def writing(path: str | os.PathLike) -> Iterator[None]:
    """Name ``path`` in an ``OSError`` raised while it is written: a write or a flush that
    fails on a full disk says only "No space left on device", with no file."""
    try:
        yield
    except OSError as e:
        if e.filename is None and e.errno is not None:
            raise OSError(e.errno, e.strerror or str(e), str(path)) from None
        raise


def check_writable(folder: str | os.PathLike, where: str, need: int = 0) -> None:
    """Before any work: a file can be created in ``folder`` (or, while it does not exist yet,
    in the nearest folder above it that does), and it has
    about ``need`` bytes free. A RunError starts with ``where`` (the flag and the path the
    user gave) and names the folder and what is wrong."""
    folder = Path(folder)
    while not folder.exists() and folder.parent != folder:  # a folder still to be made: where it will be
        folder = folder.parent
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".ignite-zoo-probe-"):
            pass
    except OSError as e:
        raise RunError(f"{where}: cannot write in {folder} ({e.strerror or e}); choose a writable folder") from None
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if need and free < need:
        raise RunError(f"{where}: about {_size(need)} is needed in {folder} and only {_size(free)} is free there; "
                       "free some space or choose another folder")


@contextlib.contextmanager
def staged_folder(root: Path) -> Iterator[Path]:
    """A new temporary sibling of ``root`` to write a whole folder into, removed at the end
    unless ``put_in_place`` moved it: an interrupted writer leaves nothing behind."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
    try:
        yield tmp
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def put_in_place(staged: Path, root: Path, taken: Callable[[], bool] = lambda: False) -> None:
    """Replace ``root`` (if it exists) by ``staged`` with two renames, so a reader sees the
    old folder or the new one, never half of either. ``taken()``: whether another writer
    put an equal folder in place meanwhile (then a failed rename is no error)."""
    old = None
    if root.exists():
        old = root.with_name(f".{root.name}.old-{os.getpid()}")
        os.replace(root, old)
    try:
        os.replace(staged, root)
    except OSError:
        if not taken():
            raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
