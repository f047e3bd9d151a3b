"""The package as a user installs it: a wheel with the tools, the recipes and the
``ignite-zoo`` command, which runs the demo recipe from a folder far from any checkout.
And the command from a checkout: its subcommands, help without torch, its version.
"""
from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_CFG = configparser.ConfigParser()
_CFG.read(REPO / "setup.cfg", encoding="utf-8")
VERSION = _CFG.get("metadata", "version")
TOOLS = sorted(p.stem.replace("_", "-") for p in (REPO / "tools").glob("*.py")
               if not p.stem.startswith("_") and p.stem != "cli" and "\ndef main(" in p.read_text())
SHIPPED = sorted(p.stem for p in (REPO / "recipes").glob("*.yaml"))
#: one optimizer step on 32x32 tiles with a 1/8-width VGG16: seconds
TINY = ["train.epochs=1", "train.max_iters_per_epoch=2", "train.device=cpu", "train.threads=1",
        "model.backbone.width=0.125", "model.head.hidden=32", "data.args.n=16", "data.args.size=32",
        "data.loader.batch_size=2", "handlers.progress=false", "handlers.tensorboard.enabled=false",
        'handlers.mask_snapshots.ids=["0002"]', "out.root=runs_here"]


def checkout_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """``python tools/cli.py ARGS`` from the checkout (``ignite_zoo`` bound to it)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, str(REPO / "tools" / "cli.py"), *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


# ------------------------------------------------------------------ from a checkout


def test_help_lists_every_tool_as_a_subcommand():
    assert {"run", "summary", "tsne", "predict", "evaluate", "compare", "report", "make-demo-data"} <= set(TOOLS)
    for args in ([], ["--help"]):
        proc = checkout_cli(*args)
        assert proc.returncode == 0, proc.stderr
        listed = [ln.split()[0] for ln in proc.stdout.split("commands:\n")[1].split("\n\n")[0].splitlines()]
        assert listed == TOOLS  # tools/export.py, once there, is listed by itself


def test_help_imports_no_torch():
    code = ("import sys\nfrom ignite_zoo.tools.cli import main\nassert main(['--help']) == 0\n"
            "try:\n    main(['run', '--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
            "else:\n    raise AssertionError('run --help did not exit')\n"
            "heavy = sorted(m for m in ('torch', 'ignite', 'cv2', 'albumentations') if m in sys.modules)\n"
            "print('heavy:', heavy)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "heavy: []" in proc.stdout


def test_subcommand_help_is_the_tools_help_under_the_command_name():
    sub = checkout_cli("run", "--help")
    script = subprocess.run([sys.executable, str(REPO / "tools" / "run.py"), "--help"], capture_output=True,
                            text=True, timeout=60)
    assert sub.returncode == script.returncode == 0
    assert sub.stdout.startswith("usage: ignite-zoo run ")
    assert script.stdout.startswith("usage: tools/run.py ")
    # the same options and text, only the name differs
    assert sub.stdout.replace("ignite-zoo run", "tools/run.py").split() == script.stdout.split()


def test_version_and_unknown_command():
    proc = checkout_cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"ignite-zoo {VERSION}"
    proc = checkout_cli("rnu", "recipes/seg_demo.yaml")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: unknown command 'rnu'; did you mean 'run'? (ignite-zoo --help lists them)"


def test_list_recipes_names_each_shipped_recipe_with_its_first_comment():
    proc = checkout_cli("run", "--list-recipes")
    assert proc.returncode == 0, proc.stderr
    rows = dict(ln.split(None, 1) for ln in proc.stdout.splitlines())
    assert sorted(rows) == SHIPPED
    assert rows["seg_demo"] == (REPO / "recipes" / "seg_demo.yaml").read_text().splitlines()[0].lstrip("# ")


def test_user_errors_keep_their_one_line_form_and_debug_its_traceback():
    typo = ["run", str(REPO / "recipes" / "seg_demo.yaml"), "train.epoch=3", "--print-recipe"]  # fails before torch
    proc = checkout_cli(*typo)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: train.epoch: ") and "Traceback" not in proc.stderr
    for args in ([*typo, "--debug"], ["--debug", *typo]):
        proc = checkout_cli(*args)
        assert proc.returncode == 2 and "Traceback" in proc.stderr, args


# ------------------------------------------------------------------ the wheel


LEFTOVERS_BEFORE: dict[str, float] = {}


def build_leftovers() -> dict[str, float]:
    """build/ and *.egg-info in the checkout, with their times (an editable install has its own)."""
    found = [REPO / "build", *REPO.glob("*.egg-info")]
    return {p.name: p.stat().st_mtime for p in found if p.exists()}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(wheel, target folder it is installed into), built from a copy of the checkout's files
    (tracked and new, not ignored), so build/ and *.egg-info never land in the checkout."""
    if not (REPO / ".git").exists() or shutil.which("git") is None:
        pytest.skip("needs a git checkout to know which files are the project's")
    tmp = tmp_path_factory.mktemp("wheel")
    LEFTOVERS_BEFORE.update(build_leftovers())
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, check=True).stdout.decode().split("\0")
    src = tmp / "src"
    for name in filter(None, files):
        if (REPO / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    build = subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), str(src)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (wheel,) = (tmp / "dist").glob("ignite_zoo-*.whl")
    site = tmp / "site"
    inst = subprocess.run([*pip, "install", "--no-deps", "--no-compile", "--target", str(site), str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert inst.returncode == 0, inst.stdout[-3000:] + inst.stderr[-3000:]
    return wheel, site


@pytest.mark.slow
def test_wheel_holds_tools_recipes_and_the_command(installed):
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for tool in TOOLS:
        assert f"ignite_zoo/tools/{tool.replace('-', '_')}.py" in names
    assert {"ignite_zoo/__init__.py", "ignite_zoo/tools/cli.py", "ignite_zoo/recipes/__init__.py"} <= names
    assert {f"ignite_zoo/recipes/{r}.yaml" for r in SHIPPED} <= names
    assert {f"ignite_zoo/recipes/_base_/{p.name}" for p in (REPO / "recipes" / "_base_").glob("*.yaml")} <= names
    # one import name: nothing but ignite_zoo/ and its .dist-info at the top of the wheel
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {"ignite_zoo"}
    assert not any(n.startswith(("ignite_zoo/tests/", "ignite_zoo/bench/", "ignite_zoo/docs/",
                                 "ignite_zoo/examples/")) for n in names)
    (ep,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    assert "ignite-zoo = ignite_zoo.tools.cli:main" in zipfile.ZipFile(wheel).read(ep).decode()


def test_every_package_folder_is_listed_in_setup_cfg():
    """A new subpackage folder left out of setup.cfg would be missing from the wheel."""
    folders = {"ignite_zoo." + ".".join(p.parent.relative_to(REPO).parts)
               for top in ("zoo", "engines", "registry", "tools", "recipes")
               for p in (REPO / top).rglob("__init__.py")}
    listed = set(_CFG.get("options", "packages").split())
    assert folders | {"ignite_zoo"} == listed


@pytest.mark.slow
def test_installed_command_trains_the_demo_outside_any_checkout(installed, tmp_path):
    _, site = installed
    env = {**os.environ, "PYTHONPATH": str(site), "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg"}
    work = tmp_path / "elsewhere"
    work.mkdir()

    def run(*cmd: str, timeout: float = 120) -> subprocess.CompletedProcess:
        proc = subprocess.run(list(cmd), capture_output=True, text=True, env=env, cwd=work, timeout=timeout)
        assert proc.returncode == 0, f"{cmd} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        return proc

    where = run(sys.executable, "-c", "from ignite_zoo import zoo, engines, registry, tools, recipes\n"
                "from ignite_zoo.tools import cli, run\n"
                "for m in (zoo, engines, registry, tools, cli, run, recipes): print(m.__file__)")
    for line in where.stdout.split():
        assert Path(line).resolve().is_relative_to(site.resolve()), line
    # nothing but the package, its metadata and the command at the top of site-packages
    assert {p.name for p in site.iterdir() if not p.name.endswith(".dist-info")} == {"ignite_zoo", "bin"}

    script = site / "bin" / "ignite-zoo"
    assert run(str(script), "--version").stdout.strip() == f"ignite-zoo {VERSION}"
    assert run(sys.executable, "-m", "ignite_zoo.tools.cli", "--version").stdout.strip() == f"ignite-zoo {VERSION}"
    listed = [ln.split()[0] for ln in run(str(script), "run", "--list-recipes").stdout.splitlines()]
    assert listed == SHIPPED

    proc = run(str(script), "run", "seg_demo", *TINY, timeout=180)  # the installed recipe, by name
    run_dirs = list((work / "runs_here" / "seg_demo").iterdir())
    assert len(run_dirs) == 1 and f"run directory: {run_dirs[0].relative_to(work)}" in proc.stdout
    assert (run_dirs[0] / "history.csv").is_file() and (run_dirs[0] / "recipe.yaml").is_file()
    assert any((run_dirs[0] / "checkpoints").glob("*.pt"))
    assert (work / "data" / "demo_sat" / "validation").is_dir()  # the demo data, relative to the working folder
    # building left nothing in the checkout
    assert build_leftovers() == LEFTOVERS_BEFORE
