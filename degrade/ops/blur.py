"""Blur ops: convolution of an image with a PSF (reflect-101 border, like torch 'reflect').

On RAW data (a Bayer mosaic ``(H, W)`` or packed planes ``(H/2, W/2, 4)``) each CFA plane
is blurred on its own with the PSF's same-colour taps (offsets that are even in both axes,
renormalised): the PSF a colour channel sees when it is sampled every second photosite.
Colours are never mixed, so a flat-colour scene stays exactly flat.
"""
from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

from .._cfa import pack_planes, unpack_planes
from .._errors import ParameterError
from .._registry import DOMAINS, Range, register_op
from .._validate import as_image, check_scalar
from .psf import (KSIZE, SIGMA, build_psf, check_ksize, check_sigma, default_ksize, gaussian_psf,
                  separable_factors)

BORDER = cv2.BORDER_REFLECT_101


def convolve(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Correlate ``img`` (float32, HW or HWC) with a 2-D kernel, reflect-101 border.

    cv2.filter2D computes a correlation; every PSF here is centrally symmetric, so it
    equals the convolution.
    """
    return cv2.filter2D(img, cv2.CV_32F, kernel.astype(np.float32), borderType=BORDER)


def same_colour_taps(taps: np.ndarray, *, op: str) -> np.ndarray:
    """The taps of an odd-sized 1-D or 2-D kernel at even offsets from its centre, summing
    to 1: the kernel as one CFA plane (every second photosite) sees it."""
    start = ((taps.shape[0] - 1) // 2) % 2
    sub = taps[start::2] if taps.ndim == 1 else taps[start::2, start::2]
    total = float(sub.sum())
    if abs(total) < 1e-6:
        raise ParameterError(f"{op}: the kernel's same-colour taps sum to {total:.3g}; it cannot "
                             "be applied per CFA plane (choose other parameters)")
    return sub / total


def blur_with_psf(img: np.ndarray, kernel: np.ndarray | None, factors, *, op: str) -> np.ndarray:
    """Correlate with a 2-D ``kernel`` or its separable ``factors`` (ky, kx); RGB images as
    they are, a mosaic (2-D) or packed planes (4 channels) per CFA plane (module doc)."""
    raw = img.ndim == 2 or img.shape[2] == 4
    if img.ndim == 2 and (img.shape[0] % 2 or img.shape[1] % 2):
        raise ParameterError(f"{op}: mosaic has shape {img.shape}: expected an even height and "
                             "width (whole 2x2 CFA cells)")
    planes = pack_planes(img) if img.ndim == 2 else img
    if factors is not None:
        ky, kx = (same_colour_taps(f, op=op) for f in factors) if raw else factors
        out = convolve_separable(planes, ky, kx)
    else:
        out = convolve(planes, same_colour_taps(kernel, op=op) if raw else kernel)
    out = out.reshape(planes.shape)
    return unpack_planes(out) if img.ndim == 2 else out


def convolve_separable(img: np.ndarray, ky: np.ndarray, kx: np.ndarray) -> np.ndarray:
    """Separable correlation: ``kx`` along rows (x), ``ky`` along columns (y)."""
    return cv2.sepFilter2D(img, cv2.CV_32F, kx.astype(np.float32), ky.astype(np.float32),
                           borderType=BORDER)


@register_op("gaussian_blur", domain_in=DOMAINS,
             limits={"sigma_x": SIGMA, "sigma_y": SIGMA, "ksize": KSIZE})
def gaussian_blur(image: np.ndarray, sigma_x: float, sigma_y: float | None = None,
                  theta: float = 0.0, ksize: int | None = None, *, rng=None) -> np.ndarray:
    """Blur with an isotropic or anisotropic Gaussian PSF.

    Parameters
    ----------
    image : ndarray, float32, (H, W, 3) RGB, (H, W) Bayer mosaic or (H/2, W/2, 4) packed RAW
        (RAW is blurred per CFA plane, see the module doc); values in [0, 1]
    sigma_x : float > 0
        Standard deviation (pixels of the full-resolution grid) along the PSF's first axis.
    sigma_y : float > 0, optional
        Along the second axis; ``None`` gives an isotropic PSF.
    theta : float
        Rotation of the PSF axes in radians (ignored when isotropic).
    ksize : int, optional
        Odd kernel size; default ``2*ceil(3*max(sigma))+1``.

    Returns
    -------
    ndarray, float32, same shape; not clipped (a Gaussian PSF cannot overshoot [0, 1]).

    Notes
    -----
    The kernel is :func:`degrade.ops.psf.gaussian_psf`. Axis-aligned kernels (isotropic, or
    theta a multiple of pi/2) run as two 1-D passes (``cv2.sepFilter2D``), others as one
    2-D pass (``cv2.filter2D``); both use a reflect-101 border.

    Examples
    --------
    >>> round(float(gaussian_blur(np.full((16, 16, 3), 0.5, np.float32), 1.5).max()), 6)
    0.5
    """
    img = as_image(image, op="gaussian_blur", channels=(3, 4), allow_2d=True)
    sx = check_sigma("sigma_x", sigma_x, op="gaussian_blur")
    sy = sx if sigma_y is None else check_sigma("sigma_y", sigma_y, op="gaussian_blur")
    th = check_scalar("theta", theta, op="gaussian_blur")
    k = default_ksize(sx, sy) if ksize is None else check_ksize(ksize, op="gaussian_blur")
    factors = separable_factors("aniso", k, sx, sy, th, None)
    kernel = None if factors is not None else gaussian_psf(sx, sy, th, k)
    return blur_with_psf(img, kernel, factors, op="gaussian_blur")


@register_op("psf_blur", domain_in=DOMAINS, limits={
    "ksize": KSIZE, "sigma_x": SIGMA, "sigma_y": SIGMA, "beta": Range(0, low_open=True),
    "omega_c": Range(0, low_open=True)})
def psf_blur(image: np.ndarray,
             kind: Literal["iso", "aniso", "generalized_iso", "generalized_aniso",
                           "plateau_iso", "plateau_aniso", "sinc"],
             ksize: int, sigma_x: float | None = None, sigma_y: float | None = None,
             theta: float = 0.0, beta: float | None = None, omega_c: float | None = None,
             *, rng=None) -> np.ndarray:
    """Blur with a PSF built from its parameters (Real-ESRGAN's kernel family).

    The record holds the few parameters, not the kernel; replay rebuilds it exactly.

    Parameters
    ----------
    image : ndarray, float32, (H, W, 3) RGB, (H, W) Bayer mosaic or (H/2, W/2, 4) packed RAW
        (RAW is blurred per CFA plane, see the module doc); values in [0, 1]
    kind : {'iso', 'aniso', 'generalized_iso', 'generalized_aniso', 'plateau_iso', \
'plateau_aniso', 'sinc'}
        Kernel family (formulas in :mod:`degrade.ops.psf`).
    ksize : int
        Odd kernel size (Real-ESRGAN: 7..21).
    sigma_x, sigma_y : float > 0
        Gaussian-family widths in pixels; ``sigma_y`` for the ``*aniso`` kinds only.
    theta : float
        Rotation in radians of the anisotropic kinds.
    beta : float > 0
        Shape exponent of the ``generalized_*`` and ``plateau_*`` kinds.
    omega_c : float > 0
        Cut-off of ``sinc`` in radians per pixel.

    Returns
    -------
    ndarray, float32, same shape; **not clipped** (a sinc rings below 0 and above 1, which
    Real-ESRGAN passes on to the next step).

    Raises
    ------
    ParameterError
        Unknown kind, even ``ksize``, a missing parameter the kind needs.

    Notes
    -----
    ``out = image ⋆ k`` (correlation; every kind is centrally symmetric, so it is also the
    convolution), reflect-101 border (torch ``'reflect'`` padding, as basicsr ``filter2D``).
    Exactly separable kernels (Gaussian, or generalized with β = 1, isotropic or with
    θ a multiple of π/2) run as two 1-D passes (``cv2.sepFilter2D``), the rest as one 2-D
    pass (``cv2.filter2D``). Real-ESRGAN zero-pads every kernel to 21x21; the zeros add
    nothing, so degrade convolves at ``ksize``. Reference: Wang et al., "Real-ESRGAN",
    ICCVW 2021, Sec. 3.2.

    Examples
    --------
    >>> x = np.full((16, 16, 3), 0.5, np.float32)
    >>> y = psf_blur(x, "plateau_aniso", 7, 1.0, 2.0, 0.3, beta=1.5)
    >>> bool(abs(y - 0.5).max() < 1e-6)
    True
    """
    img = as_image(image, op="psf_blur", channels=(3, 4), allow_2d=True)
    kernel = build_psf(kind, ksize, sigma_x, sigma_y, theta, beta, omega_c, op="psf_blur")
    factors = None if kind == "sinc" else separable_factors(kind, ksize, sigma_x, sigma_y,
                                                            theta, beta)
    return blur_with_psf(img, kernel, factors, op="psf_blur")
