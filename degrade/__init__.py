"""degrade: composable, numba-accelerated degradation operators and YAML recipes that
manufacture training pairs for image-restoration models.

The public API is small and imports its heavy parts lazily (``import degrade`` stays fast):

- :func:`load_recipe` — load and validate a recipe (a file or a built-in name; YAML text:
  :meth:`degrade.recipe.Recipe.from_yaml`);
- :mod:`degrade.ops` — every operator as a plain function ``op(image, **params, rng=None)``;
- :func:`generate` — make a training store (zarr v3) with dask, resumable;
- :func:`list_ops` — the registry (names, domains, parameter specs);
- :func:`register_op`, :func:`register_sampler` — add your own ops and samplers
  (docs/extending.md; other packages: the ``degrade.ops`` entry-point group).
"""
from __future__ import annotations

__version__ = "0.1.0"   # the one version source (pyproject.toml reads it)

__all__ = ["__version__", "load_recipe", "list_ops", "generate", "DegradeError", "ParameterError",
           "RecipeError", "InputError", "register_op", "register_sampler"]

from ._errors import DegradeError, InputError, ParameterError, RecipeError


def load_recipe(source):
    """Load and validate a recipe; see :func:`degrade.recipe.load_recipe`."""
    from .recipe import load_recipe as _load
    return _load(source)


def generate(recipe, sources=None, out=None, **options):
    """Generate a training store (zarr v3); see :func:`degrade.run.generate`."""
    from .run import generate as _generate
    return _generate(recipe, sources, out, **options)


def list_ops():
    """Specs of every registered op (name, function, domains, parameters), sorted by name."""
    from ._registry import all_ops
    return all_ops()


def __getattr__(name):
    if name in ("register_op", "register_sampler"):     # imported on use: numpy is not light
        from . import _registry
        return getattr(_registry, name)
    if name == "ops":
        import importlib
        return importlib.import_module(".ops", __name__)
    raise AttributeError(f"module 'degrade' has no attribute {name!r}")
