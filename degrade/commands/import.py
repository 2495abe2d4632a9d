"""Turn another tool's configuration into a degrade recipe.

  degrade import basicsr OPTIONS.yml [-o RECIPE.yaml]

basicsr: a BasicSR / Real-ESRGAN training options file (RealESRGANModel or RealESRNetModel
with RealESRGANDataset). Its degradation options become a recipe with a comment naming the
option behind every value; unknown degradation options are refused by name; training,
network and loader options are ignored (one note on stderr). Without -o the recipe is
printed. The recipe is validated before it is written.

Examples:
  degrade import basicsr options/train_realesrgan_x2plus.yml -o realesrgan_x2plus.yaml
"""
from __future__ import annotations

HELP = "turn a BasicSR/Real-ESRGAN options file into a recipe"
FORMATS = ("basicsr",)


def add_arguments(parser):
    parser.add_argument("format", choices=FORMATS, help="what the file is (basicsr)")
    parser.add_argument("options", metavar="OPTIONS", help="the options file (YAML)")
    parser.add_argument("-o", "--out", metavar="RECIPE",
                        help="write the recipe here (default: print it)")


def run(args) -> int:
    import sys
    from pathlib import Path

    from ..importers import IMPORTERS
    from ..recipe import load_recipe

    imported = IMPORTERS[args.format](args.options)
    load_recipe(imported.text)            # the importer's output must be a valid recipe
    for note in imported.notes:
        print(note, file=sys.stderr)
    if args.out:
        Path(args.out).write_text(imported.text, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(imported.text)
    return 0
