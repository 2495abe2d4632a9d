"""Bayer defect kernels: point defects (hot / dead / stuck, couplets) and line defects.

Both work in place on a caller-allocated ``out`` (a copy of the mosaic). Defect sites are a
Bernoulli process walked with geometric gaps (``floor(log1p(-u) / log1p(-p))`` failures
before each success), so the cost grows with the number of defects, not of pixels, and
each eligible site is defective with probability exactly ``p``. A numpy Generator passed
in draws numpy's stream; tests/test_defects.py repeats the same calls in plain Python.
"""
from __future__ import annotations

import math

import numba

HOT, DEAD, STUCK = 0, 1, 2
LINE_STUCK, LINE_OFFSET, LINE_RANDOM = 0, 1, 2


@numba.njit(cache=True, nogil=True)
def _next_hit(pos, log_q, rng):
    """Index of the next success after ``pos`` (``log_q = log1p(-p)``; ``p >= 1``: 0)."""
    if log_q == -math.inf:
        return pos + 1
    return pos + 1 + int(math.floor(math.log1p(-rng.random()) / log_q))


@numba.njit(cache=True, nogil=True)
def _point_defects_kernel(out, rates, hot_min, hot_max, cluster_fraction, eligible,
                          partners, rng):
    """Hot (``+amp``, log-uniform in [hot_min, hot_max], capped at 1), dead (0) and stuck (1)
    pixels at rate ``rates.sum()`` per eligible site; type by ``rates`` (hot, dead, stuck).

    ``eligible`` (2, 2) bool by CFA cell position; ``partners`` (2, 2, 4, 2) int: the 4
    nearest same-colour offsets of each cell position. Draws per hit: type (random),
    amplitude (random, hot only), couplet (random), partner index (random, couplets only).
    """
    h, w = out.shape
    total = rates[0] + rates[1] + rates[2]
    if total <= 0.0:
        return
    log_q = math.log1p(-total) if total < 1.0 else -math.inf
    log_lo, log_span = math.log(hot_min), math.log(hot_max) - math.log(hot_min)
    pos = _next_hit(-1, log_q, rng)
    while pos < h * w:
        i, j = pos // w, pos % w
        if eligible[i % 2, j % 2]:
            t = rng.random() * total
            kind = HOT if t < rates[0] else (DEAD if t < rates[0] + rates[1] else STUCK)
            amp = math.exp(log_lo + log_span * rng.random()) if kind == HOT else 0.0
            _set_defect(out, i, j, kind, amp)
            if rng.random() < cluster_fraction:
                d = int(rng.random() * 4.0)
                pi, pj = i + partners[i % 2, j % 2, d, 0], j + partners[i % 2, j % 2, d, 1]
                if 0 <= pi < h and 0 <= pj < w:
                    _set_defect(out, pi, pj, kind, amp)
        pos = _next_hit(pos, log_q, rng)


@numba.njit(cache=True, nogil=True)
def _set_defect(out, i, j, kind, amp):
    if kind == HOT:
        out[i, j] = min(out[i, j] + amp, 1.0)
    elif kind == DEAD:
        out[i, j] = 0.0
    else:
        out[i, j] = 1.0


@numba.njit(cache=True, nogil=True)
def _line_defects_kernel(out, rate, columns, mode, lo, hi, eligible, rng):
    """Defective columns (``columns``) or rows at ``rate`` per line, on eligible sites.

    Per hit line: a level ``L = lo + (hi - lo) U`` (random); ``mode`` stuck -> ``L``,
    offset -> ``clip(x + L, 0, 1)``, random -> a fresh ``lo + (hi - lo) U`` per eligible
    site (a garbage line, like the real stuck column of docs/noise_models.md).
    """
    h, w = out.shape
    n_lines, length = (w, h) if columns else (h, w)
    if rate <= 0.0:
        return
    log_q = math.log1p(-rate) if rate < 1.0 else -math.inf
    line = _next_hit(-1, log_q, rng)
    while line < n_lines:
        level = lo + (hi - lo) * rng.random()
        for t in range(length):
            i, j = (t, line) if columns else (line, t)
            if not eligible[i % 2, j % 2]:
                continue
            if mode == LINE_STUCK:
                out[i, j] = level
            elif mode == LINE_OFFSET:
                out[i, j] = min(max(out[i, j] + level, 0.0), 1.0)
            else:
                out[i, j] = lo + (hi - lo) * rng.random()
        line = _next_hit(line, log_q, rng)
