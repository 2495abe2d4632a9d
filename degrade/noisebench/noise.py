"""Noise-model benchmark: how close each noise model comes to real camera noise, and how fast.

Python API of ``degrade noisebench``::

    from degrade.noisebench.noise import load_srgb_pairs, benchmark_noise
    result = benchmark_noise(load_srgb_pairs("polyu_real_noisy_srgb"), seed=0)
    print(result.table())
    result.write("out/")          # noisebench.json, noisebench.csv, noisebench.png

For every pair and every model (:mod:`degrade.noisebench.models`) the benchmark

1. **fits** the model to the pair's noise level function in the linear domain
   (:mod:`degrade.noisebench.fitting`): RAW pairs directly; sRGB pairs after mapping both images
   through ``unprocess_brooks2019`` with a fixed, documented ISP (``DEFAULT_ISP``);
2. **synthesises** noise on the clean image with the fitted parameters (seeded by the pair's
   and the model's *names*: ``stream(seed, name_key(pair), name_key(model), OP)``, so a
   model's score does not depend on which other models or pairs run). sRGB pairs go
   unprocess -> raw noise -> ``process_brooks2019``, and the ISP's response to the noise,
   ``process(raw + n) - process(raw)``, is added to the clean sRGB image, which is then
   quantised like the real file (8-bit). Because the fit in step 1 cannot see the ISP's
   demosaicking (which averages noise), the noise level is then matched by simulation:
   the parameters are rescaled (``model.rescale``) until the synthetic sRGB noise std
   equals the real one (at most ``LEVEL_ITERATIONS`` steps);
3. **compares** real and synthetic noise: marginal KL (Noise Flow protocol) overall and per
   clean-intensity bin, noise level function error, lag-1 autocorrelation per channel; and
   the KL between two independent draws of the model (its *floor*: the KL the metric
   reports for a perfect model at this image size); every metric also per patch, for
   the bootstrap intervals and the verdict (:mod:`degrade.noisebench.stats`);
4. **times** each model's noise op on a ``speed_size``-square mosaic, one thread.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from .._cfa import pack_planes
from .._errors import DegradeError, InputError
from .._rng import OP, stream
from .fitting import binned_variance, fit_constant
from .inputs import NoisePair, find_srgb_pairs, load_raw_pair, load_srgb_pairs, raw_pair, srgb_pair
from .metrics import (NOISEFLOW_BIN_WIDTH, NOISEFLOW_RANGE, intensity_edges, kl_per_intensity,
                      lag1_autocorrelation, marginal_kl, noise_histogram,
                      noise_level_function, noiseflow_bin_edges)
from .models import FitContext, check_eld_profile, check_models
from .stats import (BOOTSTRAP, COND_BINS, COND_WIDTH, METRICS, PatchLayout, bootstrap,
                    interval, name_key, patch_stats, residual_curves, verdict)

__all__ = ["benchmark_noise", "NoiseBenchResult", "load_srgb_pairs", "load_raw_pair",
           "find_srgb_pairs", "srgb_pair", "raw_pair", "NoisePair", "DEFAULT_ISP"]

#: The fixed ISP of the sRGB route: the mean of Brooks 2019's four XYZ->camera matrices and
#: the middle of Brooks' gain ranges (rgb_gain = 1/0.8, red 2.15, blue 1.7), RGGB.
DEFAULT_ISP = {
    "ccm": (np.mean([[[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469],
                      [-0.0703, 0.2188, 0.6406]],
                     [[0.4913, -0.0541, -0.0202], [-0.613, 1.3513, 0.2906],
                      [-0.1564, 0.2151, 0.7183]],
                     [[0.838, -0.263, -0.0639], [-0.2887, 1.0725, 0.2496],
                      [-0.0627, 0.1427, 0.5438]],
                     [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933],
                      [-0.097, 0.1581, 0.5181]]], axis=0)).tolist(),
    "rgb_gain": 1.25, "red_gain": 2.15, "blue_gain": 1.7, "pattern": "RGGB"}
#: Level matching by simulation (sRGB route): at most this many rescaling steps, stopping
#: when the synthetic std is within ``LEVEL_TOLERANCE`` (relative) of the real one.
LEVEL_ITERATIONS = 4
LEVEL_TOLERANCE = 0.01
#: Clean values inside this range count as unclipped for level matching and the reported
#: std (sRGB; RAW data keep their dark end: only the top is excluded).
UNCLIPPED = (0.02, 0.98)
SRGB_BASELINE = "gaussian_srgb"
#: Stream purpose of the second, independent draw that measures the KL sampling floor.
FLOOR_PURPOSE = OP + 1000


@dataclass
class NoiseBenchResult:
    """Everything the benchmark measured (JSON-serialisable through :meth:`to_dict`)."""
    settings: dict
    pairs: list = field(default_factory=list)
    summary: list = field(default_factory=list)
    speed: dict = field(default_factory=dict)
    dark: dict | None = None
    verdict: dict | None = None
    denoiser: dict | None = None

    def to_dict(self) -> dict:
        return {"settings": self.settings, "verdict": self.verdict, "summary": self.summary,
                "denoiser": self.denoiser, "speed": self.speed, "pairs": self.pairs,
                "dark": self.dark}

    def table(self) -> str:
        """The terminal report (see :func:`degrade.noisebench.report.format_table`)."""
        from .report import format_table

        return format_table(self)

    def write_json(self, path):
        """Write the full result as JSON to ``path``; returns the path."""
        from .report import write_json

        return write_json(self, path)

    def write(self, out_dir, *, figure: bool = True) -> dict:
        """Write ``noisebench.json``, ``noisebench.csv`` and (``figure``) ``noisebench.png``
        into ``out_dir``; returns ``{kind: path}``."""
        from .report import write_outputs

        return write_outputs(self, out_dir, figure=figure)


def _packed(mosaic: np.ndarray) -> np.ndarray:
    h, w = mosaic.shape[0] // 2 * 2, mosaic.shape[1] // 2 * 2
    return pack_planes(mosaic[:h, :w])


def _channels(pair: NoisePair, noise: np.ndarray) -> np.ndarray:
    """Noise as (H, W, C) planes for the autocorrelation: RGB, or the 4 CFA planes."""
    return _packed(noise) if pair.domain == "raw" else noise


def _quantise(img: np.ndarray, levels: int | None) -> np.ndarray:
    img = np.clip(img, 0.0, 1.0)
    if levels:
        img = np.round(img * (levels - 1)) / (levels - 1)
    return img.astype(np.float32)


def synthesize_noisy(clean: np.ndarray, domain: str, model: str, params: dict, rng, *,
                     isp: dict | None = None, levels: int | None = 256,
                     pattern: str = "RGGB") -> np.ndarray:
    """A synthetic noisy image of ``clean`` by benchmark model ``model`` with ``params`` (as
    fitted by :func:`benchmark_noise`), through the benchmark's own route: RAW mosaics
    directly; sRGB as ``quantise(clean + process(m + n) - process(m))`` with
    ``m = unprocess(clean)`` (``gaussian_srgb``: AWGN added in sRGB). Used to make training
    pairs for the denoiser test."""
    from ..ops import gaussian_noise, process_brooks2019, unprocess_brooks2019
    from .models import DARK_MODELS, MODELS

    if model == SRGB_BASELINE:
        return _quantise(gaussian_noise(clean, params["sigma"], clip=True, rng=rng), levels)
    m = {**MODELS, **DARK_MODELS}[model]
    if domain == "raw":
        return m.apply(clean, params, rng, pattern, False)
    isp = dict(DEFAULT_ISP if isp is None else isp)
    lin = unprocess_brooks2019(clean, **isp)
    delta = process_brooks2019(m.apply(lin, params, rng, isp["pattern"], False), **isp) \
        - process_brooks2019(lin, **isp)
    return _quantise(clean + delta, levels)


class _PairRun:
    """The per-pair state: linear images for fitting and the synthesis route."""

    def __init__(self, pair: NoisePair, isp: dict, grid: "_Grid"):
        from ..ops import process_brooks2019, unprocess_brooks2019

        self.pair, self.isp = pair, isp
        if pair.domain == "raw":
            self.lin_clean, lin_noisy, self.pattern = pair.clean, pair.noisy, pair.pattern
            self.clip_raw = bool(pair.noisy.min() >= 0.0 and pair.noisy.max() <= 1.0)
            self.base = None
        else:
            self.lin_clean = unprocess_brooks2019(pair.clean, **isp)
            lin_noisy = unprocess_brooks2019(pair.noisy, **isp)
            self.pattern, self.clip_raw = isp["pattern"], False
            self.base = process_brooks2019(self.lin_clean, **isp)
        try:
            self.binned = binned_variance(self.lin_clean, lin_noisy - self.lin_clean)
        except InputError as exc:
            raise InputError(f"{pair.name}: {exc}") from None
        self.real = pair.noisy - pair.clean
        lo, hi = UNCLIPPED if pair.domain == "srgb" else (-np.inf, UNCLIPPED[1])
        self.unclipped = (pair.clean > lo) & (pair.clean < hi)
        if self.unclipped.sum() < 100:
            raise InputError(f"{pair.name}: fewer than 100 pixels with clean values in "
                             f"({lo}, {hi}); nothing unclipped to measure")
        step = 1.0 / (pair.levels - 1) if pair.levels else 0.0
        self.layout = PatchLayout(_channels(pair, pair.clean), _channels(pair, self.real),
                                  grid.intensity, step)
        self.patches = patch_stats(self.layout, _channels(pair, self.real), grid.kl)
        self.key = name_key(pair.name)

    def synthesize(self, model, params, rng) -> np.ndarray:
        from ..ops import process_brooks2019

        if self.pair.domain == "raw":
            return model.apply(self.lin_clean, params, rng, self.pattern, self.clip_raw)
        raw = model.apply(self.lin_clean, params, rng, self.pattern, False)
        delta = process_brooks2019(raw, **self.isp) - self.base
        return _quantise(self.pair.clean + delta, self.pair.levels)

    def level_ratio(self, synth: np.ndarray) -> float:
        m = self.unclipped
        s = float(np.std((synth - self.pair.clean)[m]))
        return float(np.std(self.real[m])) / s if s > 0 else 1.0


@dataclass(frozen=True)
class _Grid:
    """Histogram edges of the KL (``kl``) and the clean-intensity bins (``intensity``)."""
    kl: np.ndarray
    intensity: np.ndarray


def _evaluate(run: _PairRun, synth: np.ndarray, grid: _Grid, second: np.ndarray) -> dict:
    """Metrics of one synthetic image; ``second`` is an independent draw of the same model
    with the same parameters, whose KL to the first is the metric's sampling floor.
    ``_patches`` (per-patch sums for the bootstrap) is popped by the caller."""
    pair = run.pair
    noise = synth - pair.clean
    nlf = noise_level_function(pair.clean, noise, grid.intensity)
    return {"kl": marginal_kl(run.real, noise),
            "kl_floor": marginal_kl(noise, second - pair.clean),
            "kl_bins": kl_per_intensity(run.real, noise, pair.clean, grid.intensity),
            "nlf": nlf,
            "lag1": lag1_autocorrelation(_channels(pair, noise)).tolist(),
            "std": float(np.std(noise[run.unclipped])),
            "hist": noise_histogram(noise, grid.kl).tolist(),
            "_patches": patch_stats(run.layout, _channels(pair, noise), grid.kl)}


def _fit_and_run(run: _PairRun, model, ctx, seed, grid) -> dict:
    # the clipped-normal variance model only where the data are clipped: an unclipped RAW
    # pair (values below 0 kept) fitted as if clipped biases the dark bins
    if ctx.clip_aware and run.pair.domain == "raw" and not run.clip_raw:
        ctx = replace(ctx, clip_aware=False)
    params, info = model.fit(run.binned, ctx)
    first = params
    scale = 1.0
    node = name_key(model.name)
    synth = run.synthesize(model, params, stream(seed, run.key, node, OP))
    if run.pair.domain == "srgb":
        for _ in range(LEVEL_ITERATIONS):
            ratio = run.level_ratio(synth)
            if abs(ratio - 1.0) < LEVEL_TOLERANCE:
                break
            scale *= ratio
            params = model.rescale(first, scale)
            synth = run.synthesize(model, params, stream(seed, run.key, node, OP))
        info["level_scale"] = scale
        info["linear_fit"] = first
    second = run.synthesize(model, params, stream(seed, run.key, node, FLOOR_PURPOSE))
    return {"params": params, "fit": info, **_evaluate(run, synth, grid, second)}


def _srgb_baseline(run: _PairRun, seed, ctx, grid) -> dict:
    """AWGN added directly in sRGB (what RGB pipelines do), sigma fitted on the sRGB NLF."""
    from ..ops import gaussian_noise

    pair = run.pair
    fit = fit_constant(binned_variance(pair.clean, run.real), clip_aware=ctx.clip_aware)
    sigma = float(np.sqrt(fit.params[0]))
    synth, second = (_quantise(gaussian_noise(pair.clean, sigma, clip=True,
                                              rng=stream(seed, run.key,
                                                         name_key(SRGB_BASELINE), purpose)),
                               pair.levels) for purpose in (OP, FLOOR_PURPOSE))
    info = {"stderr": {"sigma^2": float(fit.stderr[0])}, "reduced_chi2": fit.chi2,
            "bins": fit.bins}
    return {"params": {"sigma": sigma}, "fit": info, **_evaluate(run, synth, grid, second)}


def _summarise(pairs: list, names: list[str], runs: list[_PairRun], patches: list[dict], *,
               replicates: int, seed: int) -> tuple[list[dict], dict]:
    """Summary rows (point value and bootstrap interval of every metric, per model) in
    verdict order, and the verdict (:func:`degrade.noisebench.stats.verdict`)."""
    boot = bootstrap([r.patches for r in runs], patches, [r.layout.valid for r in runs], names,
                     replicates=replicates, seed=seed)
    v = verdict(boot, names)
    for i, (p, run) in enumerate(zip(pairs, runs)):
        n_p = run.patches["nf"].shape[0]
        w = np.random.default_rng(np.random.SeedSequence([seed, run.key])).multinomial(
            n_p, np.full(n_p, 1.0 / n_p), min(replicates, 300)).astype(np.float64)
        for n in names:
            p["models"][n].update({m: boot["per_pair"][n][m][i]
                                   for m in ("kl_cond", "nlf_error", "lag1_error")})
            p["models"][n]["residual"] = residual_curves(run.patches, patches[i][n],
                                                         run.layout.valid, w)
    winners = [min(names, key=lambda n: p["models"][n]["kl_cond"]) for p in pairs]
    rows = []
    for name in names:
        res = [p["models"][name] for p in pairs]
        kls = [r["kl"] for r in res]
        lag = np.mean([np.mean(r["lag1"], axis=0) for r in res], axis=0)
        bins = np.array([[np.nan if x is None else x for x in r["kl_bins"]] for r in res])
        with np.errstate(invalid="ignore"):
            per_bin = [None if np.all(np.isnan(col)) else float(np.nanmean(col))
                       for col in bins.T]
        row = {"model": name, "kl_mean": float(np.mean(kls)), "kl_min": float(min(kls)),
               "kl_max": float(max(kls)),
               "kl_floor_mean": float(np.mean([r["kl_floor"] for r in res])),
               "wins": winners.count(name), "lag1_h": float(lag[0]), "lag1_v": float(lag[1]),
               "kl_bins_mean": per_bin,
               "status": ("best" if name == v["best"] else "indistinguishable"
                          if name in v["indistinguishable"] else "worse"),
               "worse_by": v["worse"].get(name)}
        for m in METRICS:
            row[m] = boot["point"][name][m]
            # the Noise Flow KL can dip below 0 (bins where one histogram is empty are
            # skipped); the other metrics cannot
            row[m + "_ci"] = interval(boot["samples"][name][m], row[m],
                                      floor=None if m == "kl" else 0.0)
        row["nlf_error_mean"] = row["nlf_error"]
        rows.append(row)
    order = [v["best"]] + v["indistinguishable"]
    rows.sort(key=lambda r: (r["model"] not in order,
                             order.index(r["model"]) if r["model"] in order else 0,
                             METRICS.index(r["worse_by"]) if r["worse_by"] else 0,
                             r["kl_cond"]))
    for i, r in enumerate(rows, 1):
        r["rank"] = i
    return rows, v


def _time_call(fn, repeats: int) -> float:
    fn()                                      # warm-up: numba compilation, caches
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def measure_speed(models, runs: list[_PairRun], pairs_out: list, size: int = 1024,
                  repeats: int = 3, seed: int = 0) -> dict:
    """MP/s of each model's noise op on a ``size`` x ``size`` mosaic (the first pair's linear
    clean image resized, with that pair's fitted parameters), one thread (cv2 set to 1
    thread; numba kernels are single-threaded). For sRGB data also the whole route
    (unprocess + noise + process) on an RGB image of that size."""
    import cv2

    from ..ops import gaussian_noise, process_brooks2019, unprocess_brooks2019

    run, fitted = runs[0], pairs_out[0]["models"]
    mosaic = np.ascontiguousarray(cv2.resize(run.lin_clean, (size, size),
                                             interpolation=cv2.INTER_LINEAR))
    mp = size * size / 1e6
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    out = {}
    try:
        rgb = None
        if run.pair.domain == "srgb":
            rgb = np.ascontiguousarray(cv2.resize(run.pair.clean, (size, size)))
        for mi, model in enumerate(models):
            params = fitted[model.name]["params"]
            rng = np.random.default_rng(seed)
            try:
                t = _time_call(lambda: model.apply(mosaic, params, rng, run.pattern, False),
                               repeats)
            except DegradeError:         # e.g. dark frames smaller than the timing image
                continue
            entry = {"noise_mp_s": mp / t}
            if rgb is not None:
                def route():
                    raw = unprocess_brooks2019(rgb, **run.isp)
                    process_brooks2019(model.apply(raw, params, rng, run.pattern, False),
                                       **run.isp)
                entry["route_mp_s"] = mp / _time_call(route, 1)
            out[model.name] = entry
        if rgb is not None:
            sigma = fitted[SRGB_BASELINE]["params"]["sigma"]
            rng = np.random.default_rng(seed)
            t = _time_call(lambda: gaussian_noise(rgb, sigma, rng=rng), repeats)
            out[SRGB_BASELINE] = {"noise_mp_s": mp / t, "route_mp_s": mp / t}
    finally:
        cv2.setNumThreads(threads)
    return out


def benchmark_noise(pairs: list[NoisePair], *, models: list[str] | None = None, seed: int = 0,
                    eld_profile: str = "auto", clip_aware: bool = True, speed: bool = True,
                    speed_size: int = 1024, isp: dict | None = None,
                    dark: dict | None = None, bootstrap_replicates: int = BOOTSTRAP,
                    dark_fit: dict | None = None) -> NoiseBenchResult:
    """Fit, synthesise and compare every noise model on real noisy / clean pairs.

    Parameters
    ----------
    pairs : list of NoisePair
        From :func:`load_srgb_pairs`, :func:`srgb_pair`, :func:`raw_pair` or
        :func:`load_raw_pair`; all of one domain.
    models : list of str, optional
        Subset of ``gaussian heteroscedastic_gaussian poisson_gaussian brooks2019 eld2020``
        (default all). sRGB data also get the ``gaussian_srgb`` baseline (AWGN in sRGB).
    seed : int
        Root seed of the synthetic noise.
    eld_profile : str
        Camera profile of the ELD model, or ``'auto'``: the profile that fits best.
    clip_aware : bool
        Model clipping at 0 and 1 in the fit (Foi et al. 2008).
    speed, speed_size : bool, int
        Time each model on a ``speed_size``-square image (one thread).
    isp : dict, optional
        Parameters of ``unprocess_brooks2019`` / ``process_brooks2019`` for the sRGB route
        (default :data:`DEFAULT_ISP`).
    dark : dict, optional
        Dark-frame statistics (:func:`degrade.noisebench.dark.dark_series_stats`) to include.
    bootstrap_replicates : int
        Replicates of the (pairs x patches) bootstrap behind the intervals and the verdict.
    dark_fit : dict, optional
        :func:`degrade.noisebench.darkfit.fit_dark_folder` of the camera's dark frames plus
        ``white_level`` (DN; the pairs must be normalised by ``white_level - black_dn``):
        adds the models ``eld2020_dark`` and ``dark_frame`` (Zhang et al. 2021).

    Returns
    -------
    NoiseBenchResult
        ``verdict``: best model, the models not distinguishable from it at 95 %, the clearly
        worse ones and the deciding metric; ``summary`` lists the models in that order with
        every metric's point value and 95 % interval (lower is better).

    Raises
    ------
    InputError
        No pairs, pairs of mixed domains, or a pair with too few usable pixels.
    ParameterError
        Unknown model or ELD profile.
    """
    if not pairs:
        raise InputError("noisebench: no noisy/clean pairs given")
    domains = {p.domain for p in pairs}
    if len(domains) > 1:
        raise InputError(f"noisebench: pairs mix domains {sorted(domains)}; benchmark sRGB and "
                         "RAW pairs separately")
    chosen = check_models(models, dark=dark_fit is not None)
    ctx = FitContext(clip_aware=bool(clip_aware), eld_profile=check_eld_profile(eld_profile),
                     dark=dark_fit)
    isp = dict(DEFAULT_ISP if isp is None else isp)
    grid = _Grid(noiseflow_bin_edges(), intensity_edges([p.clean for p in pairs]))
    domain = domains.pop()
    runs, out, patches = [], [], []
    for pair in pairs:
        run = _PairRun(pair, isp, grid)
        runs.append(run)
        entry = {"name": pair.name, "shape": list(pair.clean.shape),
                 "real": {"nlf": noise_level_function(pair.clean, run.real, grid.intensity),
                          "lag1": lag1_autocorrelation(_channels(pair, run.real)).tolist(),
                          "std": float(np.std(run.real[run.unclipped])),
                          "hist": noise_histogram(run.real, grid.kl).tolist()},
                 "models": {}}
        for model in chosen:
            entry["models"][model.name] = _fit_and_run(run, model, ctx, seed, grid)
        if domain == "srgb":
            entry["models"][SRGB_BASELINE] = _srgb_baseline(run, seed, ctx, grid)
        patches.append({n: m.pop("_patches") for n, m in entry["models"].items()})
        out.append(entry)
    names = [m.name for m in chosen] + ([SRGB_BASELINE] if domain == "srgb" else [])
    settings = {"domain": domain, "pairs": len(pairs), "seed": seed, "models": names,
                "eld_profile": eld_profile, "clip_aware": bool(clip_aware),
                "kl_bin_width": NOISEFLOW_BIN_WIDTH, "kl_range": list(NOISEFLOW_RANGE),
                "kl_overflow_bins": 2, "kl_edges": grid.kl.tolist(),
                "intensity_edges": grid.intensity.tolist(),
                "isp": isp if domain == "srgb" else None, "speed_size": speed_size,
                "dark_fit": dark_fit, "cond_bins": COND_BINS, "cond_width": COND_WIDTH}
    settings["bootstrap"] = {"replicates": int(bootstrap_replicates), "level": 0.95,
                             "resampled": "pairs, then patches within pairs (paired)",
                             "metrics": list(METRICS)}
    summary, v = _summarise(out, names, runs, patches, replicates=bootstrap_replicates,
                            seed=seed)
    result = NoiseBenchResult(settings, out, summary, verdict=v)

    if speed:
        result.speed = measure_speed(chosen, runs, out, size=speed_size, seed=seed)
    result.dark = dark
    return result
