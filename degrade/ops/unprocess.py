"""Brooks et al. 2019 unprocessing (sRGB -> camera RAW mosaic), fused, and its forward ISP.

T. Brooks, B. Mildenhall, T. Xue, J. Chen, D. Sharlet, J. T. Barron, "Unprocessing Images
for Learned Raw Denoising", CVPR 2019 (google-research ``unprocessing/unprocess.py``,
``process.py``). Same formulas as the op-by-op chain ``inverse_smoothstep -> gamma_expand
-> remove_ccm -> remove_wb_gains -> mosaic``; see docs/raw_isp.md for what differs.
"""
from __future__ import annotations

import functools
from typing import Literal

import numpy as np

from .._cfa import as_mosaic, cell_channels, check_pattern
from .._registry import register_op, register_sampler
from .._validate import as_image
from .bayer import demosaic
from .color import (apply_ccm, apply_wb_gains, brooks2019_ccm, brooks2019_wb_gains, gain_vector,
                    rgb_to_camera_matrix)
from .tone import gamma_compress, smoothstep

#: Table intervals (see ``_expand_lut``).
LUT_SIZE = 1 << 16
#: Stated agreement of the fused op with the op-by-op chain (absolute, normalised units).
FUSED_TOLERANCE = 2e-6


@functools.lru_cache(maxsize=1)
def _expand_lut() -> np.ndarray:
    """``f(x) = max(inverse_smoothstep(x), 1e-8) ** 2.2`` tabulated for the fused kernel.

    float32, ``LUT_SIZE + 1`` entries uniform in ``u`` on [0, 2s], ``s = sqrt(1/2)``, where
    ``x = u^2`` for ``u <= s`` and ``x = 1 - (2s - u)^2`` above (see ``_expand_row_lut``).
    Near 0, ``f ~ (x/3)^1.1`` and near 1 ``f ~ 1 - 2.2 sqrt((1 - x)/3)``: both smooth in
    ``u``, so linear interpolation with ``h = 2.2e-5`` errs by < 1e-9; float32 storage and
    the float32 ``u`` near x = 1 dominate: measured max error 2.8e-7 over [0, 1]
    (tests/test_unprocess.py sweeps it).
    """
    from .._nb.isp import INVERSE_SMOOTHSTEP, POWER, _transfer_kernel

    s = np.sqrt(0.5)
    u = np.arange(LUT_SIZE + 1, dtype=np.float64) * (2.0 * s / LUT_SIZE)
    x = np.where(u <= s, u * u, 1.0 - (2.0 * s - u) ** 2)
    tone = np.empty_like(x)
    lut = np.empty_like(x)
    _transfer_kernel(x, INVERSE_SMOOTHSTEP, 0.0, tone)
    _transfer_kernel(tone, POWER, 2.2, lut)
    return lut.astype(np.float32)


@register_op("unprocess_brooks2019", domain_in="srgb", domain_out="raw",
             meta_out=("pattern", "ccm", "rgb_gain", "red_gain", "blue_gain"))
