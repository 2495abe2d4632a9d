"""Summarise a store made by 'degrade generate': sample counts, shapes, dtypes, the recipe,
statistics of every drawn parameter, skipped input files; --grid draws random pairs.

examples:
  degrade inspect train.zarr
  degrade inspect train.zarr --grid pairs.png --pairs 12
  degrade inspect train.zarr --json
  degrade inspect train.zarr --verify
  degrade inspect s3://bucket/train.zarr --storage-option profile=lab
"""
from __future__ import annotations

HELP = "summarise a generated store (counts, shapes, recipe, parameters, skipped files)"


def add_arguments(parser) -> None:
    from .generate import add_storage_option

    parser.add_argument("store", metavar="STORE",
                        help="store made by degrade generate: a folder or a URL (s3://...)")
    parser.add_argument("--verify", action="store_true",
                        help="read every shard and record and check them (sizes, indexes, "
                             "checksums); exit 1 naming the damaged shards")
    add_storage_option(parser)
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

    from ..storage import parse_storage_options

    check_integer("--pairs", args.pairs, 1)
    info = inspect_store(args.store, storage_options=parse_storage_options(args.storage_options),
                         verify=args.verify)
    print(json.dumps(info, indent=2) if args.json else format_summary(info, show_recipe=not args.no_recipe))
    if info.get("damaged"):
        import sys
        first = next(iter(info["damaged"].items()))
        print(f"error: {info['path']}: {len(info['damaged'])} shard(s) damaged (shard {first[0]}: "
              f"{first[1]}); run the same 'degrade generate' command again to make them",
              file=sys.stderr)
        return 1
    if args.grid:
        path = contact_sheet(args.store, args.grid, pairs=args.pairs, seed=args.seed)
        print(f"wrote {path}")
    return 0
