"""Summarise a store made by 'degrade generate': sample counts, shapes, dtypes, the recipe,
statistics of every drawn parameter, skipped input files; --grid draws random pairs.

examples:
  degrade inspect train.zarr
  degrade inspect train.zarr --grid pairs.png --pairs 12
  degrade inspect train.zarr --json
"""
from __future__ import annotations

HELP = "summarise a generated store (counts, shapes, recipe, parameters, skipped files)"


def add_arguments(parser) -> None:
    parser.add_argument("store", metavar="STORE", help="store directory made by degrade generate")
    parser.add_argument("--grid", metavar="PNG", help="also write a picture of random HQ|LQ pairs")
    parser.add_argument("--pairs", type=int, default=8, metavar="N", help="pairs in --grid (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="which pairs --grid draws (default 0)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--no-recipe", action="store_true", help="do not print the recipe text")


def run(args) -> int:
    import json

    from .._validate import check_integer
    from ..run import contact_sheet, inspect_store
    from ..run.inspect import format_summary

    check_integer("--pairs", args.pairs, 1)
    info = inspect_store(args.store)
    print(json.dumps(info, indent=2) if args.json else format_summary(info, show_recipe=not args.no_recipe))
    if args.grid:
        path = contact_sheet(args.store, args.grid, pairs=args.pairs, seed=args.seed)
        print(f"wrote {path}")
    return 0
