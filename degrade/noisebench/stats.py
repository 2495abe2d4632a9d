"""Patch statistics, bootstrap intervals and the verdict of the noise benchmark.

Every metric of a pair is a function of sums over pixels (histogram counts, sums of noise and
squared noise per intensity bin, neighbour products). The sums are kept per *patch* (the
image cut into ``PATCH_GRID x PATCH_GRID`` blocks; RAW mosaics on their packed CFA planes),
so a bootstrap replicate is a reweighting of patches: the pairs are drawn with replacement,
and within each drawn pair the patches are drawn with replacement (one multinomial weight
vector per pair and replicate; a pair drawn twice reuses it). Real and synthetic noise of a
patch share the weight, and all models share the draws (a *paired* bootstrap), so the
difference of two models' metrics has its own interval.

Metrics (lower is better, all per pair and then averaged over pairs):

* ``kl_cond``: the noise distribution *given the clean intensity*. Per clean-intensity bin,
  a histogram of ``COND_BINS`` bins of width ``max(COND_WIDTH * s_b, step)`` centred on 0
  (``s_b`` the real noise std of the bin, ``step`` the code-value step of quantised data,
  edges offset by half a step so lattice values never sit on an edge) plus two overflow
  bins; ``KL(real || model)`` per bin (over bins where both are non-zero), averaged with the
  real pixel counts as weights. The bins follow the noise scale, so the metric sees shapes
  (skew of few-photon Poisson, Tukey tails) that a fixed bin grid cannot;
* ``kl``: the marginal KL of the Noise Flow protocol (fixed bins, all intensities pooled),
  for comparison with published numbers;
* ``nlf_error``: relative RMS error of the noise std per intensity bin;
* ``lag1_error``: mean absolute difference of the lag-1 autocorrelations (channels x
  horizontal / vertical), with the mean removed per patch.
"""
from __future__ import annotations

import zlib

import numpy as np

#: Blocks per side of the patch grid used by the bootstrap.
PATCH_GRID = 8
#: Conditional-KL histogram: inner bins and their width in units of the real noise std.
COND_BINS = 40
COND_WIDTH = 0.25
#: Default number of bootstrap replicates and the interval level.
BOOTSTRAP = 1000
LEVEL = 0.95
#: Metric order of the verdict: a model is dropped on the first metric on which it is clearly
#: worse than the best of the models still in the running.
METRICS = ("kl_cond", "nlf_error", "kl", "lag1_error")
#: Intensity bins with fewer real pixels than this are left out of kl_cond / nlf_error.
MIN_BIN_COUNT = 400


def name_key(name: str) -> int:
    """A stable non-negative integer for a name (CRC-32): random streams are keyed by model
    and pair *names*, so a score does not depend on which other models or pairs run."""
    return zlib.crc32(name.encode("utf-8"))


def patch_ids(shape: tuple[int, int], grid: int = PATCH_GRID) -> np.ndarray:
    """``(H, W)`` int array: the patch (row-major block of a ``grid x grid`` split) of each
    pixel; blocks differ in size by at most one pixel."""
    h, w = shape
    gy, gx = min(grid, h), min(grid, w)
    ry = np.repeat(np.arange(gy), [len(a) for a in np.array_split(np.arange(h), gy)])
    rx = np.repeat(np.arange(gx), [len(a) for a in np.array_split(np.arange(w), gx)])
    return ry[:, None] * gx + rx[None, :]


