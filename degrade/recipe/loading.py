"""Finding and parsing recipes: built-in names, files and YAML text.

Two explicit entry points:

- :func:`load_recipe` ``(path_or_name)`` — a recipe file or a built-in recipe's name;
- :meth:`Recipe.from_yaml <degrade.recipe.Recipe.from_yaml>` ``(text)`` — YAML text.

``load_recipe`` still accepts YAML text (stores carry their recipe as text and hand it back),
routed to :func:`recipe_from_yaml` by a fixed rule, see :func:`load_recipe`.

Built-in recipes live in the repository's top-level ``recipes/`` folder (one copy); the build
maps that folder into the package as ``degrade/recipes`` (``setup.py``), where
:func:`builtin_recipes` finds them through :mod:`importlib.resources`. Run from a source
checkout (``PYTHONPATH`` or an editable install) the package has no such folder, so the
checkout's ``recipes/`` is used instead.
"""
from __future__ import annotations

import os
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from .._errors import DegradeError, InputError, RecipeError
from .domains import chain_domain
from .parse import Parser, parse_extra_targets, parse_target, parse_top
from .recipe import Recipe
from .yaml_limits import load_yaml


def builtin_dir() -> Traversable | None:
    """The folder of the built-in recipes: packaged (wheel) or the source checkout's."""
    packaged = resources.files("degrade") / "recipes"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "recipes"
    return checkout if checkout.is_dir() else None


def builtin_recipes() -> dict[str, Traversable]:
    """Shipped recipes by name (``realesrgan_x4plus`` -> its YAML file), sorted."""
    folder = builtin_dir()
    if folder is None:
        return {}
    files = (f for f in folder.iterdir() if f.name.endswith(".yaml") and f.is_file())
    return {f.name[:-len(".yaml")]: f for f in sorted(files, key=lambda f: f.name)}


def parse_yaml(text: str, file: str | None = None):
    """YAML text -> Python data; the one place recipes are parsed: safely and within the
    limits of :mod:`degrade.recipe.yaml_limits` (RecipeError on bad or oversized YAML)."""
    return load_yaml(text, file)


def recipe_from_yaml(text: str, file: str | None = None) -> Recipe:
    """Parse and validate recipe YAML text; ``file`` only names it in messages and records."""
    if not isinstance(text, str):
        raise DegradeError(f"recipe text must be a str, got {type(text).__name__}")
    data = parse_yaml(text, file)
    try:
        input_domain, seed = parse_top(data, file)
        parser = Parser(data)
        target, target_stages = parse_target(data.get("target"), parser, input_domain)
        stages = parser.stage_list(data["stages"], "stages")
        target_domain = chain_domain(target_stages, input_domain)
        start = target_domain if target.lq_from == "target" else input_domain
        output_domain = chain_domain(stages, start)
        extra = parse_extra_targets(data.get("target"), parser)
        for name, nodes in extra.items():
            if chain_domain(nodes, target_domain) != target_domain:
                raise RecipeError(f"extra target {name!r} ends in another domain than the HQ "
                                  f"({target_domain}); it is stored as the HQ is",
                                  path=f"target.extra.{name}")
    except RecipeError as e:
        raise e.located(file=file) from None
    name = data.get("name") or (Path(file).stem if file else "inline")
    return Recipe(name=str(name), text=text, file=file, seed=seed, input_domain=input_domain,
                  target=target, target_stages=target_stages, stages=stages, extra_stages=extra,
                  target_domain=target_domain, output_domain=output_domain,
                  description=str(data.get("description", "")))


def read_recipe_file(path: str | os.PathLike) -> Recipe:
    """Load a recipe file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: recipe file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read recipe ({e})") from None
    return recipe_from_yaml(text, os.fspath(path))


def load_builtin(name: str) -> Recipe:
    """Load a built-in recipe by name (InputError naming the close matches otherwise)."""
    builtin = builtin_recipes()
    if name not in builtin:
        from .._validate import suggest
        raise InputError(f"{name}: no such recipe file or built-in recipe"
                         f"{suggest(name, builtin)}; built-in: {', '.join(builtin) or 'none'}")
    return recipe_from_yaml(builtin[name].read_text(encoding="utf-8"), str(builtin[name]))


def load_recipe(source: str | os.PathLike) -> Recipe:
    """Load and validate a recipe from a file or a built-in recipe's name.

    The rule, in order: a path object is a file; a ``str`` with a line break is YAML text; a
    ``str`` ending in ``.yaml``/``.yml`` or naming an existing file is a file; any other
    ``str`` without a colon is a built-in recipe's name; the rest (one-line flow YAML such as
    ``"stages: [...]"``) is YAML text. For text prefer the explicit
    :meth:`Recipe.from_yaml <degrade.recipe.Recipe.from_yaml>`.

    >>> load_recipe("simple_x2").name
    'simple_x2'

    Raises
    ------
    InputError
        The file is missing or unreadable, or no built-in recipe has that name.
    RecipeError
        The recipe is invalid; the message names the file, the path inside it
        (e.g. ``stages[3].sigma``), the value and what was expected.
    """
    if isinstance(source, os.PathLike):
        return read_recipe_file(source)
    if not isinstance(source, str):
        raise DegradeError(f"load_recipe expects a path or a built-in recipe name, got "
                           f"{type(source).__name__}")
    if "\n" in source:
        return recipe_from_yaml(source)
    if source.endswith((".yaml", ".yml")) or os.path.isfile(source):
        return read_recipe_file(source)
    if ":" not in source:
        return load_builtin(source)
    return recipe_from_yaml(source)
