"""Kernels of the RGB noise family (Poisson with levels, channel-mixed Gaussian / speckle).

A numpy Generator passed in draws exactly numpy's stream, so each kernel equals a plain
numpy expression over ``rng.poisson`` / ``rng.standard_normal`` arrays drawn in C order.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, inline="always")
def _table_count(u, code, lo, cdf, guide):
    """Inverse CDF of row ``code`` at ``u``: ``lo[code] + j`` for the smallest j with
    ``u < cdf[code, j]``, by a short upward scan from ``guide[code, floor(u·M)]`` (the
    smallest j with ``cdf[code, j] > m/M``; M = guide width)."""
    j = guide[code, int(u * guide.shape[1])]
    while u >= cdf[code, j]:
        j += 1
    return lo[code] + j


@numba.njit(cache=True, nogil=True)
def _poisson_noise_kernel(img, q, counts, lo, cdf, guide, use_table, levels, scale, gray,
                          quantized_base, clip, rng, out):
    """Shot noise on an 8-bit-rounded copy, added to the image or to the rounded copy.

    ``q`` (H, W, C') is the rounded image (C' = 1 for gray: the rounded luma). For every
    element of ``q`` in C order: ``n = Poisson(q·levels)/levels - q``; then
    ``out[..., k] = base[..., k] + scale·n`` with ``base`` the image (or, when
    ``quantized_base``, its own 8-bit rounding) and ``n`` shared by all channels when gray.
    Counts are read from ``counts`` (shaped like ``q``: numpy's ``rng.poisson(q·levels)``,
    drawn by the caller) or, with ``use_table``, drawn here from one ``rng.random()`` and
    the per-code inverse-CDF table (``lo``, ``cdf``, ``guide``; code = 255·q). Float64 arithmetic, rounded to float32 once.
    """
    h, w, c = img.shape
    for i in range(h):
        for j in range(w):
            if gray:
                g = np.float64(q[i, j, 0])
                code = int(np.rint(g * 255.0))
                if use_table:
                    cnt = _table_count(rng.random(), code, lo, cdf, guide)
                else:
                    cnt = counts[i, j, 0]
                n = cnt / levels - g
            for k in range(c):
                x = np.float64(img[i, j, k])
                if quantized_base:
                    x = min(max(np.rint(x * 255.0), 0.0), 255.0) / 255.0
                if not gray:
                    qk = np.float64(q[i, j, k])
                    code = int(np.rint(qk * 255.0))
                    if use_table:
                        cnt = _table_count(rng.random(), code, lo, cdf, guide)
                    else:
                        cnt = counts[i, j, k]
                    n = cnt / levels - qk
                v = x + scale * n
                if clip:
                    v = min(max(v, 0.0), 1.0)
                out[i, j, k] = v


@numba.njit(cache=True, nogil=True)
def _mixed_gaussian_noise_kernel(img, mix, gray, multiplicative, clip, rng, out):
    """``out = x + m·n`` with ``n = z @ mix`` per pixel, ``m = x`` (speckle) or 1.

    ``z`` is one standard normal per pixel (gray: a 1x1 ``mix`` broadcast to every channel)
    or one per channel, in C order — ``rng.standard_normal((H, W, C)) @ mix``.
    """
    h, w, c = img.shape
    z = np.empty(c)
    for i in range(h):
        for j in range(w):
            if gray:
                n0 = rng.standard_normal() * mix[0, 0]
            else:
                for k in range(c):
                    z[k] = rng.standard_normal()
            for k in range(c):
                if gray:
                    n = n0
                else:
                    n = 0.0
                    for m in range(c):
                        n += z[m] * mix[m, k]
                x = np.float64(img[i, j, k])
                v = x + (x * n if multiplicative else n)
                if clip:
                    v = min(max(v, 0.0), 1.0)
                out[i, j, k] = v
