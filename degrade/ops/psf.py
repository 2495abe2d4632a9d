"""PSF (blur kernel) builders. Not ops themselves: blur ops call them.

Conventions (Real-ESRGAN / basicsr ``bivariate_Gaussian``): the kernel is sampled on a
centred grid ``x = j - (k-1)/2`` (column j), ``y = i - (k-1)/2`` (row i) with covariance
``Sigma = R(theta) diag(sigma_x^2, sigma_y^2) R(theta)^T`` and normalised to sum 1.

Kinds (:data:`PSF_KINDS`, Real-ESRGAN's names), with ``q = [x y] Σ⁻¹ [x y]ᵀ``:

* ``iso`` / ``aniso``: Gaussian ``exp(-q/2)`` (iso: ``Σ = σx² I``, σy and θ unused);
* ``generalized_iso`` / ``generalized_aniso``: ``exp(-0.5 q^β)`` (β on q, not on √q);
* ``plateau_iso`` / ``plateau_aniso``: ``1 / (q^β + 1)``;
* ``sinc``: circular low-pass ``ωc J1(ωc r) / (2π r)``, centre ``ωc² / (4π)``.

Every kernel is divided by its sum (the sinc has negative lobes but sums to 1).
"""
from __future__ import annotations

import math

import numpy as np

from .._errors import ParameterError
from .._registry import Range
from .._validate import check_scalar

#: largest kernel side (a blur of sigma MAX_SIGMA needs 901): beyond it a blur costs seconds
#: to minutes per image and, on training patches, gives nothing a smaller one does not
MAX_KSIZE = 1001
MAX_SIGMA = 150.0
#: what op parameters that are kernel sizes / blur widths may be (``register_op(limits=)``)
KSIZE = Range(1, MAX_KSIZE)
SIGMA = Range(0, MAX_SIGMA, low_open=True)


def default_ksize(sigma_x: float, sigma_y: float | None = None) -> int:
    """Smallest odd size covering +-3 sigma of the widest axis (at least 3)."""
    s = max(sigma_x, sigma_y if sigma_y is not None else sigma_x)
    return max(3, 2 * math.ceil(3.0 * s) + 1)


def check_ksize(ksize, *, op: str) -> int:
    k = check_scalar("ksize", ksize, op=op, integer=True, low=1, high=MAX_KSIZE)
    if k % 2 == 0:
        raise ParameterError(f"{op}: parameter 'ksize' = {k}: expected an odd size")
    return k


def check_sigma(name: str, value, *, op: str, zero_ok: bool = False) -> float:
    """A blur width in (0, MAX_SIGMA] (with ``zero_ok``: [0, MAX_SIGMA])."""
    return check_scalar(name, value, op=op, low=0, low_open=not zero_ok, high=MAX_SIGMA)


PSF_KINDS = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso",
             "plateau_aniso", "sinc")


def centred_grid(ksize: int) -> tuple[np.ndarray, np.ndarray]:
    """``(xx, yy)`` float64 ``(k, k)``: x = column - (k-1)/2, y = row - (k-1)/2."""
    grid = np.arange(ksize, dtype=np.float64) - (ksize - 1) / 2.0
    return np.meshgrid(grid, grid)


def quadratic_form(sigma_x: float, sigma_y: float, theta: float, ksize: int) -> np.ndarray:
    """``q = [x y] Σ⁻¹ [x y]ᵀ`` on the centred grid, ``Σ = R(θ) diag(σx², σy²) R(θ)ᵀ``."""
    c, s = math.cos(theta), math.sin(theta)
    rot = np.array([[c, -s], [s, c]])
    inv = np.linalg.inv(rot @ np.diag([sigma_x * sigma_x, sigma_y * sigma_y]) @ rot.T)
    xx, yy = centred_grid(ksize)
    return inv[0, 0] * xx * xx + (inv[0, 1] + inv[1, 0]) * xx * yy + inv[1, 1] * yy * yy


