"""Show what a recipe does: the HQ target next to several LQ draws, each labelled with its
key parameters, written as one PNG.

Examples:
  degrade preview recipes/simple_x2.yaml -o grid.png
  degrade preview recipes/simple_x2.yaml photo.jpg -n 6 --seed 3 -o grid.png
  degrade preview iid_ai_raw2srgb -o raw.png        (raw-input recipe: a built-in DNG)
"""
from __future__ import annotations

HELP = "write a PNG grid: HQ next to several LQ draws with their parameters"
#: most LQ draws in one grid (each is a full tile; more would not be readable anyway)
MAX_DRAWS = 64


def add_arguments(parser):
    parser.add_argument("recipe", help="recipe file or built-in recipe name")
    parser.add_argument("image", nargs="?", default=None,
                        help="input image, or a RAW file for a raw-input recipe (default: a "
                             "built-in sample image, or the first built-in RAW sample)")
    parser.add_argument("-o", "--out", default="preview.png", help="output PNG (default preview.png)")
    parser.add_argument("-n", type=int, default=4,
                        help=f"number of LQ draws (default 4, at most {MAX_DRAWS})")
    parser.add_argument("--seed", type=int, default=None, help="seed (default: the recipe's)")


def run(args) -> int:
    import cv2

    from .._errors import InputError
    from .._validate import check_integer
    from ..preview import preview_grid
    from ..recipe import load_recipe
    from ..sources import default_image, raw_sample_paths, read_image, read_raw

    if check_integer("-n", args.n, 1) > MAX_DRAWS:
        raise InputError(f"-n = {args.n}: expected at most {MAX_DRAWS} draws")
    recipe = load_recipe(args.recipe)
    if recipe.input_domain == "raw":   # a mosaic with its metadata (pattern, source_path...)
        raw = read_raw(args.image or raw_sample_paths()[0])
        image, meta = raw.mosaic, raw.meta
    else:
        image, meta = (read_image(args.image) if args.image else default_image()), None
    grid = preview_grid(recipe, image, n=args.n, seed=args.seed, meta=meta)
    if not cv2.imwrite(args.out, cv2.cvtColor(grid, cv2.COLOR_RGB2BGR)):
        raise InputError(f"{args.out}: cannot write the PNG (bad folder or extension?)")
    print(f"wrote {args.out} ({grid.shape[1]}x{grid.shape[0]}): HQ + {args.n} LQ draws of "
          f"{recipe.name}")
    return 0
