"""Sensor-noise kernels (Poisson-Gaussian, ELD 2020) and the exact Poisson sampler.

A numpy Generator passed in draws numpy's exact stream of normals, uniforms and
exponentials, so each kernel equals a plain-Python loop making the same calls in the same
order (tests/test_sensor.py). Poisson counts come from :func:`_poisson_row` (inversion below a
mean of 10, Ahrens-Dieter PD above), not ``Generator.poisson``: PD is ~3x faster than
numpy's PTRS per draw here and exact as well (chi-square tests against scipy).
Arithmetic is float64, rounded to float32 once at the end.
"""
from __future__ import annotations

import math

import numba
import numpy as np

#: smallest positive value of ``Generator.random()``; replaces an exact 0 in the quantile
TINY_UNIFORM = 2.0 ** -53

QUANT_NONE, QUANT_UNIFORM, QUANT_ROUND = 0, 1, 2

#: Poisson means below this are drawn by inversion (algorithm PD needs mu >= 10)
PD_MIN_MEAN = 10.0
# Ahrens & Dieter (1982), algorithm PD: coefficients of the series for px in procedure F
_PD_A = (-0.5, 0.3333333, -0.2500068, 0.2000118, -0.1661269, 0.1421878, -0.1384794, 0.1250060)
_FACTORIALS = (1.0, 1.0, 2.0, 6.0, 24.0, 120.0, 720.0, 5040.0, 40320.0, 362880.0)
_INV_SQRT_2PI = 0.398942280401432677939946059934


@numba.njit(cache=True, nogil=True)
def _pd_f(k, mu, s):
    """Procedure F of algorithm PD: ``(px, py, fx, fy)`` for the candidate ``k``.

    ``py exp(px)`` approximates the Poisson pmf at ``k`` and ``fy exp(fx)`` the normal-based
    hat at ``k``; accuracy as in Ahrens & Dieter (1982).
    """
    diff = mu - k
    if k < 10.0:
        px = -mu
        py = mu ** k / _FACTORIALS[int(k)]
    else:
        delta = 1.0 / (12.0 * k)
        delta = delta * (1.0 - 4.8 * delta * delta)
        v = diff / k
        if abs(v) <= 0.25:
            series = _PD_A[7]
            for n in range(6, -1, -1):
                series = series * v + _PD_A[n]
            px = k * v * v * series - delta
        else:
            px = k * math.log(1.0 + v) - diff - delta
        py = _INV_SQRT_2PI / math.sqrt(k)
    x = (0.5 - diff) / s
    xx = x * x
    b1 = 1.0 / (24.0 * mu)
    b2 = 0.3 * b1 * b1
    c3 = b1 * b2 / 7.0
    c2 = b2 - 15.0 * c3
    c1 = b1 - 6.0 * b2 + 45.0 * c3
    c0 = 1.0 - b1 + 3.0 * b2 - 15.0 * c3
    fy = (_INV_SQRT_2PI / s) * (((c3 * xx + c2) * xx + c1) * xx + c0)
    return px, py, -0.5 * xx, fy


@numba.njit(cache=True, nogil=True, inline="always")
def _poisson_inversion(mu, rng):
    """Poisson(mu) for small ``mu`` by inversion: the smallest k with ``u <= F(k)``, the cdf
    summed with ``p(k) = p(k-1) mu / k``; one ``rng.random()`` (none for ``mu = 0``)."""
    if mu <= 0.0:
        return 0.0
    u = rng.random()
    p = math.exp(-mu)
    cdf = p
    k = 0.0
    while u > cdf and p > 0.0:
        k += 1.0
        p *= mu / k
        cdf += p
    return k


@numba.njit(cache=True, nogil=True)
def _poisson_row(mu, rng, counts):
    """Exact Poisson draws ``counts[j] ~ Poisson(mu[j])`` for one image row (float64 arrays).

    ``mu < 10``: :func:`_poisson_inversion`. Otherwise algorithm PD of Ahrens & Dieter, "Computer
    generation of Poisson deviates from modified normal distributions", ACM TOMS 8 (1982):
    a normal candidate ``g = mu + sqrt(mu) N``, ``k = floor(g)``, accepted at once when ``k >=
    floor(mu - 1.1484)`` (about half the draws) or by the cubic squeeze ``6 mu^2 u >= (mu -
    k)^3`` on one uniform (almost all the rest). The 1-2 % left over (``g < 0`` or a failed
    squeeze) go through the quotient test and the double-exponential hat
    (:func:`_poisson_pd_tail`), which costs ~100x the fast path; they are collected and run
    after the row's fast paths, which keeps the hot loop small and branch-light (1.2x faster
    on a real image than drawing each tail in place).

    Draw order: for each element in order, ``random`` (inversion; none for ``mu = 0``) or
    ``standard_normal, random`` (PD); then, for each collected PD element in order, the
    tail's pairs ``(standard_exponential, random)``.
    """
    n = mu.size
    tail_idx = np.empty(n, np.int64)
    tail_g = np.empty(n)
    tail_u = np.empty(n)
    n_tail = 0
    for j in range(n):
        m = mu[j]
        if m < PD_MIN_MEAN:
            counts[j] = _poisson_inversion(m, rng)
            continue
        g = m + math.sqrt(m) * rng.standard_normal()
        u = rng.random()
        k = np.floor(g)
        diff = m - k
        counts[j] = k
        # np.floor stays float: no int64 overflow for huge means (a vanishing shot factor);
        # branch-free bookkeeping: the slot is overwritten unless this element needs the tail
        squeezed = 6.0 * m * m * u >= diff * diff * diff
        accepted = (g >= 0.0) & ((k >= np.floor(m - 1.1484)) | squeezed)
        tail_idx[n_tail] = j
        tail_g[n_tail] = g
        tail_u[n_tail] = u
        n_tail += not accepted
    for t in range(n_tail):
        j = tail_idx[t]
        counts[j] = _poisson_pd_tail(mu[j], math.sqrt(mu[j]), tail_g[t], tail_u[t], rng)


