"""Check recipes without touching any data: YAML, op and parameter names, types, ranges,
probabilities, the domain chain, and a dry run of a few samples on a synthetic image.

Ops from plugins are imported when a recipe names them (a plugin that fails to import is
the error); a ``torch_model`` stage's network is loaded and run by the dry run, so a missing
or unreadable model, or one whose output disagrees with its declaration, is reported here.

Exit status 0 when every recipe is valid, 2 with one 'error:' line otherwise.

Examples:
  degrade validate recipes/simple_x2.yaml
  degrade validate recipes/*.yaml
"""
from __future__ import annotations

HELP = "check recipe files (exit 0, or one precise error)"


def add_arguments(parser):
    parser.add_argument("recipes", nargs="+", metavar="RECIPE",
                        help="recipe file(s) or built-in recipe name(s)")
    parser.add_argument("--samples", type=int, default=3,
                        help="indices to dry-run on a synthetic image (default 3; 0 = none)")


def describe(recipe) -> str:
    from ..recipe.nodes import walk

    steps = sum(1 for _ in walk(recipe.stages))
    size = "whole image" if recipe.target_size is None else "x".join(map(str, recipe.target_size))
    return (f"{recipe.name}: {recipe.input_domain} -> {recipe.output_domain}, "
            f"target {size}, scale {recipe.scale}, {steps} chain nodes")


def run(args) -> int:
    from ..recipe import dry_run, load_recipe

    for source in args.recipes:
        recipe = load_recipe(source)
        if args.samples > 0:
            dry_run(recipe, samples=args.samples)
        print(f"ok: {recipe.file or source}: {describe(recipe)}")
    return 0
