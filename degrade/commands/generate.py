"""Generate a training store: every sample of RECIPE over the input folders, into a zarr v3
store (hq, lq, records; one chunk per sample, shards of many samples), in parallel with dask.

Running the same command again resumes an interrupted store (finished shards are kept); a
store made by another recipe, seed or input is refused unless --overwrite.

examples:
  degrade generate recipes/simple_x2.yaml --out train.zarr --input photos/ --num 10000
  degrade generate simple_x2 --out mix.zarr --input portraits/ --input general/ --weights 0.8 0.2
  degrade generate simple_x2 --out grid.zarr --input div2k/ --patch-size 480 --stride 240
  degrade generate raw_recipe.yaml --out raw.zarr --input dng/ --scheduler tcp://10.0.0.5:8786
  degrade generate realesrgan_x4plus --out df2k.zarr --input meta_info_DF2K.txt --root DF2K/
"""
from __future__ import annotations

HELP = "generate a training store (zarr v3) from a recipe and image/RAW folders"


def add_arguments(parser) -> None:
    parser.add_argument("recipe", metavar="RECIPE", help="recipe file, built-in recipe name or YAML text")
    parser.add_argument("--out", required=True, metavar="STORE",
                        help="output store: a folder, or a URL (s3://bucket/x.zarr, gs://, az://, "
                             "file://; see docs/cluster.md)")
    parser.add_argument("--input", action="append", metavar="DIR", dest="inputs",
                        help="folder of images or RAW files (recursive), a .txt file list, or a "
                             "URL prefix (s3://bucket/photos/); repeat for several sources "
                             "(default: the built-in samples)")
    add_storage_option(parser)
    parser.add_argument("--root", action="append", metavar="DIR", dest="roots",
                        help="read --input as a BasicSR meta_info file whose entries (optionally "
                             "followed by a shape '(H,W,C)') are relative to DIR (dataroot_gt); "
                             "one --root for all inputs or one per --input")
    parser.add_argument("--weights", type=float, nargs="+", metavar="W",
                        help="share of the samples per --input (e.g. 0.8 0.2)")
    parser.add_argument("--counts", type=int, nargs="+", metavar="N",
                        help="exact number of samples per --input")
    parser.add_argument("--num", type=int, metavar="N",
                        help="number of samples (default: one per file or grid patch)")
    parser.add_argument("--seed", type=int, metavar="S", help="root seed (default: the recipe's)")
    parser.add_argument("--workers", type=int, metavar="N", help="local workers (default: all cores)")
    parser.add_argument("--scheduler", metavar="ADDR",
                        help="auto (default: processes for long runs of light samples, "
                             "else threads), threads, processes, synchronous, or a "
                             "dask.distributed address tcp://HOST:PORT (also read from "
                             "DASK_SCHEDULER_ADDRESS)")
    parser.add_argument("--shard-size", type=int, metavar="K",
                        help="samples per shard file (default: 64; 8 shards for jobs under 512 "
                             "samples; a resumed store keeps its own)")
    parser.add_argument("--patch-size", type=int, metavar="P",
                        help="cut a P x P patch from each source image before the recipe "
                             "(random position, or a grid with --stride)")
    parser.add_argument("--stride", type=int, metavar="T", help="sliding-grid stride for --patch-size")
    parser.add_argument("--dtype", default="auto", choices=("auto", "uint8", "uint16", "float16"),
                        help="stored type (auto: uint8 for sRGB, uint16 for RAW/linear)")
    parser.add_argument("--compression", default="none", choices=("none", "lz4", "zstd"),
                        help="codec for hq/lq (default: none; see docs/dataset_engine.md)")
    parser.add_argument("--strict", action="store_true",
                        help="fail on the first unusable input file instead of skipping it")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing store at --out")
    parser.add_argument("--max-image-pixels", type=int, metavar="N",
                        help="largest image to read, in pixels (default 89478485, or "
                             "DEGRADE_MAX_IMAGE_PIXELS; 0: no limit); also for the local "
                             "worker processes (set it on cluster workers yourself)")
    parser.add_argument("--hash-sources", action="store_true",
                        help="record a content hash of every source file (not only its size "
                             "and time), so that a resume refuses sources edited in place")
    parser.add_argument("--quiet", action="store_true", help="no progress line")


