"""Noise-level-function fitting for the noise benchmark (photon-transfer style).

Method (documented in docs/noisebench.md):

1. **Binning.** Pixels are grouped by their clean value into ``n_bins`` equal-width
   intensity bins spanning the data (0.1th to 99.9th percentile of the clean values in
   [0, 1], so dark low-light data get as many bins as bright data); per bin we keep the mean clean value ``x_i``, the sample
   variance ``v_i`` of the noise ``noisy - clean`` and the count ``n_i`` (bins with fewer
   than ``min_count`` pixels are dropped).
2. **Weighted least squares on the variances.** A model predicts a variance ``m_i(theta)``
   per bin. For Gaussian noise the sample variance has ``Var[v_i] = 2 m_i^2 / (n_i - 1)``, so
   the standardised residuals ``r_i = sqrt((n_i - 1) / 2) (v_i - m_i) / m_i`` are ~N(0, 1)
   under the model; ``theta`` minimises ``sum r_i^2`` (``scipy.optimize.least_squares``, with
   bounds), which is the photon-transfer line fit with the weights of Foi et al. 2008
   (estimator variance proportional to ``sigma^2 / (n_i - 1)``, squared). Standard errors come
   from ``(J^T J)^-1``.
3. **Clipping awareness (Foi et al. 2008, cheap form).** Near 0 and 1 the observations are
   clipped, so the observed variance is that of a clipped normal,
   ``Var[clip(x + sigma xi, 0, 1)]`` (closed form in the normal pdf / cdf); with
   ``clip_aware=True`` the model variance ``m_i`` is that closed form, so bins next to black
   or white are used instead of biasing the fit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .._errors import InputError

#: Default number of intensity bins of the fit (finer than the 8 reporting bins).
FIT_BINS = 32
MIN_FIT_COUNT = 100


@dataclass(frozen=True)
class BinnedVariance:
    """Per-intensity-bin noise variance: ``x`` mean clean value, ``var`` sample variance of
    the noise, ``count`` pixels (all float64 arrays of the kept bins)."""
    x: np.ndarray
    var: np.ndarray
    count: np.ndarray


@dataclass(frozen=True)
class VarianceFit:
    """Result of :func:`fit_variance_model`: parameters, standard errors, reduced chi^2."""
    params: np.ndarray
    stderr: np.ndarray
    chi2: float
    bins: int


def binned_variance(clean: np.ndarray, noise: np.ndarray, n_bins: int = FIT_BINS,
                    min_count: int = MIN_FIT_COUNT, mask: np.ndarray | None = None
                    ) -> BinnedVariance:
    """Bin ``noise`` by ``clean`` intensity: ``n_bins`` equal-width bins between the
    0.1th and 99.9th percentiles of the clean values in [0, 1].

    Raises
    ------
    InputError
        Fewer than 2 bins have ``min_count`` pixels (nothing to fit a line to).
    """
    x = np.asarray(clean, np.float64).ravel()
    n = np.asarray(noise, np.float64).ravel()
    if mask is not None:
        keep = np.asarray(mask, bool).ravel()
        x, n = x[keep], n[keep]
    inside = (x >= 0) & (x <= 1)
    x, n = x[inside], n[inside]
    lo, hi = np.percentile(x, [0.1, 99.9]) if x.size else (0.0, 0.0)
    width = max(hi - lo, 1e-6) / n_bins
    idx = np.clip(((x - lo) / width).astype(np.int64), 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins).astype(np.float64)
    sx = np.bincount(idx, x, minlength=n_bins)
    sn = np.bincount(idx, n, minlength=n_bins)
    snn = np.bincount(idx, n * n, minlength=n_bins)
    ok = count >= max(min_count, 2)
    if ok.sum() < 2:
        raise InputError(f"noise fit: only {int(ok.sum())} intensity bin(s) have at least "
                         f"{min_count} pixels; need 2 or more (image too small or too flat)")
    c = count[ok]
    mean = sn[ok] / c
    var = (snn[ok] - c * mean * mean) / (c - 1)
    return BinnedVariance(sx[ok] / c, np.maximum(var, 0.0), c)


def _norm_pdf(z):
    return np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def _norm_cdf(z):
    from scipy.special import ndtr

    return ndtr(z)


def clipped_normal_variance(mu: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Variance of ``clip(X, 0, 1)`` for ``X ~ N(mu, var)`` (closed form).

    With ``a = -mu / s``, ``b = (1 - mu) / s``, ``P = Phi(b) - Phi(a)``::

        E[Y]   = mu P + s (phi(a) - phi(b)) + (1 - Phi(b))
        E[Y^2] = (mu^2 + s^2) P + s (mu phi(a) - (1 + mu) phi(b)) + (1 - Phi(b))

    Examples
    --------
    >>> float(clipped_normal_variance(np.array(0.5), np.array(1e-4)))
    0.0001
    """
    mu = np.asarray(mu, np.float64)
    var = np.maximum(np.asarray(var, np.float64), 1e-300)
    s = np.sqrt(var)
    a, b = -mu / s, (1.0 - mu) / s
    pa, pb = _norm_pdf(a), _norm_pdf(b)
    ca, cb = _norm_cdf(a), _norm_cdf(b)
    inside = cb - ca
    m1 = mu * inside + s * (pa - pb) + (1.0 - cb)
    m2 = (mu * mu + var) * inside + s * (mu * pa - (1.0 + mu) * pb) + (1.0 - cb)
    out = m2 - m1 * m1
    # far from both ends the closed form only adds rounding error: use var itself
    far = (a < -8) & (b > 8)
    return np.where(far, var, np.maximum(out, 0.0))


