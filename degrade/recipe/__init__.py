"""Recipes: YAML files that chain ops with random parameters (see docs/recipes.md).

>>> from degrade import load_recipe
>>> r = load_recipe("stages: [{op: gaussian_noise, sigma: {uniform: [0.01, 0.05]}}]")
>>> r.sample(seed=0, index=3)["steps"][0]["op"]
'gaussian_noise'
"""
from __future__ import annotations

import os
from pathlib import Path

import yaml

from .._errors import DegradeError, InputError, RecipeError
from .domains import chain_domain
from .parse import Parser, parse_target, parse_top
from .recipe import Recipe, Sample
from .yaml_limits import load_yaml

__all__ = ["Recipe", "Sample", "load_recipe", "builtin_recipes", "dry_run"]

RECIPE_DIR = Path(__file__).resolve().parents[2] / "recipes"


def builtin_recipes() -> dict[str, Path]:
    """Shipped recipes by name (the ``recipes/`` folder of the source tree)."""
    if not RECIPE_DIR.is_dir():
        return {}
    return {p.stem: p for p in sorted(RECIPE_DIR.glob("*.yaml"))}


def _read_source(source) -> tuple[str, str | None]:
    """(YAML text, file name or None) from a path, a built-in recipe name or YAML text."""
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
        looks_like_path = True
    elif isinstance(source, str):
        looks_like_path = "\n" not in source and (
            source.endswith((".yaml", ".yml")) or os.path.exists(source))
    else:
        raise DegradeError(f"load_recipe expects a path or YAML text, got {type(source).__name__}")
    if looks_like_path:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"{source}: recipe file not found")
        try:
            return path.read_text(encoding="utf-8"), str(source)
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"{source}: cannot read recipe ({e})") from None
    if "\n" not in source and ":" not in source:
        builtin = builtin_recipes()
        if source in builtin:
            return builtin[source].read_text(encoding="utf-8"), str(builtin[source])
        from .._validate import suggest
        raise InputError(f"{source}: no such recipe file or built-in recipe"
                         f"{suggest(source, builtin)}; built-in: {', '.join(builtin) or 'none'}")
    return source, None


def load_recipe(source) -> Recipe:
    """Load and validate a recipe from a path, a built-in recipe name, or YAML text.

    Raises
    ------
    InputError
        The file is missing or unreadable.
    RecipeError
        The recipe is invalid; the message names the file, the path inside it
        (e.g. ``stages[3].sigma``), the value and what was expected.
    """
    text, file = _read_source(source)
    try:
        data = load_yaml(text, file)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise RecipeError(f"invalid YAML: {problem}", file=file, path=where) from None
    try:
        input_domain, seed = parse_top(data, file)
        parser = Parser(data)
        target, target_stages = parse_target(data.get("target"), parser, input_domain)
        stages = parser.stage_list(data["stages"], "stages")
        target_domain = chain_domain(target_stages, input_domain)
        start = target_domain if target.lq_from == "target" else input_domain
        output_domain = chain_domain(stages, start)
    except RecipeError as e:
        raise e.located(file=file) from None
    name = data.get("name") or (Path(file).stem if file else "inline")
    return Recipe(name=str(name), text=text, file=file, seed=seed, input_domain=input_domain,
                  target=target, target_stages=target_stages, stages=stages,
                  target_domain=target_domain, output_domain=output_domain,
                  description=str(data.get("description", "")))


def dry_run(recipe: Recipe, *, samples: int = 3, seed: int | None = None) -> None:
    """Run a recipe on a small synthetic image for a few indices (catches bad parameter
    values that only the ops can judge, e.g. a negative sigma). Raises RecipeError.

    Raw-input recipes run on the first built-in RAW sample (a real DNG, with its metadata:
    ops such as ``render_libraw_aahd`` need the file) when the target fits in it."""
    import numpy as np

    h, w = recipe.target_size or (64 * recipe.scale, 64 * recipe.scale)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    raw_sample = _raw_sample(h, w) if recipe.input_domain == "raw" else None
    if raw_sample is not None:
        image, meta = raw_sample.mosaic, raw_sample.meta
    elif recipe.input_domain == "raw":
        image, meta = (0.5 + 0.4 * np.sin(xx / 3.0) * np.cos(yy / 5.0)).astype(np.float32), \
            {"pattern": "RGGB"}
    else:
        image = np.stack([(xx / w), (yy / h), 0.5 + 0.4 * np.sin((xx + yy) / 4.0)], axis=-1)
        image, meta = image.astype(np.float32), {}
    for index in range(samples):
        recipe.run(image, seed=seed, index=index, meta=meta)


def _raw_sample(h: int, w: int):
    """The first built-in RAW sample (``RawImage``) if an ``h x w`` crop fits in it."""
    from ..sources.raw import read_raw
    from ..sources.samples import raw_sample_paths

    paths = raw_sample_paths()
    raw = read_raw(paths[0]) if paths else None
    return raw if raw is not None and raw.mosaic.shape[0] >= h and raw.mosaic.shape[1] >= w \
        else None
