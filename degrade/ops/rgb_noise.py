"""RGB noise ops of the Real-ESRGAN / BSRGAN chains: Poisson with a scale, speckle and
channel-correlated Gaussian noise.

Plain additive Gaussian noise is :func:`degrade.ops.noise.gaussian_noise`. BSRGAN's
camera-sensor (reverse/forward ISP) noise is not an op: a recipe composes it from the RAW
track (``unprocess_brooks2019 -> poisson_gaussian_noise -> process_brooks2019``), see
docs/rgb_pipelines.md.
"""
from __future__ import annotations

import functools
import math
from typing import Literal

import numpy as np

from .._errors import ParameterError
from .._quantise import quantise
from .._registry import RGB_DOMAINS, Range, register_op, register_sampler
from .._validate import as_image, check_choice, check_scalar, require_rng
from .noise import SIGMA_UNITS

#: luma weights: torchvision ``rgb_to_grayscale`` (Real-ESRGAN's torch chain) and BT.601
#: (``cv2.cvtColor``, BSRGAN).
LUMA = {"torchvision": (0.2989, 0.587, 0.114), "bt601": (0.299, 0.587, 0.114)}


def quantise_8bit(x: np.ndarray) -> np.ndarray:
    """``clip(round(x·255), 0, 255) / 255`` in float32 (round half to even, like torch)."""
    return quantise(x, "uint8", "half_even") / np.float32(255.0)


def levels_for(q: np.ndarray) -> float:
    """Real-ESRGAN's Poisson level count ``2^ceil(log2(#unique values of q))``.

    ``q`` holds multiples of 1/255, so the distinct values are counted with a 256-bin
    histogram of the 8-bit codes (all channels together).
    """
    codes = np.rint(q * 255.0).astype(np.int64).ravel()
    unique = int(np.count_nonzero(np.bincount(codes, minlength=256)))
    return float(2.0 ** np.ceil(np.log2(unique)))


