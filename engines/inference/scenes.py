"""What the predict and evaluate tools do with GeoTIFF inputs: scenes in, scenes out.

A ``.tif`` input (or a folder of them) is a georeferenced scene, not an image for the
PNG mask pipeline: it is predicted window by window into a class raster on its own map
grid (``georef.predict_scene``), and predicted rasters are scored against truth rasters
matched on the map (``georef_eval.evaluate_rasters``). The classes (raster value, name,
colour), band choice and nodata come from the run's recipe when its dataset is
``geotiff``; any other segmentation run writes its class ids with its dataset's colours.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Mapping

from ignite_zoo.registry.errors import DataError
from ignite_zoo.zoo.data.geo import TIFF_SUFFIXES, ClassTable, find_class_file, is_geotiff


def scene_files(path: str | os.PathLike) -> list[Path]:
    """The GeoTIFFs an input names: the file itself, or a folder's (or its ``images/``'s) ``.tif`` files."""
    path = Path(path)
    if path.is_file():
        return [path] if is_geotiff(path) else []
    if not path.is_dir():
        return []
    folder = path / "images" if (path / "images").is_dir() else path
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in TIFF_SUFFIXES)


def is_scene_input(path: str | os.PathLike) -> bool:
    """True for a ``.tif``/``.tiff`` file or a folder holding such files (and so no PNG/JPEG work)."""
    return bool(scene_files(path))


def recipe_scene_settings(recipe: Mapping[str, Any]) -> dict[str, Any]:
    """Class table, bands, nodata and nodata fill a run's recipe gives its scenes."""
    data = recipe.get("data") or {}
    args = data.get("args") or {}
    if data.get("type") == "geotiff":
        from ignite_zoo.zoo.data.geotiff import GeoTiff

        table = GeoTiff.class_table(data)
        return {"table": table, "bands": args.get("bands"), "nodata": args.get("nodata"),
                "nodata_fill": float(args.get("nodata_fill", 0.0))}
    from ignite_zoo.engines.inference.layout import dataset_info

    info = dataset_info(data)
    colours = info.palette or tuple((i * 37 % 256, i * 91 % 256, i * 53 % 256) for i in range(info.num_classes))
    return {"table": ClassTable(tuple(range(info.num_classes)), tuple(info.classes), tuple(colours), "run"),
            "bands": None, "nodata": None, "nodata_fill": 0.0}


def predict_scenes(trained: Any, source: str | os.PathLike, output_dir: str | os.PathLike, *,
                   tile: int | None = None, overlap: int | None = None, probabilities: bool = False,
                   overwrite: bool = False, progress: bool = True, blend: str | None = None) -> list[Any]:
    """Predict every scene of ``source`` into ``output_dir/NAME.tif`` with ``trained.step``.

    ``trained``: what ``load_predictor`` returns (its ``step`` and ``recipe``). Tile and
    overlap default to the recipe's ``eval.tile`` / ``eval.overlap`` (512 / a quarter).
    """
    from ignite_zoo.engines.inference.georef import predict_scene, probabilities_path
    from ignite_zoo.engines.outputs import prepare_output_dir

    scenes = scene_files(source)
    if not scenes:
        raise DataError(f"{source}: no GeoTIFF scenes (.tif) found")
    recipe = trained.recipe
    if recipe.get("task") != "segmentation":
        raise DataError(f"a {recipe.get('task')!r} model; predicting class rasters needs a segmentation run")
    ev = recipe.get("eval") or {}
    tile = int(tile or ev.get("tile") or 512)
    overlap = int(overlap if overlap is not None else (ev.get("overlap") if ev.get("overlap") is not None
                                                       else tile // 4))
    s = recipe_scene_settings(recipe)
    table = s["table"]
    names = [f"{p.stem}.tif" for p in scenes]
    if probabilities:
        names += [probabilities_path(n).name for n in names]
    if len(set(names)) != len(names):
        raise DataError(f"{source}: two scenes share a name ({', '.join(n for n in names if names.count(n) > 1)})")
    out = prepare_output_dir(output_dir, [source], overwrite, names, flag="OUTPUT_DIR", remember=False)
    results = []
    for path in scenes:
        r = predict_scene(trained.step, path, out / f"{path.stem}.tif", tile=tile, overlap=overlap,
                          classes=table.names, colours=table.colours, values=table.values, bands=s["bands"],
                          nodata=s["nodata"], nodata_fill=s["nodata_fill"], probabilities=probabilities,
                          progress=progress, blend=blend or ev.get("blend") or "gaussian")
        print(f"{path.name}: {r.width}x{r.height}, {r.windows} windows ({r.skipped} nodata only, skipped) "
              f"in {r.seconds:.1f} s -> {r.out_path}", file=sys.stderr)
        results.append(r)
    return results


def scene_table(run: str | os.PathLike | None, truth: Path) -> tuple[ClassTable, str]:
    """The class table for scoring: the run's recipe, else a classes file beside the truth rasters."""
    if run is not None:
        from ignite_zoo.engines.inference.layout import run_recipe

        return recipe_scene_settings(run_recipe(run))["table"], f"run {run}"
    from ignite_zoo.zoo.data.geo import read_class_file

    here = truth if truth.is_dir() else truth.parent
    for folder in (here, *list(here.parents)[:3]):
        found = find_class_file(folder)
        if found is not None:
            return read_class_file(found), str(found)
    raise DataError(f"{truth}: no classes file (classes.yaml / classes.json) beside the truth rasters or up to three "
                    "folders above; give --run RUN to take the classes from a run's recipe")


def evaluate_scenes(pred: str | os.PathLike, truth: str | os.PathLike, table: ClassTable,
                    classes: list[int] | None = None) -> dict[str, Any]:
    """Scores of predicted rasters against truth rasters matched by file name (one confusion matrix)."""
    import torch

    from ignite_zoo.engines.inference.georef_eval import evaluate_rasters
    from ignite_zoo.engines.metrics import iou_from_confusion, miou_from_confusion

    preds = {p.stem: p for p in scene_files(pred)}
    preds = {n: p for n, p in preds.items()  # predict --probabilities' score rasters are no class rasters
             if not (n.endswith("_probabilities") and n[: -len("_probabilities")] in preds)}
    truths = {p.stem: p for p in scene_files(truth)}
    if Path(truth).is_dir() and (Path(truth) / "masks").is_dir():
        truths = {p.stem: p for p in scene_files(Path(truth) / "masks")}
    if Path(pred).is_file() and Path(truth).is_file():
        preds, truths = {"scene": Path(pred)}, {"scene": Path(truth)}
    missing = sorted(set(preds) ^ set(truths))
    if missing or not preds:
        raise DataError(f"{pred} and {truth}: rasters must pair by name; unpaired: {', '.join(missing[:5]) or 'none found'}")
    cm = torch.zeros(len(table), len(table), dtype=torch.long)
    for name in sorted(preds):
        cm += evaluate_rasters(preds[name], truths[name], table)["cm"]
    chosen = list(range(len(table))) if classes is None else classes
    total = int(cm.sum())
    return {"iou": iou_from_confusion(cm).tolist(), "miou": miou_from_confusion(cm, chosen), "cm": cm,
            "pixel_acc": float(cm.diag().sum()) / total if total else float("nan"), "ids": sorted(preds)}
