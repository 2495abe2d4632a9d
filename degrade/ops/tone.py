"""Tone curves and transfer functions (Brooks et al. 2019 smoothstep; power and sRGB gamma).

Domains: the smoothstep tone curve and its inverse keep the display-referred ``srgb``
domain (they undo / redo the global tone map, the values stay gamma-encoded); the gamma
ops change it: ``gamma_expand`` srgb -> linear, ``gamma_compress`` linear -> srgb.
"""
from __future__ import annotations

from typing import Literal

import numpy as np

from .._registry import Range, register_op
from .._validate import as_image, check_choice, check_scalar

CURVES = ("power", "srgb")


def apply_transfer(image: np.ndarray, curve_code: int, exponent: float = 1.0) -> np.ndarray:
    """Run the elementwise transfer kernel on a validated float32 array (any shape)."""
    from .._nb.isp import _transfer_kernel

    out = np.empty_like(image)
    _transfer_kernel(image.reshape(-1), curve_code, float(exponent), out.reshape(-1))
    return out


def _check_image(image, op: str) -> np.ndarray:
    return as_image(image, op=op, channels=None, allow_2d=True)


@register_op("inverse_smoothstep", domain_in="srgb", domain_out="srgb")
def inverse_smoothstep(image: np.ndarray, *, rng=None) -> np.ndarray:
    """Undo the global smoothstep tone curve (Brooks et al. 2019, ``inverse_smoothstep``).

    Parameters
    ----------
    image : ndarray, float32, (H, W, C) or (H, W), sRGB values (clipped to [0, 1] first)

    Returns
    -------
    ndarray, float32, same shape, in [0, 1].

    Notes
    -----
    ``y = 0.5 - sin(asin(1 - 2 clip(x, 0, 1)) / 3)``, the inverse of ``3y^2 - 2y^3`` on
    [0, 1]. T. Brooks et al., "Unprocessing Images for Learned Raw Denoising", CVPR 2019.

    Examples
    --------
    >>> float(inverse_smoothstep(np.full((1, 1, 3), 0.5, np.float32))[0, 0, 0])
    0.5
    """
    from .._nb.isp import INVERSE_SMOOTHSTEP

    return apply_transfer(_check_image(image, "inverse_smoothstep"), INVERSE_SMOOTHSTEP)


@register_op("smoothstep", domain_in="srgb", domain_out="srgb")
def smoothstep(image: np.ndarray, *, rng=None) -> np.ndarray:
    """Apply the global smoothstep tone curve ``3x^2 - 2x^3`` (Brooks et al. 2019).

    Parameters
    ----------
    image : ndarray, float32, (H, W, C) or (H, W), clipped to [0, 1] first

    Returns
    -------
    ndarray, float32, same shape, in [0, 1].

    Notes
    -----
    ``y = 3 c^2 - 2 c^3`` with ``c = clip(x, 0, 1)``; the forward tone map that
    :func:`inverse_smoothstep` undoes. Brooks' ``process`` leaves it out; degrade's
    ``process_brooks2019`` applies it so that unprocess -> process round-trips.

    Examples
    --------
    >>> float(smoothstep(np.full((1, 1, 3), 0.25, np.float32))[0, 0, 0])
    0.15625
    """
    from .._nb.isp import SMOOTHSTEP

    return apply_transfer(_check_image(image, "smoothstep"), SMOOTHSTEP)