class PatchLayout:
    """Where each value of a pair's channel view sits: patch, clean-intensity bin, and the
    conditional-histogram bin widths. Built once per pair from the real noise."""

    def __init__(self, clean: np.ndarray, real: np.ndarray, intensity_edges: np.ndarray,
                 step: float = 0.0, grid: int = PATCH_GRID):
        clean = clean if clean.ndim == 3 else clean[:, :, None]
        real = real if real.ndim == 3 else real[:, :, None]
        self.pid2d = patch_ids(clean.shape[:2], grid)
        self.n_patches = int(self.pid2d.max()) + 1
        self.channels = clean.shape[2]
        self.pid = np.repeat(self.pid2d[:, :, None], self.channels, axis=2).ravel()
        e = np.asarray(intensity_edges, np.float64)
        c = clean.ravel().astype(np.float64)
        ib = np.searchsorted(e, c, side="right") - 1
        ib[c == e[-1]] = len(e) - 2
        ib[(c < e[0]) | (c > e[-1])] = -1
        self.ibin, self.n_ibins = ib, len(e) - 1
        r = real.ravel().astype(np.float64)
        ok = ib >= 0
        cnt = np.bincount(ib[ok], minlength=self.n_ibins).astype(np.float64)
        s1 = np.bincount(ib[ok], r[ok], minlength=self.n_ibins)
        s2 = np.bincount(ib[ok], r[ok] ** 2, minlength=self.n_ibins)
        with np.errstate(invalid="ignore", divide="ignore"):
            sd = np.sqrt(np.maximum(s2 / cnt - (s1 / cnt) ** 2, 0.0))
        self.valid = cnt >= MIN_BIN_COUNT
        sd = np.where(self.valid & (sd > 0), sd, np.nanmax(np.where(sd > 0, sd, np.nan))
                      if np.any(sd > 0) else 1.0)
        self.step = float(step)
        width = np.maximum(COND_WIDTH * sd, self.step)
        if self.step > 0:                    # a whole number of code values per bin
            width = np.ceil(width / self.step - 1e-9) * self.step
        self.width = width


def patch_stats(layout: PatchLayout, noise: np.ndarray, nf_edges: np.ndarray) -> dict:
    """Per-patch sums of one noise image (channel view, like the layout's): ``nf`` (P, B)
    Noise Flow histogram counts, ``cond`` (P, I, COND_BINS + 2) conditional histogram
    counts, ``nlf`` (P, I, 3) count / sum / sum of squares per intensity bin, ``lag``
    (P, C, 2, 3) neighbour products ``sum ab, sum a^2, sum b^2`` (horizontal, vertical)."""
    arr = noise if noise.ndim == 3 else noise[:, :, None]
    n = arr.ravel().astype(np.float64)
    P, I, pid, ib = layout.n_patches, layout.n_ibins, layout.pid, layout.ibin
    nb = len(nf_edges) - 1
    nf_idx = np.clip(np.searchsorted(nf_edges, n, side="right") - 1, 0, nb - 1)
    nf = np.bincount(pid * nb + nf_idx, minlength=P * nb).reshape(P, nb)
    ok = ib >= 0
    K = COND_BINS + 2
    w = layout.width[ib[ok]]
    j = np.floor((n[ok] - layout.step / 2) / w).astype(np.int64) + COND_BINS // 2 + 1
    j = np.clip(j, 0, K - 1)
    cond = np.bincount((pid[ok] * I + ib[ok]) * K + j, minlength=P * I * K).reshape(P, I, K)
    key = pid[ok] * I + ib[ok]
    nlf = np.stack([np.bincount(key, minlength=P * I).astype(np.float64),
                    np.bincount(key, n[ok], minlength=P * I),
                    np.bincount(key, n[ok] ** 2, minlength=P * I)], -1).reshape(P, I, 3)
    lag = np.zeros((P, layout.channels, 2, 3))
    pid2d = layout.pid2d
    cnt2d = np.bincount(pid2d.ravel(), minlength=P)
    for c in range(layout.channels):
        z = arr[:, :, c].astype(np.float64)
        z = z - (np.bincount(pid2d.ravel(), z.ravel(), minlength=P) / cnt2d)[pid2d]
        for k, (a, b, pa, pb) in enumerate(((z[:, :-1], z[:, 1:], pid2d[:, :-1], pid2d[:, 1:]),
                                            (z[:-1], z[1:], pid2d[:-1], pid2d[1:]))):
            same = (pa == pb).ravel()
            p = pa.ravel()[same]
            av, bv = a.ravel()[same], b.ravel()[same]
            lag[:, c, k] = np.stack([np.bincount(p, av * bv, minlength=P),
                                     np.bincount(p, av * av, minlength=P),
                                     np.bincount(p, bv * bv, minlength=P)], -1)
    return {"nf": nf.astype(np.float64), "cond": cond.astype(np.float64), "nlf": nlf,
            "lag": lag}


