"""PSF (blur kernel) builders. Not ops themselves: blur ops call them.

Conventions (Real-ESRGAN / basicsr ``bivariate_Gaussian``): the kernel is sampled on a
centred grid ``x = j - (k-1)/2`` (column j), ``y = i - (k-1)/2`` (row i) with covariance
``Sigma = R(theta) diag(sigma_x^2, sigma_y^2) R(theta)^T`` and normalised to sum 1.
"""
from __future__ import annotations

import math

import numpy as np

from .._errors import ParameterError
from .._validate import check_scalar


def default_ksize(sigma_x: float, sigma_y: float | None = None) -> int:
    """Smallest odd size covering +-3 sigma of the widest axis (at least 3)."""
    s = max(sigma_x, sigma_y if sigma_y is not None else sigma_x)
    return max(3, 2 * math.ceil(3.0 * s) + 1)


def check_ksize(ksize, *, op: str) -> int:
    k = check_scalar("ksize", ksize, op=op, integer=True, low=1)
    if k % 2 == 0:
        raise ParameterError(f"{op}: parameter 'ksize' = {k}: expected an odd size")
    return k


def gaussian_psf(sigma_x: float, sigma_y: float | None = None, theta: float = 0.0,
                 ksize: int | None = None) -> np.ndarray:
    """Normalised (an)isotropic Gaussian kernel, float64 ``(ksize, ksize)``.

    ``k(x, y) ∝ exp(-0.5 [x y] Σ⁻¹ [x y]ᵀ)``, ``Σ = R(θ) diag(σx², σy²) R(θ)ᵀ``;
    isotropic when ``sigma_y`` is None (θ is then irrelevant).

    Examples
    --------
    >>> k = gaussian_psf(1.0, 2.0, 0.3, 9); k.shape, round(k.sum(), 12)
    ((9, 9), 1.0)
    """
    sx = check_scalar("sigma_x", sigma_x, op="gaussian_psf", low=0, low_open=True)
    sy = sx if sigma_y is None else check_scalar("sigma_y", sigma_y, op="gaussian_psf",
                                                 low=0, low_open=True)
    th = check_scalar("theta", theta, op="gaussian_psf")
    k = default_ksize(sx, sy) if ksize is None else check_ksize(ksize, op="gaussian_psf")
    c, s = math.cos(th), math.sin(th)
    rot = np.array([[c, -s], [s, c]])
    inv = np.linalg.inv(rot @ np.diag([sx * sx, sy * sy]) @ rot.T)
    grid = np.arange(k, dtype=np.float64) - (k - 1) / 2.0
    xx, yy = np.meshgrid(grid, grid)
    q = inv[0, 0] * xx * xx + (inv[0, 1] + inv[1, 0]) * xx * yy + inv[1, 1] * yy * yy
    kernel = np.exp(-0.5 * q)
    return kernel / kernel.sum()


def gaussian_psf_1d(sigma: float, ksize: int) -> np.ndarray:
    """Normalised 1-D Gaussian on the centred grid; the factor of an axis-aligned 2-D one."""
    grid = np.arange(ksize, dtype=np.float64) - (ksize - 1) / 2.0
    g = np.exp(-0.5 * (grid / sigma) ** 2)
    return g / g.sum()
