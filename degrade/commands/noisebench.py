"""Benchmark the noise models against real noise: fit each model (Gaussian,
heteroscedastic Gaussian, Poisson-Gaussian, Brooks 2019, ELD 2020 with a camera profile; with
--dark-bank also ELD with dark-frame read/row noise and Zhang 2021 dark-frame sampling) to
real noisy/clean pairs, synthesise noise on the clean image with the fitted parameters and
report the conditional KL (noise given intensity), marginal KL (Noise Flow protocol),
noise-level-function error and lag-1 correlation error with 95% bootstrap intervals (over
pairs and patches), a verdict (best model, the ones not distinguishable from it, the
clearly worse ones and the deciding metric), and speed. sRGB pairs are modelled through
unprocess -> raw noise -> forward ISP. --denoiser trains the same small CNN on each model's
pairs and scores it on the real ones. Dark frames give read, row/column noise and defects.

Prints a table; --out writes noisebench.json, noisebench.csv and noisebench.png.

examples:
  degrade noisebench --pairs ../shared/data/noise/polyu_real_noisy_srgb --out nb/
  degrade noisebench --noisy noisy_dir/ --clean clean_dir/ --models poisson_gaussian eld2020
  degrade noisebench --raw-pair noisy.npy clean.npy --pattern RGGB --black 512 --white 16383
  degrade noisebench --raw-pair shot_0001.dng mean.dng
  degrade noisebench --dark ../shared/data/noise/flea3_dark_frames/d1_*
  degrade noisebench --dark-bank darks/ --raw-pair noisy.npy clean.npy --white 1023 --black 64
"""
from __future__ import annotations

HELP = "which noise model matches real noise (metrics with intervals, verdict, denoiser test)"