def fit_variance_model(binned: BinnedVariance, variance: Callable[[np.ndarray, np.ndarray],
                                                                  np.ndarray],
                       theta0, lower, upper, *, clip_aware: bool = True) -> VarianceFit:
    """Fit ``theta`` of a noise-variance model ``variance(x, theta) -> var`` to binned data.

    See the module docstring for the residuals, the weights and the clipping model.

    Returns
    -------
    VarianceFit
        ``params``, ``stderr`` (from ``(J^T J)^-1``), ``chi2`` (reduced chi^2: about 1 when
        the model and the Gaussian variance-of-variance hold) and the number of bins.
    """
    from scipy.optimize import least_squares

    weight = np.sqrt((binned.count - 1.0) / 2.0)

    def model(theta):
        m = variance(binned.x, theta)
        if clip_aware:
            m = clipped_normal_variance(binned.x, m)
        return np.maximum(m, 1e-30)

    def residuals(theta):
        m = model(theta)
        return weight * (binned.var - m) / m

    theta0 = np.clip(np.asarray(theta0, np.float64), lower, upper)
    res = least_squares(residuals, theta0, bounds=(lower, upper), x_scale="jac",
                        method="trf")
    dof = max(len(binned.x) - len(theta0), 1)
    try:
        cov = np.linalg.inv(res.jac.T @ res.jac)
        stderr = np.sqrt(np.maximum(np.diag(cov), 0.0))
    except np.linalg.LinAlgError:
        stderr = np.full(len(theta0), np.nan)
    return VarianceFit(res.x, stderr, float(np.sum(res.fun ** 2) / dof), len(binned.x))


def line_start(binned: BinnedVariance) -> tuple[float, float]:
    """Starting point ``(shot, read_var)`` for the line ``var = shot x + read_var``: an
    ordinary least-squares line through the unclipped-looking middle bins, kept positive."""
    mid = (binned.x > 0.05) & (binned.x < 0.95)
    x, v = (binned.x[mid], binned.var[mid]) if mid.sum() >= 2 else (binned.x, binned.var)
    slope, icpt = np.polyfit(x, v, 1) if len(x) >= 2 else (0.0, float(v.mean()))
    floor = max(float(np.median(binned.var)) * 1e-3, 1e-12)
    return max(float(slope), floor), max(float(icpt), floor)


def fit_line(binned: BinnedVariance, *, clip_aware: bool = True) -> VarianceFit:
    """Photon-transfer line ``var(x) = shot x + read_var`` (params ``[shot, read_var]``),
    both >= 0 (Foi et al. 2008's ``a``, ``b``)."""
    return fit_variance_model(binned, lambda x, t: t[0] * x + t[1], line_start(binned),
                              [0.0, 0.0], [np.inf, np.inf], clip_aware=clip_aware)


def fit_constant(binned: BinnedVariance, *, clip_aware: bool = True) -> VarianceFit:
    """Homoscedastic ``var(x) = s^2`` (params ``[s^2]``)."""
    start = [max(float(np.median(binned.var)), 1e-12)]
    return fit_variance_model(binned, lambda x, t: np.full_like(x, t[0]), start, [0.0],
                              [np.inf], clip_aware=clip_aware)


def fit_log_scalar(binned: BinnedVariance, variance_at: Callable[[np.ndarray, float], np.ndarray],
                   log_range: tuple[float, float], *, clip_aware: bool = True) -> VarianceFit:
    """One-parameter family ``var(x) = variance_at(x, exp(t))`` fitted in ``t = ln(theta)``
    within ``log_range``; starts from the best of a coarse grid (the family may be far from
    linear in ``t``). ``params`` / ``stderr`` are in ``t`` (natural log)."""
    lo, hi = log_range
    grid = np.linspace(lo, hi, 41)

    def cost(t):
        m = variance_at(binned.x, math.exp(t))
        if clip_aware:
            m = clipped_normal_variance(binned.x, m)
        m = np.maximum(m, 1e-30)
        return float(np.sum((binned.count - 1) / 2 * ((binned.var - m) / m) ** 2))

    start = grid[int(np.argmin([cost(t) for t in grid]))]
    return fit_variance_model(binned, lambda x, t: variance_at(x, math.exp(t[0])), [start],
                              [lo], [hi], clip_aware=clip_aware)
