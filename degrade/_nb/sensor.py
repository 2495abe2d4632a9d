"""Sensor-noise kernels (Poisson-Gaussian, ELD 2020).

A numpy Generator passed in draws numpy's exact stream, so each kernel equals a plain
numpy loop that makes the same calls in the same order (tests/test_sensor.py).
Arithmetic is float64, rounded to float32 once at the end.
"""
from __future__ import annotations

import math

import numba
import numpy as np

#: smallest positive value of ``Generator.random()``; replaces an exact 0 in the quantile
TINY_UNIFORM = 2.0 ** -53

QUANT_NONE, QUANT_UNIFORM, QUANT_ROUND = 0, 1, 2


@numba.njit(cache=True, nogil=True)
def _tukey_lambda_ppf(u, lam):
    """Standard Tukey-lambda quantile: ``(u^lam - (1-u)^lam) / lam``, logistic at lam = 0."""
    if u <= 0.0:
        u = TINY_UNIFORM
    if lam == 0.0:
        return math.log(u / (1.0 - u))
    return (u ** lam - (1.0 - u) ** lam) / lam


@numba.njit(cache=True, nogil=True)
def _poisson_gaussian_kernel(img, shot, read, gaussian_approx, clip, rng, out):
    """``out = shot Poisson(x / shot) + read N(0, 1)`` (exact) or ``x + sqrt(shot x + read^2)
    N(0, 1)`` (Gaussian approximation), per element of ``img`` (H, W, C) in C order.

    Draws per element: exact -> ``rng.poisson(max(x, 0) / shot)`` if ``shot > 0``, then
    ``rng.standard_normal()`` if ``read > 0``; approximation -> one ``standard_normal``.
    """
    h, w, c = img.shape
    read2 = read * read
    for i in range(h):
        for j in range(w):
            for k in range(c):
                x = np.float64(img[i, j, k])
                if gaussian_approx:
                    v = x + math.sqrt(max(shot * x + read2, 0.0)) * rng.standard_normal()
                else:
                    v = x
                    if shot > 0.0:
                        v = shot * rng.poisson(max(x, 0.0) / shot)
                    if read > 0.0:
                        v += read * rng.standard_normal()
                if clip:
                    v = min(max(v, 0.0), 1.0)
                out[i, j, k] = v


@numba.njit(cache=True, nogil=True)
def _eld_noise_kernel(img, dn_per_unit, gain, read_sigma, read_lambda, tukey, shot_approx,
                      bias_map, row_noise, plane_map, quant, clip, rng, out):
    """ELD 2020 noise in DN on ``img`` (H, W, C), per element in C order.

    ``y = x dn_per_unit`` (DN, ``dn_per_unit = (white - black) / ratio``);
    ``z = K Poisson(max(y, 0) / K)`` (or ``y + sqrt(K max(y, 0)) N``);
    ``z += read_sigma * TukeyLambda(read_lambda)`` via the quantile of ``rng.random()``
    (or ``read_sigma N``); ``z += bias_map[i % 2, j % 2, k] + row_noise[i, plane_map[..]]``;
    quantisation: ``+ (U - 0.5)`` DN (uniform), ``rint(z)`` (round) or none;
    ``out = z / dn_per_unit``, clipped to [0, 1] if ``clip``.
    Draws per element: poisson (or normal), random (or normal), random (uniform quant).
    """
    h, w, c = img.shape
    for i in range(h):
        for j in range(w):
            for k in range(c):
                y = np.float64(img[i, j, k]) * dn_per_unit
                if shot_approx:
                    z = y + math.sqrt(gain * max(y, 0.0)) * rng.standard_normal()
                else:
                    z = gain * rng.poisson(max(y, 0.0) / gain)
                if tukey:
                    z += read_sigma * _tukey_lambda_ppf(rng.random(), read_lambda)
                else:
                    z += read_sigma * rng.standard_normal()
                z += bias_map[i % 2, j % 2, k] + row_noise[i, plane_map[i % 2, j % 2, k]]
                if quant == QUANT_UNIFORM:
                    z += rng.random() - 0.5
                elif quant == QUANT_ROUND:
                    z = np.rint(z)
                v = z / dn_per_unit
                if clip:
                    v = min(max(v, 0.0), 1.0)
                out[i, j, k] = v