def add_arguments(parser) -> None:
    src = parser.add_argument_group("inputs (give pairs, dark frames, or both)")
    src.add_argument("--pairs", metavar="DIR",
                     help="folder of sRGB pairs named <name>_real.* / <name>_mean.* "
                          "(or _noisy / _clean)")
    src.add_argument("--noisy", metavar="DIR", help="folder of noisy sRGB images (with --clean)")
    src.add_argument("--clean", metavar="DIR",
                     help="folder of clean sRGB images, matched to --noisy by file name")
    src.add_argument("--raw-pair", nargs=2, action="append", metavar=("NOISY", "CLEAN"),
                     help="a RAW pair: camera RAW files, or .npy mosaics (then give --white, "
                          "--black, --pattern); repeat for several pairs")
    src.add_argument("--sidd", nargs="+", metavar="NOISY_MAT",
                     help="SIDD raw pairs: *_NOISY_RAW_*.MAT files (GT and METADATA files "
                          "found next to them; MATLAB v7.3 needs h5py)")
    src.add_argument("--exposure-pair", nargs=2, action="append", metavar=("SHORT", "LONG"),
                     help="SID/ELD short/long exposure RAW pair; the ratio from SID names "
                          "(..._0.1s.ARW) or --ratio; repeat for several pairs")
    src.add_argument("--ratio", type=float, default=None,
                     help="exposure ratio long/short of --exposure-pair")
    src.add_argument("--pattern", default=None, help="CFA pattern of .npy mosaics (default RGGB)")
    src.add_argument("--black", type=float, default=None, help="black level (DN) of .npy mosaics")
    src.add_argument("--white", type=float, default=None, help="white level (DN) of .npy mosaics")
    src.add_argument("--dark", nargs="+", metavar="PATH",
                     help="dark frames or folders of them (.tif/.png/.npy, or headerless .raw "
                          "with <W>x<H> in the name)")
    src.add_argument("--dark-bank", metavar="PATH",
                     help="folder (or (N, H, W) .npy stack) of dark frames of the pairs' camera "
                          "at their gain: fits read (Gaussian, Tukey-lambda), row and "
                          "fixed-pattern noise, and adds the models eld2020_dark and dark_frame")
    src.add_argument("--dark-white", type=float, default=None, metavar="DN",
                     help="white level (DN) of the dark frames' sensor (default: --white); the "
                          "pairs must be normalised by white - black of the same sensor")
    opt = parser.add_argument_group("benchmark")
    opt.add_argument("--models", nargs="+", metavar="MODEL",
                     help="models to compare (default: all): gaussian heteroscedastic_gaussian "
                          "poisson_gaussian brooks2019 eld2020")
    opt.add_argument("--eld-profile", default="auto",
                     help="camera profile of the ELD model, or 'auto' (best fit; default)")
    opt.add_argument("--seed", type=int, default=0, help="seed of the synthetic noise (default 0)")
    opt.add_argument("--crop", type=int, default=None, metavar="N",
                     help="use a centred N x N crop of every pair (faster)")
    opt.add_argument("--no-clip-aware", action="store_true",
                     help="fit without the clipped-normal model near 0 and 1")
    opt.add_argument("--no-speed", action="store_true", help="skip the speed measurement")
    opt.add_argument("--speed-size", type=int, default=1024, metavar="N",
                     help="side of the square image the speed is measured on (default 1024)")
    opt.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                     help="bootstrap replicates behind the intervals and the verdict "
                          "(default 1000)")
    den = parser.add_argument_group("denoiser test (needs torch)")
    den.add_argument("--denoiser", action="store_true",
                     help="train the same small CNN on pairs synthesised by each fitted model "
                          "and report its PSNR/SSIM on the real pairs")
    den.add_argument("--train-clean", metavar="DIR", default=None,
                     help="clean training images (default: the built-in samples; RAW pairs: "
                          "the built-in DNGs)")
    den.add_argument("--device", default="cpu", help="torch device (cpu, cuda; default cpu)")
    den.add_argument("--denoiser-steps", type=int, default=None, metavar="N",
                     help="training steps per model (default 200)")
    den.add_argument("--threads", type=int, default=1, metavar="N",
                     help="torch CPU threads (default 1: fastest on a busy machine)")
    opt.add_argument("--out", metavar="DIR",
                     help="write noisebench.json, noisebench.csv and noisebench.png here")
    opt.add_argument("--no-figure", action="store_true", help="with --out: skip the PNG")
    opt.add_argument("--json", metavar="FILE",
                     help="also write the full result (verdict, intervals, denoiser) as JSON "
                          "to FILE (what tools/noisebench_tables.py renders)")


def _pairs(args):
    from .._errors import ParameterError
    from ..noisebench.noise import load_raw_pair, load_srgb_pairs

    given = [n for n, v in (("--pairs", args.pairs), ("--noisy/--clean", args.noisy or args.clean),
                            ("--raw-pair", args.raw_pair), ("--sidd", args.sidd),
                            ("--exposure-pair", args.exposure_pair)) if v]
    if len(given) > 1:
        raise ParameterError(f"noisebench: give one kind of pairs, not {' and '.join(given)} "
                             "(sRGB and RAW pairs are benchmarked separately)")
    if bool(args.noisy) != bool(args.clean):
        raise ParameterError("noisebench: --noisy and --clean go together")
    if args.crop is not None and args.crop < 16:
        raise ParameterError(f"noisebench: --crop {args.crop}: expected at least 16")
    if args.pairs:
        return load_srgb_pairs(args.pairs, crop=args.crop)
    if args.noisy:
        return load_srgb_pairs(args.noisy, args.clean, crop=args.crop)
    if args.sidd:
        from ..noisebench.rawformats import load_sidd_pair

        return [load_sidd_pair(p, pattern=args.pattern, crop=args.crop) for p in args.sidd]
    if args.exposure_pair:
        from ..noisebench.rawformats import load_exposure_pair

        return [load_exposure_pair(s, lg, ratio=args.ratio, pattern=args.pattern,
                                   black_level=args.black, white_level=args.white,
                                   crop=args.crop) for s, lg in args.exposure_pair]
    if args.raw_pair:
        return [load_raw_pair(n, c, pattern=args.pattern, black_level=args.black,
                              white_level=args.white, crop=args.crop) for n, c in args.raw_pair]
    return []


