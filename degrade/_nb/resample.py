"""Separable resampling with precomputed tap tables (torch / MATLAB coordinate rules)."""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _resample_axis_kernel(img, index, weight, axis, out):
    """Resample (H, W, C) ``img`` along ``axis`` (0: rows, 1: columns) into ``out``.

    ``out[o] = Σ_t weight[o, t] · img[index[o, t]]`` along the axis, float64 accumulation;
    ``index``/``weight`` are (n_out, taps) tables (unused taps carry weight 0).
    """
    h, w, c = out.shape
    taps = index.shape[1]
    for i in range(h):
        for j in range(w):
            o = i if axis == 0 else j
            for k in range(c):
                acc = 0.0
                for t in range(taps):
                    if axis == 0:
                        acc += weight[o, t] * img[index[o, t], j, k]
                    else:
                        acc += weight[o, t] * img[i, index[o, t], k]
                out[i, j, k] = acc