def _kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL over the last axis of count arrays (normalised here), bins where both are > 0."""
    ps, qs = p.sum(-1, keepdims=True), q.sum(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p, q = p / ps, q / qs
        both = (p > 0) & (q > 0)
        return np.where(both, p * np.log(np.where(both, p / np.where(q > 0, q, 1), 1)),
                        0.0).sum(-1)


def _std(nlf: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        m = nlf[..., 1] / nlf[..., 0]
        return np.sqrt(np.maximum(nlf[..., 2] / nlf[..., 0] - m * m, 0.0))


def _rho(lag: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return lag[..., 0] / np.sqrt(lag[..., 1] * lag[..., 2])


def pair_metrics(weights: np.ndarray, real: dict, synth: dict, valid: np.ndarray) -> dict:
    """The four metrics of one pair for each row of ``weights`` (R, P) patch weights."""
    def agg(stats, k):
        a = stats[k]
        return np.tensordot(weights, a, axes=(1, 0))
    rc, sc = agg(real, "cond"), agg(synth, "cond")          # (R, I, K)
    kl_b = _kl(rc, sc)                                       # (R, I)
    n_b = rc.sum(-1) * valid
    kl_cond = (kl_b * n_b).sum(-1) / np.maximum(n_b.sum(-1), 1)
    rs, ss = _std(agg(real, "nlf")), _std(agg(synth, "nlf"))
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(valid & (rs > 0), (ss - rs) / rs, np.nan)
    nlf_error = np.sqrt(np.nanmean(rel ** 2, axis=-1)) if valid.any() else \
        np.full(len(weights), np.nan)
    lag_err = np.nanmean(np.abs(_rho(agg(synth, "lag")) - _rho(agg(real, "lag"))),
                         axis=(-2, -1))
    return {"kl_cond": kl_cond, "kl": _kl(agg(real, "nf"), agg(synth, "nf")),
            "nlf_error": nlf_error, "lag1_error": lag_err}


def bootstrap(reals: list[dict], synths: list[dict], valids: list[np.ndarray], names: list[str],
              *, replicates: int = BOOTSTRAP, seed: int = 0) -> dict:
    """Point values and bootstrap replicates of every metric, per model.

    ``reals[i]``, ``valids[i]``: pair ``i``'s real patch stats and valid intensity bins;
    ``synths[i][name]``: its synthetic patch stats per model. Returns
    ``{"point": {name: {metric: mean over pairs}}, "per_pair": {name: {metric: [..]}},
    "samples": {name: {metric: (R,) array}}}``.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, name_key("bootstrap")]))
    n = len(reals)
    pick = rng.integers(0, n, (replicates, n))
    mult = np.stack([np.bincount(row, minlength=n) for row in pick])        # (R, n)
    weights = [rng.multinomial(r["nf"].shape[0], np.full(r["nf"].shape[0],
                                                         1.0 / r["nf"].shape[0]), replicates)
               .astype(np.float64) for r in reals]
    point, per_pair, samples = {}, {}, {}
    for name in names:
        full = [pair_metrics(np.ones((1, r["nf"].shape[0])), r, s[name], v)
                for r, s, v in zip(reals, synths, valids)]
        boot = [pair_metrics(w, r, s[name], v)
                for w, r, s, v in zip(weights, reals, synths, valids)]
        per_pair[name] = {m: [float(f[m][0]) for f in full] for m in METRICS}
        point[name] = {m: float(np.nanmean(per_pair[name][m])) for m in METRICS}
        samples[name] = {}
        for m in METRICS:
            vals = np.stack([b[m] for b in boot], 1)                         # (R, n)
            good = np.isfinite(vals)
            samples[name][m] = (np.where(good, vals, 0) * mult).sum(1) / \
                np.maximum((good * mult).sum(1), 1)
    return {"point": point, "per_pair": per_pair, "samples": samples}