def _dark_fit(args, with_pairs: bool):
    from .._errors import ParameterError
    from ..noisebench.darkfit import fit_dark_folder

    if not args.dark_bank:
        return None
    fit = fit_dark_folder(args.dark_bank)
    white = args.dark_white if args.dark_white is not None else args.white
    if with_pairs:
        if white is None:
            raise ParameterError("noisebench: --dark-bank with pairs needs --dark-white DN (or "
                                 "--white): the white level of the dark frames' sensor")
        if not white > fit["black_dn"]:
            raise ParameterError(f"noisebench: --dark-white {white:g}: expected above the dark "
                                 f"frames' black level {fit['black_dn']:g} DN")
    return {**fit, "white_level": white}


def _run_denoiser(args, result, pairs) -> None:
    import sys

    from .._errors import ParameterError
    from dataclasses import replace

    from ..noisebench.denoiser import DenoiserConfig, denoiser_benchmark

    if args.threads < 1:
        raise ParameterError(f"noisebench: --threads {args.threads}: expected at least 1")
    cfg = DenoiserConfig(device=args.device, seed=args.seed, threads=args.threads)
    if args.denoiser_steps is not None:
        if args.denoiser_steps < 1:
            raise ParameterError(f"noisebench: --denoiser-steps {args.denoiser_steps}: "
                                 "expected at least 1")
        cfg = replace(cfg, steps=args.denoiser_steps)
    result.denoiser = denoiser_benchmark(
        result, pairs, train_clean=args.train_clean, config=cfg, replicates=args.bootstrap,
        progress=lambda name: print(f"denoiser trained and scored: {name}", file=sys.stderr))


def run(args) -> int:
    from .._errors import ParameterError
    from ..noisebench.dark import dark_series_stats
    from ..noisebench.report import format_dark, format_dark_fit

    if args.speed_size < 64:
        raise ParameterError(f"noisebench: --speed-size {args.speed_size}: expected at least 64")
    if (args.train_clean or args.device != "cpu" or args.denoiser_steps
            or args.threads != 1) and not args.denoiser:
        raise ParameterError("noisebench: --train-clean, --device, --denoiser-steps and "
                             "--threads go with --denoiser")
    if args.bootstrap < 20:
        raise ParameterError(f"noisebench: --bootstrap {args.bootstrap}: expected at least 20")
    pairs = _pairs(args)
    dark = dark_series_stats(args.dark) if args.dark else None
    dark_fit = _dark_fit(args, bool(pairs))
    if not pairs and dark is None and dark_fit is None:
        raise ParameterError("noisebench: nothing to benchmark: give --pairs DIR, --noisy DIR "
                             "--clean DIR, --raw-pair NOISY CLEAN, --sidd, --exposure-pair, --dark PATH and/or "
                             "--dark-bank PATH")
    if pairs:
        from ..noisebench.noise import benchmark_noise

        result = benchmark_noise(pairs, models=args.models, seed=args.seed,
                                 eld_profile=args.eld_profile,
                                 clip_aware=not args.no_clip_aware, speed=not args.no_speed,
                                 speed_size=args.speed_size, dark=dark,
                                 bootstrap_replicates=args.bootstrap, dark_fit=dark_fit)
        if args.denoiser:
            _run_denoiser(args, result, pairs)
        print(result.table())
        if args.out:
            for kind, path in result.write(args.out, figure=not args.no_figure).items():
                print(f"wrote {kind}: {path}")
        if args.json:
            print(f"wrote json: {result.write_json(args.json)}")
    else:
        report = {}
        if dark is not None:
            print(format_dark(dark))
            report["dark"] = dark
        if dark_fit is not None:
            print(format_dark_fit(dark_fit))
            report["dark_fit"] = dark_fit
        if args.out:
            import json
            from pathlib import Path

            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            for key, data in report.items():
                path = out / f"noisebench_{key}.json"
                path.write_text(json.dumps(data, indent=1))
                print(f"wrote json: {path}")
    return 0
