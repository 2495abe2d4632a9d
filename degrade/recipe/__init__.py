"""Recipes: YAML files that chain ops with random parameters (see docs/recipes.md).

>>> from degrade.recipe import Recipe
>>> r = Recipe.from_yaml("stages: [{op: gaussian_noise, sigma: {uniform: [0.01, 0.05]}}]")
>>> r.sample(seed=0, index=3)["steps"][0]["op"]
'gaussian_noise'
"""
from __future__ import annotations

from .loading import builtin_recipes, load_recipe
from .recipe import Recipe, Sample

__all__ = ["Recipe", "Sample", "load_recipe", "builtin_recipes", "dry_run"]


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