def residual_curves(real: dict, synth: dict, valid: np.ndarray, weights: np.ndarray,
                    level: float = LEVEL) -> dict:
    """Model minus real, per pair, with ``level`` intervals over the patch ``weights`` (R, P):
    ``nlf``: relative noise-std error per intensity bin, ``(std_model - std_real) /
    std_real`` (None where the bin is not valid); ``hist``: the conditional histograms
    (noise in units of the real std of its intensity bin, valid bins pooled) as
    probabilities, model minus real, per bin. Each is ``{"point", "lo", "hi"}``."""
    def agg(stats, k, w):
        return np.tensordot(w, stats[k], axes=(1, 0))

    out = {}
    full = np.ones((1, weights.shape[1]))
    for key in ("nlf", "hist"):
        vals = []
        for w in (full, weights):
            if key == "nlf":
                rs, ss = _std(agg(real, "nlf", w)), _std(agg(synth, "nlf", w))
                with np.errstate(invalid="ignore", divide="ignore"):
                    v = np.where(valid & (rs > 0), (ss - rs) / rs, np.nan)
            else:
                rc = (agg(real, "cond", w) * valid[None, :, None]).sum(1)
                sc = (agg(synth, "cond", w) * valid[None, :, None]).sum(1)
                v = sc / np.maximum(sc.sum(-1, keepdims=True), 1) - \
                    rc / np.maximum(rc.sum(-1, keepdims=True), 1)
            vals.append(v)
        point, reps = vals[0][0], vals[1]
        lo, hi = [], []
        for j in range(point.size):
            if np.isfinite(point[j]):
                a, b = interval(reps[:, j], point[j], level)
            else:
                a = b = None
            lo.append(a)
            hi.append(b)
        out[key] = {"point": [None if not np.isfinite(v) else float(v) for v in point],
                    "lo": lo, "hi": hi}
    return out


def interval(samples: np.ndarray, point: float, level: float = LEVEL,
             floor: float | None = None) -> list[float]:
    """``[lo, hi]``: the percentile interval of the replicates, shifted so that their median
    sits on the point value. A KL estimated from a resampled histogram is biased upwards
    (resampling adds count noise), so plain percentiles can lie above the point value.
    ``floor``: the smallest value the metric can take (the shift must not go below it)."""
    a = (1 - level) / 2
    s = np.asarray(samples, np.float64)
    shift = float(point) - float(np.nanmedian(s))
    lo, hi = (float(v) + shift for v in np.nanpercentile(s, [100 * a, 100 * (1 - a)]))
    if floor is not None:
        lo, hi = max(lo, min(floor, float(point))), max(hi, min(floor, float(point)))
    return [lo, hi]


def verdict(boot: dict, names: list[str], *, level: float = LEVEL,
            metrics=METRICS) -> dict:
    """Decide: models still in the running are compared on each metric in turn; a model is
    *clearly worse* when the ``level`` paired-bootstrap interval of its difference to the
    best (lowest point value among those still running) lies above 0. The rest go on to the
    next metric.

    Returns ``{"best", "indistinguishable": [...], "worse": {model: metric}, "decided_by":
    metric or None, "inseparable": [[metric, [models]], ...] (what each metric could not
    separate), "level"}``.
    """
    running, worse, decided_by, inseparable = list(names), {}, None, []
    for m in metrics:
        if len(running) < 2:
            break
        pts = {n: boot["point"][n][m] for n in running}
        if not all(np.isfinite(v) for v in pts.values()):
            continue
        best = min(running, key=lambda n: pts[n])
        keep = [best]
        for n in running:
            if n == best:
                continue
            lo, _ = interval(boot["samples"][n][m] - boot["samples"][best][m],
                             pts[n] - pts[best], level)
            if lo > 0:
                worse[n] = m
                decided_by = m
            else:
                keep.append(n)
        if len(keep) > 1:
            inseparable.append([m, sorted(keep)])
        running = keep
    first = next((m for m in metrics if all(np.isfinite(boot["point"][n][m]) for n in running)),
                 metrics[0])
    running.sort(key=lambda n: boot["point"][n][first])
    return {"best": running[0], "indistinguishable": running[1:], "worse": worse,
            "decided_by": decided_by, "inseparable": inseparable, "level": level}


def verdict_text(v: dict) -> str:
    """One paragraph: best model, the top group, the clearly worse models and why."""
    pct = f"{100 * v['level']:.0f}%"
    s = f"verdict: best {v['best']}"
    if v["indistinguishable"]:
        s += f"; not distinguishable from it at {pct}: {', '.join(v['indistinguishable'])}"
    if v["worse"]:
        by = {}
        for n, m in v["worse"].items():
            by.setdefault(m, []).append(n)
        s += "; clearly worse: " + "; ".join(f"{', '.join(ns)} (by {m})" for m, ns in by.items())
    s += f"; decided by {v['decided_by']}" if v["decided_by"] else "; no metric decided"
    if v["indistinguishable"]:
        s += (f". No metric separates {', '.join([v['best']] + v['indistinguishable'])} "
              "on these pairs")
    return s
