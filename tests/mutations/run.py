#!/usr/bin/env python
"""The mutation check: put each deliberate bug of ``claims.py`` into a scratch copy of the
repository in turn, run only the tests that guard its claim there, and report caught/missed.

    python tests/mutations/run.py              # every claim; exit 1 if any bug is missed
    python tests/mutations/run.py --only weights-only --only atomic-history
    python tests/mutations/run.py --list

The scratch copy is the working tree without .git, virtual environments and caches. In it,
the name ``ignite_zoo`` is bound to the copy (a small pytest plugin passed with ``-p``, as
``tools/_checkout.py`` binds it for scripts), so the installed package never hides a bug.
First the guarding tests run once on the unchanged copy: a claim whose tests fail without
any bug says nothing, and is reported as such. A bug whose tests fail, error or time out is
caught; one whose tests all pass is missed.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
from claims import CLAIMS, Claim  # noqa: E402

_ANYWHERE = shutil.ignore_patterns(".git", ".venv", "venv", "__pycache__", ".pytest_cache", "*.egg-info")
_AT_TOP = {"runs", "data", "build", "dist"}  # outputs at the repository's top (zoo/data is code)


def ignored(folder: str, names: list[str]) -> set[str]:
    """What the scratch copy leaves out: version control, environments, caches, outputs."""
    top = _AT_TOP if Path(folder).resolve() == REPO else set()
    return set(_ANYWHERE(folder, names)) | (top & set(names))
PLUGIN = "_mutation_bind"
PLUGIN_TEXT = '''"""Bind ``ignite_zoo`` to this scratch copy before any test imports it."""
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
if "ignite_zoo" not in sys.modules:
    spec = importlib.util.spec_from_file_location("ignite_zoo", ROOT / "__init__.py",
                                                  submodule_search_locations=[str(ROOT)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["ignite_zoo"] = module
    spec.loader.exec_module(module)
'''


def make_scratch() -> Path:
    scratch = Path(tempfile.mkdtemp(prefix="ignite-zoo-mutations-"))
    shutil.copytree(REPO, scratch / "repo", ignore=ignored)
    (scratch / "repo" / f"{PLUGIN}.py").write_text(PLUGIN_TEXT)
    return scratch / "repo"


def pytest(root: Path, tests: tuple[str, ...], timeout: float) -> tuple[str, float, str]:
    """("passed" | "failed" | "timeout", seconds, the output's tail) of the tests in ``root``."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", PLUGIN, "-p", "no:cacheprovider", *tests]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - start, ""
    tail = (proc.stdout + proc.stderr)[-1500:]
    return ("passed" if proc.returncode == 0 else "failed"), time.monotonic() - start, tail


def apply(root: Path, claim: Claim) -> dict[Path, str]:
    """Put the claim's bug in; returns the original texts. ``ValueError`` when an old text is
    not in its file exactly once (the claim has gone stale: the source changed)."""
    originals: dict[Path, str] = {}
    for rel, old, new in claim.edits:
        path = root / rel
        text = originals.get(path) or path.read_text(encoding="utf-8")
        originals.setdefault(path, text)
        current = path.read_text(encoding="utf-8")
        if current.count(old) != 1:
            restore(originals)
            raise ValueError(f"{rel}: the bug's old text occurs {current.count(old)} times, expected once")
        path.write_text(current.replace(old, new), encoding="utf-8")
    return originals


def restore(originals: dict[Path, str]) -> None:
    for path, text in originals.items():
        path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", action="append", metavar="ID", help="run only this claim (repeatable)")
    p.add_argument("--list", action="store_true", help="list the claims and exit")
    p.add_argument("--timeout", type=float, default=600, help="seconds per pytest run (default 600)")
    p.add_argument("--keep", action="store_true", help="keep the scratch copy (its path is printed)")
    args = p.parse_args(argv)
    claims = [c for c in CLAIMS if not args.only or c.id in args.only]
    unknown = set(args.only or ()) - {c.id for c in CLAIMS}
    if unknown:
        p.error(f"unknown claim id(s): {', '.join(sorted(unknown))}")
    if args.list:
        for c in claims:
            print(f"{c.id}: {c.claim}\n    tests: {' '.join(c.tests)}")
        return 0
    root = make_scratch()
    print(f"scratch copy: {root}", file=sys.stderr)
    try:
        guarding = tuple(dict.fromkeys(t for c in claims for t in c.tests))
        status, seconds, tail = pytest(root, guarding, args.timeout * 2)
        print(f"baseline (no bug, {len(guarding)} test selections): {status} in {seconds:.0f} s", file=sys.stderr)
        baseline_ok = status == "passed"
        if not baseline_ok:
            print(tail, file=sys.stderr)
        rows, missed = [], 0
        for c in claims:
            if not baseline_ok:
                result, seconds = "baseline fails", 0.0
            else:
                try:
                    originals = apply(root, c)
                except ValueError as e:
                    result, seconds = f"stale ({e})", 0.0
                else:
                    try:
                        status, seconds, _ = pytest(root, c.tests, args.timeout)
                    finally:
                        restore(originals)
                    result = {"failed": "caught", "timeout": "caught (timeout)", "passed": "MISSED"}[status]
            missed += not result.startswith("caught")
            rows.append((c, result, seconds))
            print(f"{c.id}: {result} ({seconds:.0f} s)", file=sys.stderr, flush=True)
        print("| claim | deliberate bug in | guarding tests | result |")
        print("|---|---|---|---|")
        for c, result, _ in rows:
            files = ", ".join(dict.fromkeys(f"`{e[0]}`" for e in c.edits))
            tests = ", ".join(f"`{t.split('/')[-1]}`" for t in c.tests)
            print(f"| {c.id}: {c.claim} | {files} | {tests} | {result} |")
        print(f"\n{len(rows) - missed} of {len(rows)} bugs caught")
        return 1 if missed else 0
    finally:
        if args.keep:
            print(f"kept: {root}", file=sys.stderr)
        else:
            shutil.rmtree(root.parent, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
