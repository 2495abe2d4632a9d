"""Bayer CFA ops: mosaic, pack to 4 planes / unpack, demosaic.

Layouts (see degrade/_cfa.py): a mosaic is float32 ``(H, W)``; packed RAW is
``(H/2, W/2, 4)`` with the planes in the pattern's reading order (top-left, top-right,
bottom-left, bottom-right of each 2x2 cell): for ``RGGB`` that is R, Gr, Gb, B; for
``BGGR`` B, Gb, Gr, R. Both are domain ``raw``; the pattern travels in the metadata.
"""
from __future__ import annotations

from typing import Literal

import numpy as np

from .._cfa import as_mosaic, cell_channels, check_pattern, pack_planes, unpack_planes
from .._errors import ParameterError
from .._quantise import quantise
from .._registry import register_op
from .._validate import as_image

DEMOSAIC_METHODS = ("bilinear", "malvar2004", "menon2007", "cv2_bilinear", "cv2_ea")

# OpenCV names Bayer codes after the 2x2 cell starting at pixel (1, 1): found by mosaicking
# a constant colour with each pattern (tests/test_bayer.py checks it).
_CV2_CODES = {"RGGB": "BayerBG", "BGGR": "BayerRG", "GRBG": "BayerGB", "GBRG": "BayerGR"}


@register_op("mosaic", domain_in="camera", domain_out="raw", meta_out=("pattern",))
def mosaic(image: np.ndarray, pattern: Literal["RGGB", "BGGR", "GRBG", "GBRG"] = "RGGB", *,
           rng=None) -> np.ndarray:
    """Sample camera RGB through a Bayer colour filter array.

    Parameters
    ----------
    image : ndarray, float32, (H, W, 3), camera RGB
    pattern : {'RGGB', 'BGGR', 'GRBG', 'GBRG'}
        Colours of the top-left 2x2 cell in reading order; stored in the sample metadata.

    Returns
    -------
    ndarray, float32, (H, W): ``y[i, j] = x[i, j, c(i % 2, j % 2)]``.

    Examples
    --------
    >>> x = np.zeros((2, 2, 3), np.float32); x[..., 2] = 1
    >>> mosaic(x, 'BGGR').tolist()
    [[1.0, 0.0], [0.0, 0.0]]
    """
    from .._nb.isp import _mosaic_kernel

    cell = cell_channels(check_pattern(pattern, op="mosaic"))
    img = as_image(image, op="mosaic")
    out = np.empty(img.shape[:2], np.float32)
    _mosaic_kernel(img, cell, out)
    return out


@register_op("pack_raw", domain_in="raw", domain_out="raw", meta_in=("pattern",))
def pack_raw(image: np.ndarray, pattern: str = "RGGB", *, rng=None) -> np.ndarray:
    """Pack a Bayer mosaic into 4 half-resolution planes (cell reading order).

    Parameters
    ----------
    image : ndarray, float32, (H, W) with H and W even
    pattern : str
        CFA pattern (from metadata); checked, and it names the planes (see module doc).

    Returns
    -------
    ndarray, float32, (H/2, W/2, 4): ``y[i, j, 2a + b] = x[2i + a, 2j + b]``.

    Raises
    ------
    ParameterError
        Odd height or width, not a 2-D mosaic, unknown pattern.

    Examples
    --------
    >>> pack_raw(np.arange(4, dtype=np.float32).reshape(2, 2)).tolist()
    [[[0.0, 1.0, 2.0, 3.0]]]
    """
    check_pattern(pattern, op="pack_raw")
    img = as_mosaic(image, op="pack_raw")
    h, w = img.shape
    if h % 2 or w % 2:
        raise ParameterError(f"pack_raw: image has shape {img.shape}: expected an even height "
                             "and width (whole 2x2 CFA cells)")
    return pack_planes(img)


@register_op("unpack_raw", domain_in="raw", domain_out="raw", meta_in=("pattern",))
def unpack_raw(image: np.ndarray, pattern: str = "RGGB", *, rng=None) -> np.ndarray:
    """Inverse of :func:`pack_raw`: (H/2, W/2, 4) planes -> (H, W) mosaic.

    Parameters
    ----------
    image : ndarray, float32, (H/2, W/2, 4)
    pattern : str
        CFA pattern (from metadata); checked only, the layout is the same for all four.

    Returns
    -------
    ndarray, float32, (H, W).

    Examples
    --------
    >>> unpack_raw(np.arange(4, dtype=np.float32).reshape(1, 1, 4)).tolist()
    [[0.0, 1.0], [2.0, 3.0]]
    """
    check_pattern(pattern, op="unpack_raw")
    img = as_image(image, op="unpack_raw", channels=(4,))
    return unpack_planes(img)