@numba.njit(cache=True, nogil=True)
def _poisson_pd_tail(mu, s, g, u, rng):
    """Steps Q (quotient acceptance of the normal candidate ``g``, uniform ``u``), E and H
    (double-exponential hat) of algorithm PD; kept out of line so the fast path stays small."""
    if g >= 0.0:
        k = np.floor(g)
        px, py, fx, fy = _pd_f(k, mu, s)
        if fy - u * fy <= py * math.exp(px - fx):
            return k
    c = 0.1069 / mu
    while True:
        e = rng.standard_exponential()
        u = 2.0 * rng.random() - 1.0
        t = 1.8 + (e if u >= 0.0 else -e)
        if t <= -0.6744:
            continue
        k = np.floor(mu + s * t)
        px, py, fx, fy = _pd_f(k, mu, s)
        if c * abs(u) <= py * math.exp(px + e) - fy * math.exp(fx + e):
            return k


@numba.njit(cache=True, nogil=True)
def _tukey_lambda_ppf(u, lam):
    """Standard Tukey-lambda quantile: ``(u^lam - (1-u)^lam) / lam``, logistic at lam = 0."""
    if u <= 0.0:
        u = TINY_UNIFORM
    if lam == 0.0:
        return math.log(u / (1.0 - u))
    return (u ** lam - (1.0 - u) ** lam) / lam


@numba.njit(cache=True, nogil=True)
def _poisson_gaussian_kernel(img, shot, read, clip, rng, out):
    """``out = shot Poisson(x / shot) + read N(0, 1)`` per element of ``img`` (H, W, C).

    Row by row (a row is its ``W C`` elements in C order): the row's Poisson counts of
    ``max(x, 0) / shot`` by :func:`_poisson_row` if ``shot > 0`` (else ``x`` itself), then
    ``rng.standard_normal()`` per element if ``read > 0``.
    """
    h, w, c = img.shape
    rows = img.reshape(h, w * c)
    out_rows = out.reshape(h, w * c)
    mu = np.empty(w * c)
    counts = np.empty(w * c)
    for i in range(h):
        if shot > 0.0:
            for j in range(w * c):
                mu[j] = max(np.float64(rows[i, j]), 0.0) / shot
            _poisson_row(mu, rng, counts)
        for j in range(w * c):
            v = shot * counts[j] if shot > 0.0 else np.float64(rows[i, j])
            if read > 0.0:
                v += read * rng.standard_normal()
            if clip:
                v = min(max(v, 0.0), 1.0)
            out_rows[i, j] = v


@numba.njit(cache=True, nogil=True)
def _heteroscedastic_kernel(img, shot, read, clip, rng, out):
    """``out = x + sqrt(shot x + read^2) N(0, 1)`` (the Gaussian approximation), one
    ``rng.standard_normal()`` per element of ``img`` (any shape) in C order."""
    flat = img.ravel()
    out_flat = out.ravel()
    read2 = read * read
    for j in range(flat.size):
        x = np.float64(flat[j])
        v = x + math.sqrt(max(shot * x + read2, 0.0)) * rng.standard_normal()
        if clip:
            v = min(max(v, 0.0), 1.0)
        out_flat[j] = v


@numba.njit(cache=True, nogil=True)
def _eld_noise_kernel(img, dn_per_unit, gain, read_sigma, read_lambda, tukey, shot_approx,
                      bias_map, row_noise, plane_map, quant, clip, rng, out):
    """ELD 2020 noise in DN on ``img`` (H, W, C), row by row.

    ``y = x dn_per_unit`` (DN, ``dn_per_unit = (white - black) / ratio``);
    ``z = K Poisson(max(y, 0) / K)`` (or ``y + sqrt(K max(y, 0)) N``);
    ``z += read_sigma * TukeyLambda(read_lambda)`` via the quantile of ``rng.random()``
    (or ``read_sigma N``); ``z += bias_map[i % 2, j % 2, k] + row_noise[i, plane_map[..]]``;
    quantisation: ``+ (U - 0.5)`` DN (uniform), ``rint(z)`` (round) or none;
    ``out = z / dn_per_unit``, clipped to [0, 1] if ``clip``.
    Draws per row: the exact Poisson counts of the row (:func:`_poisson_row`), then per
    element in C order: normal (shot approximation only), random or normal (read), random
    (uniform quantisation).
    """
    h, w, c = img.shape
    mu = np.empty(w * c)
    counts = np.empty(w * c)
    for i in range(h):
        if not shot_approx:
            for j in range(w):
                for k in range(c):
                    mu[j * c + k] = max(np.float64(img[i, j, k]) * dn_per_unit, 0.0) / gain
            _poisson_row(mu, rng, counts)
        for j in range(w):
            for k in range(c):
                y = np.float64(img[i, j, k]) * dn_per_unit
                if shot_approx:
                    z = y + math.sqrt(gain * max(y, 0.0)) * rng.standard_normal()
                else:
                    z = gain * counts[j * c + k]
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
