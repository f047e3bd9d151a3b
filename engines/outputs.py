"""Where a tool writes its outputs: never over its inputs, never over files someone else made.

Every tool that writes into a folder the user names (reports, comparisons, predictions,
exports) checks it here first, so the rule is the same everywhere: the folder may be new,
empty or hold only what a tool of this project wrote there before (listed in the folder's
``.ignite-zoo-outputs`` manifest, so a user's own ``report.md`` is never taken for an
earlier report); anything else needs ``--overwrite``. A folder whose every file is read by
other programs (predicted masks, which evaluation scripts read one and all) gets no
manifest (``remember=False``): any file already there counts as someone else's; and it may never be, or lie
inside, one of the tool's inputs, nor would one of the names it writes replace an input
file, whatever ``--overwrite`` says.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from ignite_zoo.registry.errors import RunError
from ignite_zoo.registry.paths import check_writable, writing  # noqa: F401  (one rule for every tool)

_SHOWN = 3  # foreign entries named in the error
MANIFEST = ".ignite-zoo-outputs"


def written_here(folder: Path) -> set[str]:
    """The entries of ``folder`` that this project's tools wrote (its manifest)."""
    try:
        return set(json.loads((folder / MANIFEST).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return set()


@contextlib.contextmanager
def undo_on_failure(out: str | os.PathLike) -> Iterator[None]:
    """Whatever fails inside, the output folder ``out`` is left as it was found, as far as
    files go: files and folders created inside are removed (the folder itself too when it
    was new); files that were there stay (each is replaced whole, through a rename)."""
    out = Path(out)
    existed = out.exists()
    before = {p for p in out.rglob("*")} if out.is_dir() else set()
    try:
        yield
    except BaseException:
        if not existed:
            shutil.rmtree(out, ignore_errors=True)
        elif out.is_dir():
            for p in sorted(out.rglob("*"), key=lambda q: len(q.parts), reverse=True):
                if p in before:
                    continue
                with contextlib.suppress(OSError):
                    if p.is_dir() and not p.is_symlink():
                        shutil.rmtree(p)
                    else:
                        p.unlink()
        raise


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def prepare_output_dir(out: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (), overwrite: bool = False,
                       owned_names: Iterable[str] = (), flag: str = "--out", remember: bool = True) -> Path:
    """Check ``out`` against the rule above, create it, and return it.

    ``inputs`` are the files and folders the tool reads; ``owned_names`` the entries it
    writes directly in ``out`` (files or folders, e.g. ``report.md``, ``figures``);
    ``flag`` names the option in messages. Raises RunError naming the folder and why.
    """
    out = Path(out)
    target = out.resolve()
    owned = set(owned_names)
    for given in inputs:
        src = Path(given).resolve()
        if src.is_dir() and _inside(target, src):
            raise RunError(f"{flag} {out}: is inside the input {given}; outputs never go into an input folder, "
                           "choose another folder")
        if src.is_file() and src.parent == target and src.name in owned:
            raise RunError(f"{flag} {out}: writing {src.name} there would replace the input {given}; "
                           "choose another folder")
    if out.exists() and not out.is_dir():
        raise RunError(f"{flag} {out}: is a file; expected a folder (new, empty, or holding this tool's "
                       f"earlier output)")
    ours = (written_here(out) | {MANIFEST}) if remember and out.is_dir() else set()
    if out.is_dir() and not overwrite:
        foreign = sorted(p.name for p in out.iterdir() if p.name not in ours)
        if foreign:
            # files of the names this tool writes are replaced by --overwrite: say which
            replaced = [n for n in foreign if n in owned]
            other = [n for n in foreign if n not in owned]
            held = []
            if remember:
                held.append(f"files this tool did not write ({_shown(foreign)})")
            else:
                if replaced:
                    held.append(f"{len(replaced)} mask(s) of the names this tool writes ({_shown(replaced)}: earlier "
                                "predictions or someone's own masks; a folder of masks keeps no record of who "
                                "wrote them)")
                if other:
                    held.append(f"files this tool did not write ({_shown(other)})")
            then = (f"REPLACING {_shown(replaced)}" if replaced else "the files there stay (none has a name it writes)")
            raise RunError(f"{flag} {out}: holds {' and '.join(held)}; choose a new or empty folder, or pass "
                           f"--overwrite to write there anyway, {then}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunError(f"{flag} {out}: cannot create the folder ({e.strerror or e})") from None
    check_writable(out, f"{flag} {out}")
    if remember:
        with writing(out / MANIFEST):
            (out / MANIFEST).write_text(json.dumps(sorted((ours - {MANIFEST}) | owned)), encoding="utf-8")
    return out


def _shown(names: list[str]) -> str:
    more = f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
    return ", ".join(names[:_SHOWN]) + more


def check_output_file(path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (), overwrite: bool = False,
                      flag: str = "--out") -> Path:
    """The same rule for a single output file: never one of ``inputs``, an existing file only
    with ``overwrite``. Its folder is created."""
    path = Path(path)
    for given in inputs:
        src = Path(given).resolve()
        if path.resolve() == src:
            raise RunError(f"{flag} {path}: is the input {given}; choose another name")
        if src.is_dir() and _inside(path.resolve().parent, src):
            raise RunError(f"{flag} {path}: is inside the input {given}; outputs never go into an input folder, "
                           "choose another place")
    if path.is_dir():
        raise RunError(f"{flag} {path}: is a folder; expected a file name")
    if path.exists() and not overwrite:
        raise RunError(f"{flag} {path}: exists; choose another name, or pass --overwrite to replace it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunError(f"{flag} {path}: cannot create its folder ({e.strerror or e})") from None
    check_writable(path.parent, f"{flag} {path}")
    return path


def _overlaps(a: Path, b: Path) -> bool:
    """One folder is the other or lies inside it."""
    return a == b or a in b.parents or b in a.parents


def check_run_location(recipe: Mapping[str, Any]) -> None:
    """The output-folder rule for runs: a run's folder (``out.dir``, or ``out.root/out.name``)
    never shares a folder tree with the dataset (``data.root``), in either direction: a run
    inside the data mixes its files with the data's (and a generated set that is replaced
    takes the runs with it); data inside a run's folder would be among its outputs. And
    ``out.name`` stays inside ``out.root``. Paths are compared resolved, as typed relative
    paths and symbolic links reach the same folders."""
    out = recipe["out"]
    root = Path(out["root"]).resolve()
    if out["dir"]:
        where, folder = f"out.dir={out['dir']}", Path(out["dir"]).resolve()
    else:
        where, folder = f"out.root={out['root']}", root
        run_base = (root / str(out["name"])).resolve()
        if run_base != root and root not in run_base.parents:
            raise RunError(f"out.name={out['name']}: would put the run outside out.root={out['root']}; expected one "
                           "folder name (set out.root or out.dir for another place)")
    data_root = (recipe.get("data") or {}).get("root")
    if data_root and _overlaps(folder, Path(data_root).resolve()):
        raise RunError(f"{where}: shares a folder with the dataset (data.root={data_root}); runs and data are kept "
                       "apart (a dataset that is regenerated or cleaned would take the runs with it): choose a "
                       "folder outside it")


def check_new_run_folder(path: Path, ignore: tuple[str, ...] = ()) -> None:
    """``out.dir`` for a new run: new or empty (entries starting with one of ``ignore``, a
    concurrent start's lock, aside: the lock then says who holds it). A folder of someone's
    files is never taken over."""
    if path.is_dir():
        entries = sorted(p.name for p in path.iterdir() if not p.name.startswith(ignore))
        if entries:
            shown = ", ".join(entries[:3]) + (f" and {len(entries) - 3} more" if len(entries) > 3 else "")
            raise RunError(f"out.dir={path}: holds files that are not a run ({shown}); a new run's folder must be "
                           "new or empty: choose another out.dir")
    elif path.exists():
        raise RunError(f"out.dir={path}: is a file; expected a folder for the run (new or empty)")


def atomic_write_text(path: Path, text: str) -> None:
    """Write through a temporary file and a rename: a reader, or a crash or full disk while
    writing, leaves the old file whole (no temporary file is left behind on failure)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with writing(path), open(tmp, "w", encoding="utf-8", newline="") as f:  # the text's own line ends, as given
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