def _colour_demosaicing():
    """Import colour-demosaicing without colour-science's import-time notice that
    matplotlib is absent (degrade uses none of its plotting)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Matplotlib.*")
        import colour_demosaicing
    return colour_demosaicing


_BILINEAR_G = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], np.float32) / 4
_BILINEAR_RB = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float32) / 4


def _demosaic_bilinear(img: np.ndarray, pattern: str) -> np.ndarray:
    """Bilinear demosaicking as colour-demosaicing computes it (same kernels; scipy's
    default 'reflect' border = OpenCV's BORDER_REFLECT), with float32 ``cv2.filter2D``
    instead of float64 ``scipy.ndimage.convolve``."""
    import cv2

    channels = cell_channels(pattern)
    out = np.empty(img.shape + (3,), np.float32)
    for c, kernel in ((0, _BILINEAR_RB), (1, _BILINEAR_G), (2, _BILINEAR_RB)):
        mask = np.tile(channels == c, ((img.shape[0] + 1) // 2, (img.shape[1] + 1) // 2))
        plane = np.where(mask[:img.shape[0], :img.shape[1]], img, np.float32(0))
        out[..., c] = cv2.filter2D(plane, cv2.CV_32F, kernel, borderType=cv2.BORDER_REFLECT)
    return out


def _demosaic_cv2(img: np.ndarray, pattern: str, method: str) -> np.ndarray:
    import cv2

    codes = _CV2_CODES[pattern] + ("2RGB_EA" if method == "cv2_ea" else "2RGB")
    dn = quantise(img, "uint16", "half_even")
    rgb = cv2.cvtColor(dn, getattr(cv2, "COLOR_" + codes))
    return rgb.astype(np.float32) / np.float32(65535.0)


@register_op("demosaic", domain_in="raw", domain_out="camera", meta_in=("pattern",))
def demosaic(image: np.ndarray, pattern: str = "RGGB",
             method: Literal["bilinear", "malvar2004", "menon2007", "cv2_bilinear",
                             "cv2_ea"] = "bilinear", *, rng=None) -> np.ndarray:
    """Demosaic a Bayer mosaic to camera RGB (for rendering targets / forward ISP).

    Parameters
    ----------
    image : ndarray, float32, (H, W) mosaic
    pattern : str
        CFA pattern (from metadata).
    method : str
        ``'bilinear'``: colour-demosaicing's bilinear kernels and border, run as float32
        ``cv2.filter2D`` (same result to float32 rounding, ~5x faster). ``'malvar2004'``
        (Malvar, He & Cutler 2004), ``'menon2007'`` (Menon, Andriani & Calvagno 2007, with
        the refining step): colour-demosaicing, float64 inside, values kept as they are.
        ``'cv2_bilinear'`` / ``'cv2_ea'`` (edge-aware): OpenCV on 16-bit codes, so the
        input is clipped to [0, 1] and rounded to 1/65535; the fastest.

    Returns
    -------
    ndarray, float32, (H, W, 3).

    Raises
    ------
    ParameterError
        Not a 2-D mosaic, unknown pattern or method.

    Examples
    --------
    >>> demosaic(np.full((4, 4), 0.5, np.float32), 'GRBG').shape
    (4, 4, 3)
    """
    from .._validate import check_choice

    pattern = check_pattern(pattern, op="demosaic")
    check_choice("method", method, DEMOSAIC_METHODS, op="demosaic")
    img = as_mosaic(image, op="demosaic")
    if method.startswith("cv2_"):
        return _demosaic_cv2(img, pattern, method)
    if method == "bilinear":
        return _demosaic_bilinear(img, pattern)
    cd = _colour_demosaicing()
    fn = {"malvar2004": cd.demosaicing_CFA_Bayer_Malvar2004,
          "menon2007": cd.demosaicing_CFA_Bayer_Menon2007}[method]
    return np.ascontiguousarray(fn(img, pattern), dtype=np.float32)