def sinc_psf(omega_c: float, ksize: int) -> np.ndarray:
    """Circular low-pass (2-D "sinc") kernel, float64 ``(ksize, ksize)``, sum 1.

    ``k(r) ∝ ωc J1(ωc r) / (2π r)`` with ``r = √(x² + y²)`` and the centre set to its limit
    ``ωc² / (4π)`` (basicsr ``circular_lowpass_kernel``); ``J1`` is ``scipy.special.j1``.
    Side lobes are negative, so blurring with it can leave [0, 1] (ringing).

    Examples
    --------
    >>> round(float(sinc_psf(2.0, 11).sum()), 12)
    1.0
    """
    from scipy.special import j1

    w = check_scalar("omega_c", omega_c, op="sinc_psf", low=0, low_open=True)
    k = check_ksize(ksize, op="sinc_psf")
    xx, yy = centred_grid(k)
    r = np.hypot(xx, yy)
    with np.errstate(divide="ignore", invalid="ignore"):
        kernel = w * j1(w * r) / (2.0 * np.pi * r)
    kernel[(k - 1) // 2, (k - 1) // 2] = w * w / (4.0 * np.pi)
    return kernel / kernel.sum()


def build_psf(kind: str, ksize: int, sigma_x: float | None = None, sigma_y: float | None = None,
              theta: float = 0.0, beta: float | None = None, omega_c: float | None = None,
              *, op: str = "build_psf") -> np.ndarray:
    """Kernel of any kind in :data:`PSF_KINDS`, float64 ``(ksize, ksize)``, sum 1.

    Parameters
    ----------
    kind : str
        One of :data:`PSF_KINDS` (module docstring gives the formulas).
    ksize : int
        Odd kernel size.
    sigma_x, sigma_y : float > 0
        Gaussian-family widths (pixels); ``sigma_y`` only for ``*aniso`` kinds.
    theta : float
        Rotation (radians) of the anisotropic kinds.
    beta : float > 0
        Shape exponent of the ``generalized_*`` and ``plateau_*`` kinds.
    omega_c : float > 0
        Cut-off (radians per pixel, at most π is meaningful) of ``sinc``.

    Raises
    ------
    ParameterError
        Unknown kind, a missing or out-of-range parameter the kind needs.

    Examples
    --------
    >>> build_psf("plateau_aniso", 7, 1.0, 2.0, 0.5, beta=1.5).shape
    (7, 7)
    """
    from .._validate import check_choice

    check_choice("kind", kind, PSF_KINDS, op=op)
    k = check_ksize(ksize, op=op)
    if kind == "sinc":
        if omega_c is None:
            raise ParameterError(f"{op}: kind 'sinc' needs parameter 'omega_c'")
        return sinc_psf(check_scalar("omega_c", omega_c, op=op, low=0, low_open=True), k)
    if sigma_x is None:
        raise ParameterError(f"{op}: kind {kind!r} needs parameter 'sigma_x'")
    sx = check_sigma("sigma_x", sigma_x, op=op)
    if kind.endswith("aniso"):
        if sigma_y is None:
            raise ParameterError(f"{op}: kind {kind!r} needs parameter 'sigma_y'")
        sy = check_sigma("sigma_y", sigma_y, op=op)
        th = check_scalar("theta", theta, op=op)
    else:
        sy, th = sx, 0.0
    q = quadratic_form(sx, sy, th, k)
    if kind in ("iso", "aniso"):
        kernel = np.exp(-0.5 * q)
    else:
        if beta is None:
            raise ParameterError(f"{op}: kind {kind!r} needs parameter 'beta'")
        b = check_scalar("beta", beta, op=op, low=0, low_open=True)
        kernel = np.exp(-0.5 * q ** b) if kind.startswith("generalized") else 1.0 / (q ** b + 1.0)
    return kernel / kernel.sum()


def separable_factors(kind: str, ksize: int, sigma_x: float | None, sigma_y: float | None,
                      theta: float, beta: float | None) -> tuple[np.ndarray, np.ndarray] | None:
    """``(k_rows, k_cols)`` 1-D factors when the kernel is exactly separable, else None.

    Separable: the Gaussian kinds (and generalized ones with β = 1) when isotropic or when
    θ is a multiple of π/2 (Σ diagonal; an odd number of quarter turns swaps the axes).
    ``k_rows`` runs along y (down the columns), ``k_cols`` along x.
    """
    gaussian = kind in ("iso", "aniso") or (kind.startswith("generalized") and beta == 1)
    if not gaussian:
        return None
    sy = sigma_x if kind.endswith("_iso") or kind == "iso" else sigma_y
    turns = theta / (math.pi / 2)
    if sy != sigma_x and abs(turns - round(turns)) >= 1e-12:
        return None
    s_x, s_y = (sigma_x, sy) if round(turns) % 2 == 0 else (sy, sigma_x)
    return gaussian_psf_1d(s_y, ksize), gaussian_psf_1d(s_x, ksize)


def gaussian_psf(sigma_x: float, sigma_y: float | None = None, theta: float = 0.0,
                 ksize: int | None = None) -> np.ndarray:
    """Normalised (an)isotropic Gaussian kernel, float64 ``(ksize, ksize)``.

    ``k(x, y) ∝ exp(-0.5 [x y] Σ⁻¹ [x y]ᵀ)``, ``Σ = R(θ) diag(σx², σy²) R(θ)ᵀ``;
    isotropic when ``sigma_y`` is None (θ is then irrelevant).

    Examples
    --------
    >>> k = gaussian_psf(1.0, 2.0, 0.3, 9); k.shape, round(float(k.sum()), 12)
    ((9, 9), 1.0)
    """
    sx = check_sigma("sigma_x", sigma_x, op="gaussian_psf")
    sy = sx if sigma_y is None else check_sigma("sigma_y", sigma_y, op="gaussian_psf")
    th = check_scalar("theta", theta, op="gaussian_psf")
    k = default_ksize(sx, sy) if ksize is None else check_ksize(ksize, op="gaussian_psf")
    kernel = np.exp(-0.5 * quadratic_form(sx, sy, th, k))
    return kernel / kernel.sum()


def gaussian_psf_1d(sigma: float, ksize: int) -> np.ndarray:
    """Normalised 1-D Gaussian on the centred grid; the factor of an axis-aligned 2-D one."""
    grid = np.arange(ksize, dtype=np.float64) - (ksize - 1) / 2.0
    g = np.exp(-0.5 * (grid / sigma) ** 2)
    return g / g.sum()
