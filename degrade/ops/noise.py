"""Additive noise ops (first member of the family; sensor noise lives in noise_models/)."""
from __future__ import annotations

from typing import Literal

import numpy as np

from .._registry import ANY_DOMAIN, Range, register_op
from .._validate import as_image, check_choice, check_scalar, require_rng

SIGMA_UNITS = {"unit": 1.0, "8bit": 255.0}


@register_op("gaussian_noise", domain_in=ANY_DOMAIN, random=True, limits={"sigma": Range(0)})
def gaussian_noise(image: np.ndarray, sigma: float, gray: bool = False, clip: bool = True,
                   sigma_units: Literal["unit", "8bit"] = "unit", *, rng=None) -> np.ndarray:
    """Add white Gaussian noise ``N(0, sigma^2)``, in colour or gray (one map for all channels).

    Parameters
    ----------
    image : ndarray, float32, (H, W, C) or (H, W), values in [0, 1]
    sigma : float >= 0
        Standard deviation, in [0, 1] units (``sigma_units='unit'``) or in 8-bit levels
        (``'8bit'``: sigma/255, how Real-ESRGAN and BSRGAN state it).
    gray : bool
        One noise value per pixel shared by every channel (luma-only noise).
    clip : bool
        Clip the result to [0, 1] (Real-ESRGAN's ``clip=True``).
    rng : numpy.random.Generator
        Required; the noise is ``rng.standard_normal`` in C order (see Notes).

    Returns
    -------
    ndarray, float32, same shape.

    Notes
    -----
    ``y = x + (sigma/u) * n`` with ``n = rng.standard_normal((H, W))`` (gray, broadcast over
    channels) or ``rng.standard_normal((H, W, C))`` (colour), computed in float64 and rounded
    to float32 once. Numba kernel, one pass, no temporaries.

    Examples
    --------
    >>> x = np.full((4, 4, 3), 0.5, np.float32)
    >>> gaussian_noise(x, 0.1, rng=np.random.default_rng(0)).shape
    (4, 4, 3)
    """
    from .._nb.noise import _gaussian_noise_kernel

    img = as_image(image, op="gaussian_noise", channels=None, allow_2d=True)
    units = SIGMA_UNITS[check_choice("sigma_units", sigma_units, tuple(SIGMA_UNITS),
                                     op="gaussian_noise")]
    s = check_scalar("sigma", sigma, op="gaussian_noise", low=0) / units
    rng = require_rng(rng, "gaussian_noise")
    view = img[:, :, None] if img.ndim == 2 else img
    out = np.empty_like(view)
    _gaussian_noise_kernel(view, s, bool(gray), bool(clip), rng, out)
    return out.reshape(img.shape)
