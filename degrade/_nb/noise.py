"""Noise kernels. A Generator passed in draws exactly numpy's stream (same oracle in tests)."""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _gaussian_noise_kernel(img, sigma, gray, clip, rng, out):
    """out = img + sigma * N(0, 1), optionally clipped to [0, 1].

    Draw order: one standard normal per pixel in C order, shared by all channels when
    ``gray``, else one per pixel and channel (C order over H, W, C) — the same order as
    ``rng.standard_normal((H, W))`` / ``rng.standard_normal((H, W, C))``.
    Arithmetic is float64, rounded to float32 once at the end.
    """
    h, w, c = img.shape
    for i in range(h):
        for j in range(w):
            if gray:
                n = sigma * rng.standard_normal()
            for k in range(c):
                if not gray:
                    n = sigma * rng.standard_normal()
                v = np.float64(img[i, j, k]) + n
                if clip:
                    v = min(max(v, 0.0), 1.0)
                out[i, j, k] = v
