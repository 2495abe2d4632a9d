"""Blur ops: convolution of an image with a PSF (reflect-101 border, like torch 'reflect')."""
from __future__ import annotations

import math

import cv2
import numpy as np

from .._registry import RGB_DOMAINS, register_op
from .._validate import as_image, check_scalar
from .psf import check_ksize, default_ksize, gaussian_psf, gaussian_psf_1d

BORDER = cv2.BORDER_REFLECT_101


def convolve(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Correlate ``img`` (float32, HW or HWC) with a 2-D kernel, reflect-101 border.

    cv2.filter2D computes a correlation; every PSF here is centrally symmetric, so it
    equals the convolution.
    """
    return cv2.filter2D(img, cv2.CV_32F, kernel.astype(np.float32), borderType=BORDER)


def convolve_separable(img: np.ndarray, ky: np.ndarray, kx: np.ndarray) -> np.ndarray:
    """Separable correlation: ``kx`` along rows (x), ``ky`` along columns (y)."""
    return cv2.sepFilter2D(img, cv2.CV_32F, kx.astype(np.float32), ky.astype(np.float32),
                           borderType=BORDER)


@register_op("gaussian_blur", domain_in=RGB_DOMAINS)
def gaussian_blur(image: np.ndarray, sigma_x: float, sigma_y: float | None = None,
                  theta: float = 0.0, ksize: int | None = None, *, rng=None) -> np.ndarray:
    """Blur with an isotropic or anisotropic Gaussian PSF.

    Parameters
    ----------
    image : ndarray, float32, (H, W, 3), values in [0, 1]
    sigma_x : float > 0
        Standard deviation (pixels) along the PSF's first axis.
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
    >>> gaussian_blur(np.full((16, 16, 3), 0.5, np.float32), 1.5).max()  # doctest: +ELLIPSIS
    0.5...
    """
    img = as_image(image, op="gaussian_blur")
    sx = check_scalar("sigma_x", sigma_x, op="gaussian_blur", low=0, low_open=True)
    sy = sx if sigma_y is None else check_scalar("sigma_y", sigma_y, op="gaussian_blur",
                                                 low=0, low_open=True)
    th = check_scalar("theta", theta, op="gaussian_blur")
    k = default_ksize(sx, sy) if ksize is None else check_ksize(ksize, op="gaussian_blur")
    quarter_turns = th / (math.pi / 2)
    if sx == sy or abs(quarter_turns - round(quarter_turns)) < 1e-12:
        # Axis-aligned: Σ is diagonal; an odd number of quarter turns swaps the axes.
        s_col, s_row = (sx, sy) if round(quarter_turns) % 2 == 0 else (sy, sx)
        return convolve_separable(img, gaussian_psf_1d(s_row, k), gaussian_psf_1d(s_col, k))
    return convolve(img, gaussian_psf(sx, sy, th, k))
