"""Realism metrics of the noise benchmark: marginal KL divergence (Noise Flow protocol),
noise level function (std vs intensity) and lag-1 spatial autocorrelation.

All functions take plain numpy arrays of noise values (``noisy - clean``) in normalised
[0, 1] units and, where intensities matter, the clean image of the same shape.
"""
from __future__ import annotations

import numpy as np

from .._errors import ParameterError

#: Noise Flow (Abdelhamed et al. ICCV 2019, ``sidd_utils.py::kldiv_patch_set``): bin width
#: 0.2/64 over [-0.1, 0.1], plus one overflow bin on each side.
NOISEFLOW_BIN_WIDTH = 0.2 / 64
NOISEFLOW_RANGE = (-0.1, 0.1)
#: Default intensity bins (of the clean value) for per-bin KL and the noise level function;
#: the benchmark uses :func:`intensity_edges` to fit them to the data.
INTENSITY_EDGES = np.linspace(0.0, 1.0, 9)
#: A bin with fewer samples than this is left out of per-bin statistics (its KL and std
#: would be dominated by sampling noise: the std of a sample std is ~ std / sqrt(2 n)).
MIN_BIN_COUNT = 400


def noiseflow_bin_edges(bin_width: float = NOISEFLOW_BIN_WIDTH,
                        value_range: tuple[float, float] = NOISEFLOW_RANGE) -> np.ndarray:
    """Histogram edges of the Noise Flow KL: ``value_range`` in steps of ``bin_width``,
    plus the overflow bins ``(-1000, lo)`` and ``(hi, 1000)``.

    Examples
    --------
    >>> e = noiseflow_bin_edges()
    >>> len(e) - 1, float(e[1]), float(e[-2])
    (66, -0.1, 0.1)
    """
    lo, hi = (float(v) for v in value_range)
    if not (np.isfinite(bin_width) and bin_width > 0 and hi > lo):
        raise ParameterError(f"noiseflow_bin_edges: bin_width = {bin_width!r}, value_range = "
                             f"{value_range!r}: expected bin_width > 0 and low < high")
    n = int(round((hi - lo) / bin_width))
    inner = lo + bin_width * np.arange(n + 1)
    return np.concatenate([[-1000.0], inner, [1000.0]])


