"""Conversions between the camera parametrisation (K in DN/e-, read noise in DN) and the
normalised one used by ``poisson_gaussian_noise`` (``shot``, ``read`` in [0, 1] units).

With ``S = white_level - black_level`` (DN of full scale) and an exposure ``ratio`` (the
signal is darkened by ``ratio`` before the sensor and amplified back after it, as ELD and
the RAIM teams' "noise amplification" do), the normalised signal ``x`` becomes
``y_dn = x S / ratio`` DN, the sensor gives ``K Poisson(y_dn / K) + N(0, read_dn^2)`` DN, and
the amplified output ``(...) ratio / S`` has

    Var[y | x] = (K ratio / S) x + (read_dn ratio / S)^2 = shot x + read^2,

so ``shot = K ratio / S`` and ``read = read_dn ratio / S``; the output is exactly
``shot Poisson(x / shot) + N(0, read^2)``.
"""
from __future__ import annotations

import numpy as np

from .._validate import check_scalar


def _check_common(full_scale, ratio, where):
    s = check_scalar("full_scale", full_scale, op=where, low=0, low_open=True)
    r = check_scalar("ratio", ratio, op=where, low=0, low_open=True)
    return s, r


def shot_read_from_gain(gain: float, read_dn: float, full_scale: float,
                        ratio: float = 1.0) -> tuple[float, float]:
    """Normalised ``(shot, read)`` from system gain K (DN/e-) and read-noise std (DN).

    Parameters
    ----------
    gain : float > 0
        System gain K, DN per electron.
    read_dn : float >= 0
        Read-noise standard deviation in DN.
    full_scale : float > 0
        ``white_level - black_level`` in DN.
    ratio : float > 0
        Exposure reduction / noise amplification factor (1 = none).

    Returns
    -------
    shot, read : float
        ``shot = K ratio / S`` and ``read = read_dn ratio / S`` with
        ``Var[y | x] = shot x + read^2``.

    Raises
    ------
    ParameterError
        A non-positive gain, full scale or ratio, or a negative read noise.

    Examples
    --------
    >>> [round(v, 8) for v in shot_read_from_gain(1.0, 3.4, 16383 - 512)]
    [6.301e-05, 0.00021423]
    """
    where = "shot_read_from_gain"
    k = check_scalar("gain", gain, op=where, low=0, low_open=True)
    r_dn = check_scalar("read_dn", read_dn, op=where, low=0)
    s, r = _check_common(full_scale, ratio, where)
    return k * r / s, r_dn * r / s


def gain_from_shot_read(shot: float, read: float, full_scale: float,
                        ratio: float = 1.0) -> tuple[float, float]:
    """Inverse of :func:`shot_read_from_gain`: ``(K, read_dn)`` from normalised (shot, read).

    Examples
    --------
    >>> [round(v, 6) for v in gain_from_shot_read(1e-3, 2e-3, 1023 - 64)]
    [0.959, 1.918]
    """
    where = "gain_from_shot_read"
    sh = check_scalar("shot", shot, op=where, low=0, low_open=True)
    rd = check_scalar("read", read, op=where, low=0)
    s, r = _check_common(full_scale, ratio, where)
    return sh * s / r, rd * s / r


def tukey_lambda_quantile(u, lam: float) -> np.ndarray:
    """Quantile function of the standard Tukey-lambda distribution (numpy, vectorised).

    ``Q(u) = (u^lam - (1 - u)^lam) / lam`` for ``lam != 0`` and ``ln(u / (1 - u))``
    (the logistic) for ``lam = 0``. A uniform ``u`` gives a Tukey-lambda draw; ELD's read
    noise is ``scale * Q(u)``. Same formula as the kernel in ``degrade/_nb/sensor.py``.

    Examples
    --------
    >>> float(tukey_lambda_quantile(0.5, 0.1))
    0.0
    """
    u = np.asarray(u, dtype=np.float64)
    if lam == 0.0:
        return np.log(u / (1.0 - u))
    return (u ** lam - (1.0 - u) ** lam) / lam