def unprocess_brooks2019(image: np.ndarray, ccm: list[list[float]], rgb_gain: float,
                         red_gain: float, blue_gain: float,
                         pattern: Literal["RGGB", "BGGR", "GRBG", "GBRG"] = "RGGB", *,
                         rng=None) -> np.ndarray:
    """Unprocess an sRGB image into a camera RAW Bayer mosaic in one pass (Brooks 2019).

    Parameters
    ----------
    image : ndarray, float32, (H, W, 3), sRGB in [0, 1]
    ccm : 3x3 nested list
        XYZ -> camera matrix (``brooks2019_ccm`` sampler, or a real camera's).
    rgb_gain, red_gain, blue_gain : float > 0
        Gains to remove (``brooks2019_wb_gains`` sampler).
    pattern : {'RGGB', 'BGGR', 'GRBG', 'GBRG'}
        CFA of the output. All five parameters go into the sample metadata, where
        ``process_brooks2019``, ``apply_wb_gains``, ``apply_ccm`` and the noise ops find them.

    Returns
    -------
    ndarray, float32, (H, W) mosaic in [0, 1].

    Raises
    ------
    ParameterError
        Bad image, matrix, gain or pattern.

    Notes
    -----
    Per pixel: ``v = max(inverse_smoothstep(x), 1e-8)^2.2``; ``c = normalize_rows(ccm @
    RGB2XYZ) v``; ``g = [1/red_gain, 1, 1/blue_gain] / rgb_gain`` with highlight protection
    (``gray = mean(c)``, ``mask = (max(gray - 0.9, 0)/0.1)^2``,
    ``g_safe = max(mask + (1 - mask) g, g)``); ``y = clip(c g_safe, 0, 1)`` sampled by the
    CFA. The tone + gamma step interpolates a table in a variable built from
    ``sqrt(min(x, 1 - x))`` (the curve is smooth in it at both ends; see ``_expand_lut``),
    so the result equals the op-by-op chain to ``FUSED_TOLERANCE`` (2e-6).

    Examples
    --------
    >>> p = brooks2019_unprocess(np.random.default_rng(0))
    >>> unprocess_brooks2019(np.full((4, 4, 3), 0.5, np.float32), **p).shape
    (4, 4)
    """
    from .._nb.isp import _unprocess_brooks2019_kernel

    op = "unprocess_brooks2019"
    cell = cell_channels(check_pattern(pattern, op=op))
    rgb2cam = rgb_to_camera_matrix(ccm, op=op)
    inverse = 1.0 / gain_vector(red_gain, blue_gain, rgb_gain, op)
    img = as_image(image, op=op)
    out = np.empty(img.shape[:2], np.float32)
    buf = np.empty(img.shape[1] * 3, np.float32)
    kbuf = np.empty(img.shape[1] * 3, np.int32)
    _unprocess_brooks2019_kernel(img, _expand_lut(), rgb2cam.astype(np.float32),
                                 inverse.astype(np.float32), cell, kbuf, buf, out)
    return out


@register_op("process_brooks2019", domain_in="raw", domain_out="srgb",
             meta_in=("pattern", "ccm", "rgb_gain", "red_gain", "blue_gain"))
def process_brooks2019(image: np.ndarray, ccm: list[list[float]], rgb_gain: float,
                       red_gain: float, blue_gain: float, pattern: str = "RGGB",
                       tone: bool = True, *, rng=None) -> np.ndarray:
    """Forward ISP matching :func:`unprocess_brooks2019`: RAW mosaic -> sRGB, for rendering.

    Parameters
    ----------
    image : ndarray, float32, (H, W) mosaic
    ccm, rgb_gain, red_gain, blue_gain, pattern
        As given to ``unprocess_brooks2019`` (read from the sample metadata).
    tone : bool
        Apply the smoothstep tone curve (True: exact inverse of unprocessing; False:
        Brooks' own ``process``, which has no tone curve).

    Returns
    -------
    ndarray, float32, (H, W, 3), sRGB in [0, 1].

    Notes
    -----
    ``gains [red, 1, blue] * rgb_gain`` on the mosaic -> clip [0, 1] -> bilinear demosaic
    -> ``inv(rgb2cam)`` -> clip [0, 1] -> ``max(x, 1e-8)^(1/2.2)`` -> smoothstep.
    Brooks' ``process`` omits ``rgb_gain`` and the tone curve; both are kept here so that
    unprocess -> process round-trips (up to demosaicking).

    Examples
    --------
    >>> p = brooks2019_unprocess(np.random.default_rng(0))
    >>> process_brooks2019(np.full((4, 4), 0.2, np.float32), **p).shape
    (4, 4, 3)
    """
    image = as_mosaic(image, op="process_brooks2019")
    raw = apply_wb_gains(image, red_gain, blue_gain, rgb_gain, pattern=pattern, clip=True)
    rgb = demosaic(raw, pattern, "bilinear")
    srgb = gamma_compress(apply_ccm(rgb, ccm, clip=True), "power", 2.2)
    return smoothstep(srgb) if tone else srgb


@register_sampler("brooks2019_unprocess", ops=["unprocess_brooks2019", "process_brooks2019"])
def brooks2019_unprocess(rng: np.random.Generator) -> dict:
    """All parameters of ``unprocess_brooks2019`` as Brooks 2019 draws them.

    The CCM first (``brooks2019_ccm``), then the gains (``brooks2019_wb_gains``), from the
    same generator; the pattern is RGGB (Brooks' only one; override it in the recipe).

    Examples
    --------
    >>> sorted(brooks2019_unprocess(np.random.default_rng(0)))
    ['blue_gain', 'ccm', 'pattern', 'red_gain', 'rgb_gain']
    """
    params = brooks2019_ccm(rng)
    params.update(brooks2019_wb_gains(rng))
    params["pattern"] = "RGGB"
    return params