def apply_gamma(img: np.ndarray, curve, gamma, op: str, *, inverse: bool) -> np.ndarray:
    """Power or sRGB curve with numpy float32 ufuncs.

    numpy's float32 ``power`` is SIMD-vectorised (about 9x numba's scalar ``**`` here, see
    benchmarks/cases_raw_isp.py), so the single-curve ops stay in numpy; the fused
    ``unprocess_brooks2019`` has its own kernel.
    """
    check_choice("curve", curve, CURVES, op=op)
    if curve == "power":
        g = check_scalar("gamma", gamma, op=op, low=0, low_open=True)
        out = np.maximum(img, np.float32(1e-8))
        return np.power(out, np.float32(g if inverse else 1.0 / g), out=out)
    if inverse:     # EOTF: x / 12.92 below 0.04045, ((x + 0.055) / 1.055)^2.4 above
        knee, linear = np.float32(0.04045), img / np.float32(12.92)
        out = (np.maximum(img, knee) + np.float32(0.055)) / np.float32(1.055)
        np.power(out, np.float32(2.4), out=out)
    else:           # inverse EOTF: 12.92 x below 0.0031308, 1.055 x^(1/2.4) - 0.055 above
        knee, linear = np.float32(0.0031308), img * np.float32(12.92)
        out = np.power(np.maximum(img, knee), np.float32(1.0 / 2.4))
        out *= np.float32(1.055)
        out -= np.float32(0.055)
    np.copyto(out, linear, where=img <= knee)
    return out


@register_op("gamma_expand", domain_in="srgb", domain_out="linear",
             limits={"gamma": Range(0, low_open=True)})
def gamma_expand(image: np.ndarray, curve: Literal["power", "srgb"] = "power",
                 gamma: float = 2.2, *, rng=None) -> np.ndarray:
    """Inverse gamma: display-encoded sRGB values -> linear light.

    Parameters
    ----------
    image : ndarray, float32, (H, W, C) or (H, W), nominally in [0, 1]
    curve : {'power', 'srgb'}
        ``'power'``: Brooks 2019 ``max(x, 1e-8) ** gamma``. ``'srgb'``: the IEC 61966-2-1
        piecewise EOTF (same as ``colour.models.eotf_sRGB``); ``gamma`` is then ignored.
    gamma : float > 0
        Exponent of the power curve (2.2 in Brooks 2019).

    Returns
    -------
    ndarray, float32, same shape. Not clipped.

    Raises
    ------
    ParameterError
        Unknown curve, gamma <= 0, bad image.

    Notes
    -----
    power: ``y = max(x, 1e-8)^gamma``. srgb: ``y = x / 12.92`` for ``x <= 0.04045``, else
    ``((x + 0.055) / 1.055)^2.4`` (the linear segment also covers negative values).

    Examples
    --------
    >>> round(float(gamma_expand(np.full((1, 1, 3), 0.5, np.float32))[0, 0, 0]), 6)
    0.217638
    """
    return apply_gamma(_check_image(image, "gamma_expand"), curve, gamma, "gamma_expand",
                       inverse=True)


@register_op("gamma_compress", domain_in="linear", domain_out="srgb",
             limits={"gamma": Range(0, low_open=True)})
def gamma_compress(image: np.ndarray, curve: Literal["power", "srgb"] = "power",
                   gamma: float = 2.2, *, rng=None) -> np.ndarray:
    """Gamma: linear light -> display-encoded sRGB values (inverse of :func:`gamma_expand`).

    Parameters
    ----------
    image : ndarray, float32, (H, W, C) or (H, W), linear values
    curve : {'power', 'srgb'}
        ``'power'``: Brooks 2019 ``max(x, 1e-8) ** (1 / gamma)``. ``'srgb'``: the
        IEC 61966-2-1 inverse EOTF (same as ``colour.models.eotf_inverse_sRGB``).
    gamma : float > 0
        The power curve's gamma (the exponent used is ``1 / gamma``).

    Returns
    -------
    ndarray, float32, same shape. Not clipped.

    Notes
    -----
    power: ``y = max(x, 1e-8)^(1/gamma)`` (so 0 maps to ``1e-8^(1/gamma)``, about 2.3e-4
    for gamma 2.2, as in Brooks' ``gamma_compression``). srgb: ``y = 12.92 x`` for
    ``x <= 0.0031308``, else ``1.055 x^(1/2.4) - 0.055``.

    Examples
    --------
    >>> round(float(gamma_compress(np.full((1, 1, 3), 0.2, np.float32), 'srgb')[0, 0, 0]), 5)
    0.48453
    """
    return apply_gamma(_check_image(image, "gamma_compress"), curve, gamma, "gamma_compress",
                       inverse=False)