def noise_histogram(noise: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Normalised histogram (probabilities summing to 1) of ``noise`` over ``edges``."""
    counts = np.histogram(np.asarray(noise, np.float64).ravel(), bins=edges)[0]
    total = counts.sum()
    return counts / total if total else counts.astype(np.float64)


def kl_from_histograms(p: np.ndarray, q: np.ndarray) -> float:
    """Forward ``KL(p || q) = sum p ln(p / q)`` over the bins where both are > 0 (Noise Flow)."""
    both = (p > 0) & (q > 0)
    return float(np.sum(p[both] * np.log(p[both] / q[both])))


def marginal_kl(noise_real: np.ndarray, noise_synth: np.ndarray, *,
                bin_width: float = NOISEFLOW_BIN_WIDTH,
                value_range: tuple[float, float] = NOISEFLOW_RANGE) -> float:
    """Marginal KL divergence between real and synthetic noise (Noise Flow protocol).

    Parameters
    ----------
    noise_real, noise_synth : ndarray
        Noise values ``noisy - clean`` in normalised [0, 1] units (any shape; flattened).
    bin_width, value_range
        Histogram bins: width 0.2/64 over [-0.1, 0.1] plus two overflow bins (Noise Flow).

    Returns
    -------
    float
        ``KL(p_real || q_synth) = sum_b p_b ln(p_b / q_b)`` over the bins where both
        histograms are non-zero (as Noise Flow does; so it can be slightly negative, and it
        is exactly 0 for identical histograms).

    Raises
    ------
    ParameterError
        Empty input or bad bins.

    Notes
    -----
    Abdelhamed, Brubaker, Brown, "Noise Flow", ICCV 2019, ``sidd_utils.kldiv_patch_set``;
    published marginal KL on SIDD raw: Gaussian 0.394, camera NLF 0.052, Noise Flow 0.008.

    Examples
    --------
    >>> n = np.random.default_rng(0).normal(0, 0.01, 10000)
    >>> marginal_kl(n, n)
    0.0
    """
    real = np.asarray(noise_real)
    synth = np.asarray(noise_synth)
    if real.size == 0 or synth.size == 0:
        raise ParameterError("marginal_kl: empty noise array")
    edges = noiseflow_bin_edges(bin_width, value_range)
    return kl_from_histograms(noise_histogram(real, edges), noise_histogram(synth, edges))


def kl_per_intensity(noise_real: np.ndarray, noise_synth: np.ndarray, clean: np.ndarray,
                     edges: np.ndarray = INTENSITY_EDGES,
                     min_count: int = MIN_BIN_COUNT) -> list[float | None]:
    """Marginal KL within each clean-intensity bin ``[edges[i], edges[i+1])`` (None where
    the bin has fewer than ``min_count`` pixels). The last bin includes 1.0."""
    real = np.asarray(noise_real).ravel()
    synth = np.asarray(noise_synth).ravel()
    idx = _bin_index(np.asarray(clean).ravel(), edges)
    out: list[float | None] = []
    for b in range(len(edges) - 1):
        sel = idx == b
        out.append(marginal_kl(real[sel], synth[sel]) if sel.sum() >= min_count else None)
    return out


def intensity_edges(cleans, n_bins: int = 8) -> np.ndarray:
    """``n_bins`` equal-width clean-intensity bins covering the data: from the 0.1th to the
    99.9th percentile of all clean values (pooled over ``cleans``), widened outwards to a
    multiple of 0.005 and kept inside [0, 1]. Bright data get ~[0, 1]; low-light data get
    their own range instead of one bin.

    Examples
    --------
    >>> intensity_edges([np.linspace(0.0, 0.04, 1000)], 4).tolist()
    [0.0, 0.01, 0.02, 0.03, 0.04]
    """
    vals = np.concatenate([np.asarray(c, np.float64).ravel()[::7] for c in cleans])
    lo, hi = np.percentile(np.clip(vals, 0.0, 1.0), [0.1, 99.9])
    lo, hi = np.floor(lo * 200) / 200, np.ceil(hi * 200) / 200
    if hi <= lo:
        hi = min(lo + 0.005, 1.0)
        lo = hi - 0.005
    return np.linspace(lo, hi, n_bins + 1)


def _bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    idx = np.searchsorted(edges, values, side="right") - 1
    idx[values == edges[-1]] = len(edges) - 2
    idx[(values < edges[0]) | (values > edges[-1])] = -1
    return idx


def noise_level_function(clean: np.ndarray, noise: np.ndarray, edges: np.ndarray = INTENSITY_EDGES,
                         min_count: int = MIN_BIN_COUNT) -> dict:
    """Binned noise level function: noise std against clean intensity.

    Returns
    -------
    dict
        ``intensity`` (mean clean value per bin), ``std`` (noise std), ``mean`` (noise
        mean) and ``count``, one entry per bin of ``edges``; bins with fewer than
        ``min_count`` pixels have ``None`` for intensity/std/mean.

    Examples
    --------
    >>> x = np.repeat(np.linspace(0, 1, 8, dtype=np.float32), 1000)
    >>> nlf = noise_level_function(x, np.zeros_like(x))
    >>> nlf['std'][:2]
    [0.0, 0.0]
    """
    x = np.asarray(clean, np.float64).ravel()
    n = np.asarray(noise, np.float64).ravel()
    idx = _bin_index(x, edges)
    out = {"intensity": [], "std": [], "mean": [], "count": []}
    for b in range(len(edges) - 1):
        sel = idx == b
        cnt = int(sel.sum())
        out["count"].append(cnt)
        ok = cnt >= min_count
        out["intensity"].append(float(x[sel].mean()) if ok else None)
        out["std"].append(float(n[sel].std()) if ok else None)
        out["mean"].append(float(n[sel].mean()) if ok else None)
    return out


def nlf_error(nlf_real: dict, nlf_model: dict) -> float | None:
    """Relative RMS error of the model's noise level function:
    ``sqrt(mean_b ((std_model_b - std_real_b) / std_real_b)^2)`` over bins present in both
    (None if there are none)."""
    errs = [(m - r) / r for r, m in zip(nlf_real["std"], nlf_model["std"])
            if r is not None and m is not None and r > 0]
    return float(np.sqrt(np.mean(np.square(errs)))) if errs else None


def lag1_autocorrelation(noise: np.ndarray) -> np.ndarray:
    """Lag-1 spatial autocorrelation of each channel, horizontally and vertically.

    Parameters
    ----------
    noise : ndarray, (H, W) or (H, W, C)
        Noise values. For a Bayer mosaic pass the packed planes ``(H/2, W/2, 4)`` so that
        lag 1 means the next photosite of the same colour.

    Returns
    -------
    ndarray, float64, (C, 2)
        ``[rho_horizontal, rho_vertical]`` per channel, with
        ``rho = sum(a b) / sqrt(sum(a^2) sum(b^2))`` over neighbouring pairs after removing
        the channel mean (0 for white noise; NaN for a constant channel).

    Examples
    --------
    >>> n = np.random.default_rng(0).normal(size=(200, 200, 1))
    >>> bool(abs(lag1_autocorrelation(n)).max() < 0.03)
    True
    """
    arr = np.asarray(noise, np.float64)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    out = np.full((arr.shape[2], 2), np.nan)
    for c in range(arr.shape[2]):
        z = arr[:, :, c] - arr[:, :, c].mean()
        for k, (a, b) in enumerate(((z[:, :-1], z[:, 1:]), (z[:-1], z[1:]))):
            den = np.sqrt(np.sum(a * a) * np.sum(b * b))
            if den > 0:
                out[c, k] = np.sum(a * b) / den
    return out