def add_storage_option(parser) -> None:
    """``--storage-option KEY=VALUE`` (repeatable): fsspec options of URL stores and inputs."""
    parser.add_argument("--storage-option", action="append", metavar="KEY=VALUE",
                        dest="storage_options",
                        help="option of the object store client, repeatable: "
                             "endpoint_url=http://HOST:9000, profile=NAME, anon=true, "
                             "client_kwargs.region_name=eu-west-1 (values are JSON when they "
                             "parse; dotted keys nest)")


def run(args) -> int:
    import sys
    import warnings

    from ..run import generate
    from ..storage import parse_storage_options

    options = parse_storage_options(args.storage_options)
    show = not args.quiet
    if args.max_image_pixels is not None:
        _set_max_image_pixels(args.max_image_pixels)

    def _warning_line(message, category, filename, lineno, file=None, line=None):
        if show:
            print(f"warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("always", UserWarning)
        warnings.showwarning = _warning_line
        summary = generate(args.recipe, _sources(args.inputs, args.roots), args.out,
                           num=args.num, seed=args.seed,
                           workers=args.workers, scheduler=_scheduler(args.scheduler),
                           shard_size=args.shard_size, strict=args.strict,
                           overwrite=args.overwrite, dtype=args.dtype,
                           patch_size=args.patch_size, stride=args.stride, weights=args.weights,
                           counts=args.counts, compression=args.compression, progress=show,
                           hash_sources=args.hash_sources, storage_options=options)
    if show:
        print(f"{summary['path']}: {summary['num']} samples in {summary['shards']} shards "
              f"({summary['shards_written']} written, {summary['shards_reused']} kept from an "
              f"earlier run), {len(summary['skipped'])} file(s) skipped, "
              f"{summary['seconds']:.1f} s, {summary['samples_per_s']:.1f} samples/s, "
              f"{summary['mb_per_s']:.1f} MB/s{_steady(summary)}", file=sys.stderr)
    return 0


def _set_max_image_pixels(value: int) -> None:
    """Check the limit once and put it in this process's environment, which every reader
    consults and local worker processes (threads, the fork server) inherit."""
    import os

    from .._errors import ParameterError
    from ..sources.headers import MAX_PIXELS_ENV
    if value < 0:
        raise ParameterError(f"--max-image-pixels = {value}: expected a whole number of "
                             "pixels >= 0 (0: no limit)")
    os.environ[MAX_PIXELS_ENV] = str(value)


def _sources(inputs, roots):
    """--input paths, paired with their --root (meta_info files) when given."""
    from .._errors import ParameterError

    if not roots:
        return inputs
    if not inputs or len(roots) not in (1, len(inputs)):
        raise ParameterError(f"--root given {len(roots)} time(s) for {len(inputs or [])} "
                             "--input(s): expected one --root for all inputs or one per --input")
    roots = roots * len(inputs) if len(roots) == 1 else roots
    return [{"path": path, "root": root} for path, root in zip(inputs, roots)]


def _scheduler(option: str | None) -> str | None:
    """The CLI's default is 'auto' (the command is a guarded script main: process workers
    are safe to start); DASK_SCHEDULER_ADDRESS still wins over it when --scheduler is absent."""
    import os

    if option or os.environ.get("DASK_SCHEDULER_ADDRESS"):
        return option
    return "auto"


def _steady(summary: dict) -> str:
    rate = summary.get("steady_samples_per_s")
    if not rate:
        return ""
    return (f" ({summary['scheduler']}; {rate:.1f} samples/s once every worker ran, after "
            f"{summary['first_shard_s']:.1f} s to the first shard)")
