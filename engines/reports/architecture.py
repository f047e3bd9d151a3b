"""The model an architecture table describes: a recipe's, a run's, torchvision's or timm's.

Shapes are all a table needs, so no weights file is ever read (a recipe whose weights file
is on another machine still gets its table) and nothing is downloaded.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from ignite_zoo.registry.errors import RecipeError, RunError

#: input size (without batch) when a recipe gives no ``model.input_size``
DEFAULT_INPUT = {"classification": (3, 32, 32), "segmentation": (3, 512, 512)}
PRETRAINED_INPUT = (3, 224, 224)


def input_size(recipe: Mapping[str, Any], where: str = "recipe") -> tuple[int, ...]:
    """``model.input_size``, else the task's default (3,32,32 or 3,512,512)."""
    size = recipe["model"]["input_size"]
    if size is None:
        return DEFAULT_INPUT[recipe["task"]]
    if not (size and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in size)):
        raise RecipeError(f"{where}: model.input_size: expected a list of positive integers [C, H, W], got {size!r}")
    return tuple(size)


def recipe_model(recipe: Mapping[str, Any], search_dir: str | Path | None = None, **head_extra: Any) -> Any:
    """The recipe's model with freshly initialised weights (no weights file read, no log about it)."""
    from ignite_zoo.registry.plugins import import_modules

    from ignite_zoo.engines.checkpoint import build_model_quietly

    import_modules(recipe["imports"], search_dir=search_dir)
    from ignite_zoo import zoo  # noqa: F401  (fills every registry)

    return build_model_quietly(recipe["model"], **head_extra)


def _torchvision_model(name: str) -> Any:
    import difflib
    import inspect

    import torchvision.models as tvm

    names = tvm.list_models()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join('torchvision:' + c for c in close)}?" if close else ""
        raise RecipeError(f"unknown torchvision model builder {name!r}{hint}")
    builder = tvm.get_model_builder(name)
    kwargs: dict[str, Any] = {"weights": None}
    if "weights_backbone" in inspect.signature(builder).parameters:
        kwargs["weights_backbone"] = None  # segmentation/detection builders would fetch one
    return builder(**kwargs)


def _timm_model(name: str) -> tuple[Any, tuple[int, ...]]:
    from ignite_zoo.zoo.backbones.timm_adapter import create_timm_model

    model = create_timm_model(name, "MODEL")
    cfg = model.pretrained_cfg if hasattr(model, "pretrained_cfg") else {}
    return model, tuple(cfg.get("input_size") or PRETRAINED_INPUT)


def _recipe_of(spec: str, overrides: Sequence[str]) -> tuple[dict[str, Any], Path | None]:
    """(validated recipe, folder to import plugins from) of a recipe file or a run directory."""
    from ignite_zoo.registry.recipe import apply_overrides, load_recipe, validate

    path = Path(spec)
    if path.is_dir():
        from ignite_zoo.engines.inference.layout import run_recipe

        recipe = run_recipe(path)
        try:
            return validate(apply_overrides(recipe, overrides)), None
        except RecipeError as e:
            raise RecipeError(f"{path / 'recipe.yaml'} with the overrides: {e}") from None
    return load_recipe(path, overrides), path.resolve().parent


def summary_model(spec: str, overrides: Sequence[str] = (), num_classes: int | None = None
                  ) -> tuple[Any, tuple[int, ...]]:
    """The model ``spec`` names and its input size: a recipe file (plus ``key=value``
    overrides), a run directory, ``torchvision:<builder>`` or ``timm:<name>``."""
    prefix, sep, rest = spec.partition(":")
    hub = sep and prefix in ("torchvision", "timm") and rest
    if hub and overrides:
        raise RecipeError(f"{' '.join(overrides)}: key=value overrides change a recipe or run directory, "
                          f"not {spec}")
    if hub and prefix == "torchvision":
        return _torchvision_model(rest), PRETRAINED_INPUT
    if hub:
        return _timm_model(rest)
    path = Path(spec)
    if path.suffix in (".yaml", ".yml") or path.is_file() or path.is_dir():
        recipe, search_dir = _recipe_of(spec, overrides)
        extra = {} if num_classes is None else {"num_classes": num_classes}
        return recipe_model(recipe, search_dir, **extra), input_size(recipe, spec)
    raise RecipeError(
        f"MODEL {spec!r}: expected a recipe file (.yaml), a run directory, torchvision:<builder> "
        "(e.g. torchvision:vgg16) or timm:<name> (e.g. timm:resnet18)"
    )


def summary_text(model: Any, size: Sequence[int], label: str, batch_size: int = -1, device: Any = "cpu") -> str:
    """torchsummary's table; a model that cannot take ``size`` is a RunError naming ``label``."""
    from ignite_zoo.zoo.summary import summarize

    try:
        return summarize(model, tuple(size), batch_size=batch_size, device=device)
    except (RuntimeError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RunError(f"{label} cannot run on an input of size {','.join(map(str, size))}: {first}") from e


def architecture_text(model: Any, size: Sequence[int], label: str = "model", device: Any = "cpu") -> str:
    """The architecture table a run records and a report prints: input size, then
    torchsummary's table of ``model`` at that size."""
    return f"input size: {','.join(map(str, size))}\n" + summary_text(model, size, label, device=device)


def recipe_architecture_text(recipe: Mapping[str, Any], label: str = "model") -> str:
    """``architecture_text`` of the model a recipe describes, at its input size."""
    size = input_size(recipe, label)
    return architecture_text(recipe_model(recipe), size, label)
