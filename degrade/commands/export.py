"""Write a store's pairs in another tool's folder layout.

  degrade export STORE --format basicsr DIR

basicsr: DIR/gt/ and DIR/lq/ hold one PNG per sample (same file name), DIR/meta_info.txt
lists them in BasicSR's meta_info format and DIR/records.jsonl keeps each sample's record.
The PairedImageDataset options that read it are printed. RGB stores (uint8/uint16) only.

Examples:
  degrade export pairs.zarr --format basicsr pairs_basicsr
"""
from __future__ import annotations

HELP = "write a store as paired PNG folders (BasicSR layout)"


def add_arguments(parser):
    from ..export import FORMATS

    parser.add_argument("store", metavar="STORE", help="a store made by 'degrade generate'")
    parser.add_argument("out", metavar="DIR", help="the output folder (new or empty)")
    parser.add_argument("--format", required=True, choices=FORMATS, help="folder layout")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a previous export in DIR")


def run(args) -> int:
    import sys

    from ..export import export

    summary = export(args.store, args.format, args.out, overwrite=args.overwrite)
    print(f"wrote {summary['num']} pairs to {summary['path']} (scale {summary['scale']})",
          file=sys.stderr)
    print("# BasicSR datasets.train options:")
    sys.stdout.write(summary["options"])
    return 0