@functools.lru_cache(maxsize=16)
def poisson_tables(levels: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse-CDF tables of ``Poisson(k/255 · levels)`` for the 256 codes k.

    Returns ``(lo, cdf, guide)``: row k of ``cdf`` holds ``P(X <= lo[k] + j)``
    (``scipy.special.pdtr``) over a window of ``24√levels + 40`` counts starting 12 standard
    deviations (+10) below the mean, last column set to 1 (the mass outside the window is
    below 1e-30); ``guide[k, m]`` is the smallest j with ``cdf[k, j] > m/M`` (a guide table,
    so a draw scans one or two entries). Cached per level.
    """
    from scipy.special import pdtr

    lam = np.arange(256) / 255.0 * levels
    width = int(math.ceil(24.0 * math.sqrt(levels) + 40.0))
    lo = np.maximum(0.0, np.floor(lam - 12.0 * np.sqrt(lam) - 10.0)).astype(np.int64)
    cdf = pdtr(lo[:, None] + np.arange(width)[None, :], lam[:, None])
    cdf[:, -1] = 1.0
    marks = np.arange(width) / width
    guide = np.stack([np.searchsorted(row, marks, side="right") for row in cdf]).astype(np.int32)
    for table in (lo, cdf, guide):
        table.setflags(write=False)
    return lo, np.ascontiguousarray(cdf), np.ascontiguousarray(guide)


@register_op("poisson_noise", domain_in=RGB_DOMAINS, random=True,
             limits={"scale": Range(0), "levels": Range(0, low_open=True)})
def poisson_noise(image: np.ndarray, scale: float = 1.0, gray: bool = False,
                  levels: float | None = None, luma: Literal["torchvision", "bt601"] = "torchvision",
                  base: Literal["input", "quantized"] = "input", clip: bool = True,
                  *, rng=None) -> np.ndarray:
    """Add Poisson (shot) noise computed on the 8-bit-rounded image, times ``scale``.

    Parameters
    ----------
    image : ndarray, float32, (H, W, C), values in [0, 1]
    scale : float >= 0
        Multiplies the noise (Real-ESRGAN ``poisson_scale_range`` [0.05, 3]).
    gray : bool
        One noise map from the luma, added to every channel.
    levels : float > 0, optional
        Photon count of a full-scale pixel. None: Real-ESRGAN's rule
        ``2^ceil(log2(#unique 8-bit values))`` (usually 256), counted on the rounded image
        (or on the rounded luma when gray). BSRGAN draws ``10^(2U+2)``.
    luma : {'torchvision', 'bt601'}
        Gray weights: 0.2989/0.587/0.114 (torchvision, Real-ESRGAN) or 0.299/0.587/0.114.
    base : {'input', 'quantized'}
        What the noise is added to: the unrounded input (Real-ESRGAN) or its 8-bit rounding
        (BSRGAN, which replaces the image by ``poisson(q·L)/L``).
    clip : bool
        Clip the result to [0, 1].
    rng : numpy.random.Generator
        Required.

    Returns
    -------
    ndarray, float32, same shape.

    Notes
    -----
    ``q = clip(round(255·x), 0, 255)/255`` (gray: ``q = round8(luma(b))`` with ``b`` the
    base), ``n = Poisson(q·L)/L - q``, ``y = b + scale·n``. Draws, once per element of
    ``q`` in C order: with ``levels=None`` (L a power of two <= 256) an exact inverse-CDF
    draw from one ``rng.random()`` and a cached table (:func:`poisson_tables`; several times
    faster than numpy's sampler); with an explicit ``levels``, ``rng.poisson(q·L)``. Reference: basicsr 1.4.2 ``generate_poisson_noise_pt``
    (Wang et al., Real-ESRGAN, ICCVW 2021); cszn/BSRGAN ``add_Poisson_noise``.

    Examples
    --------
    >>> x = np.full((8, 8, 3), 0.5, np.float32)
    >>> poisson_noise(x, 0.5, rng=np.random.default_rng(0)).shape
    (8, 8, 3)
    """
    from .._nb.rgb_noise import _poisson_noise_kernel

    op = "poisson_noise"
    img = as_image(image, op=op, channels=None)
    s = check_scalar("scale", scale, op=op, low=0)
    weights = LUMA[check_choice("luma", luma, tuple(LUMA), op=op)]
    check_choice("base", base, ("input", "quantized"), op=op)
    rng = require_rng(rng, op)
    b = quantise_8bit(img) if base == "quantized" else img
    if gray:
        if img.shape[2] != 3:
            raise ParameterError(f"{op}: gray=True needs 3 channels, got {img.shape[2]}")
        lum = b[..., 0] * weights[0] + b[..., 1] * weights[1] + b[..., 2] * weights[2]
        q = quantise_8bit(lum.astype(np.float32))[..., None]
    else:
        q = quantise_8bit(img)
    if levels is None:
        L = levels_for(q)
        lo, cdf, guide = poisson_tables(L)
        counts = np.zeros((1, 1, 1))
    else:
        L = check_scalar("levels", levels, op=op, low=0, low_open=True)
        lo, cdf, guide = np.zeros(1, np.int64), np.ones((1, 1)), np.zeros((1, 1), np.int32)
        counts = rng.poisson(q.astype(np.float64) * L).astype(np.float64)
    out = np.empty_like(img)
    _poisson_noise_kernel(img, np.ascontiguousarray(q, dtype=np.float32), counts, lo, cdf, guide,
                          levels is None, L, s, bool(gray), base == "quantized", bool(clip),
                          rng, out)
    return out


def _mixed_noise(img, mix, gray, multiplicative, clip, rng, op):
    from .._nb.rgb_noise import _mixed_gaussian_noise_kernel

    out = np.empty_like(img)
    _mixed_gaussian_noise_kernel(img, np.ascontiguousarray(mix, dtype=np.float64), bool(gray),
                                 bool(multiplicative), bool(clip), require_rng(rng, op), out)
    return out


@register_op("speckle_noise", domain_in=RGB_DOMAINS, random=True, limits={"sigma": Range(0)})
def speckle_noise(image: np.ndarray, sigma: float, gray: bool = False,
                  sigma_units: Literal["unit", "8bit"] = "unit", clip: bool = True,
                  *, rng=None) -> np.ndarray:
    """Multiplicative Gaussian (speckle) noise: ``y = x + x·σ·n`` on the clipped image.

    Parameters
    ----------
    image : ndarray, float32, (H, W, C), values in [0, 1] (clipped first, as BSRGAN does)
    sigma : float >= 0
        Standard deviation of ``n``, in [0, 1] units or 8-bit levels (``sigma_units``).
    gray : bool
        One ``n`` per pixel for all channels.
    clip : bool
        Clip the result to [0, 1].
    rng : numpy.random.Generator
        Required; draws ``rng.standard_normal`` per pixel (gray) or per element, C order.

    Returns
    -------
    ndarray, float32, same shape.

    Notes
    -----
    ``x = clip(x, 0, 1)``; ``y = x + x·(σ/u)·n``, ``n ~ N(0, 1)``. BSRGAN's third branch
    (channel-correlated speckle) is :func:`correlated_noise` with ``multiplicative=True``.
    Reference: cszn/BSRGAN ``add_speckle_noise`` (BSRGAN+ degradation).

    Examples
    --------
    >>> x = np.full((8, 8, 3), 0.5, np.float32)
    >>> speckle_noise(x, 10, sigma_units="8bit", rng=np.random.default_rng(0)).shape
    (8, 8, 3)
    """
    op = "speckle_noise"
    img = np.clip(as_image(image, op=op, channels=None), 0.0, 1.0)
    units = SIGMA_UNITS[check_choice("sigma_units", sigma_units, tuple(SIGMA_UNITS), op=op)]
    s = check_scalar("sigma", sigma, op=op, low=0) / units
    c = img.shape[2]
    mix = np.full((1, 1), s) if gray else s * np.eye(c)
    return _mixed_noise(img, mix, gray, True, clip, rng, op)


def covariance_factor(cov: np.ndarray) -> np.ndarray:
    """``F`` with ``n = z @ F`` for ``z ~ N(0, I)``: numpy ``Generator.multivariate_normal``'s
    SVD factor ``(u·√s)ᵀ`` (so a non-PSD ``cov`` behaves exactly as numpy makes it)."""
    u, s, _ = np.linalg.svd(cov)
    return (u * np.sqrt(s)).T


@register_op("correlated_noise", domain_in=RGB_DOMAINS, random=True)
def correlated_noise(image: np.ndarray, cov: list[list[float]], multiplicative: bool = False,
                     clip: bool = True, *, rng=None) -> np.ndarray:
    """Gaussian noise correlated across channels with covariance ``cov`` (BSRGAN).

    Parameters
    ----------
    image : ndarray, float32, (H, W, C), values in [0, 1]
    cov : (C, C) nested list of float
        Covariance in [0, 1]² units (BSRGAN: ``|L²·UᵀDU|``, see the ``bsrgan_noise_covariance``
        sampler). Used as numpy's ``multivariate_normal`` uses it (SVD factor), so a
        non-positive-semidefinite matrix (BSRGAN's element-wise abs can make one) is
        accepted the same way.
    multiplicative : bool
        Speckle form ``y = x + x·n`` (on the clipped image) instead of ``y = x + n``.
    clip : bool
        Clip the result to [0, 1].
    rng : numpy.random.Generator
        Required.

    Returns
    -------
    ndarray, float32, same shape.

    Notes
    -----
    ``n = z @ F``, ``z = rng.standard_normal((H, W, C))``, ``F = (u √s)ᵀ`` from
    ``svd(cov)`` — bit-for-bit the draw of ``rng.multivariate_normal(0, cov, (H, W))``.
    Reference: cszn/BSRGAN ``add_Gaussian_noise`` / ``add_speckle_noise`` (20 % branch).

    Examples
    --------
    >>> x = np.full((8, 8, 3), 0.5, np.float32)
    >>> cov = [[1e-3, 5e-4, 0], [5e-4, 1e-3, 0], [0, 0, 1e-3]]
    >>> correlated_noise(x, cov, rng=np.random.default_rng(0)).shape
    (8, 8, 3)
    """
    op = "correlated_noise"
    img = as_image(image, op=op, channels=None)
    c = img.shape[2]
    try:
        m = np.asarray(cov, dtype=np.float64)
    except (TypeError, ValueError):
        m = None
    if m is None or m.shape != (c, c) or not np.isfinite(m).all():
        raise ParameterError(f"{op}: parameter 'cov' = {cov!r}: expected a finite {c}x{c} matrix")
    if multiplicative:
        img = np.clip(img, 0.0, 1.0)
    return _mixed_noise(img, covariance_factor(m), False, multiplicative, clip, rng, op)


@register_sampler("bsrgan_noise_covariance", ops=["correlated_noise"])
def bsrgan_noise_covariance(rng: np.random.Generator, level: float = 25.0) -> dict:
    """BSRGAN's random channel covariance ``|L²·UᵀDU|``, ``L = level/255``.

    ``D = diag(U(0,1)³)``, ``U = orth(U(0,1)^{3x3})`` (``scipy.linalg.orth``), then an
    element-wise absolute value (as in the original; the result may not be PSD). BSRGAN
    uses ``level = 25`` whatever noise level it drew for the other branches.

    Parameters
    ----------
    rng : numpy.random.Generator
    level : float
        Noise level L in 8-bit units (BSRGAN: 25).

    Returns
    -------
    dict
        ``{"cov": 3x3 nested list}``.

    Examples
    --------
    >>> len(bsrgan_noise_covariance(np.random.default_rng(0))["cov"])
    3
    """
    from scipy.linalg import orth

    lv = check_scalar("level", level, op="bsrgan_noise_covariance", low=0)
    d = np.diag(rng.random(3))
    u = orth(rng.random((3, 3)))
    cov = np.abs((lv / 255.0) ** 2 * (u.T @ d @ u))
    return {"cov": cov.tolist()}
