"""Separable resampling with precomputed tap tables (torch / MATLAB coordinate rules)."""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _resample_axis_kernel(img, index, weight, axis, out):
    """Resample (H, W, C) ``img`` along ``axis`` (0: rows, 1: columns) into ``out``.

    ``out[o] = Σ_t weight[o, t] · img[index[o, t]]`` along the axis, float64 accumulation;
    ``index``/``weight`` are (n_out, taps) tables (unused taps carry weight 0). Rows are
    combined as whole contiguous lines (``acc += w · line``), which vectorises.
    """
    h, w, c = out.shape
    taps = index.shape[1]
    if axis == 0:
        src = img.reshape(img.shape[0], w * c)
        dst = out.reshape(h, w * c)
        acc = np.empty(w * c)
        for i in range(h):
            acc[:] = 0.0
            for t in range(taps):
                wt = weight[i, t]
                if wt != 0.0:
                    line = src[index[i, t]]
                    for m in range(w * c):
                        acc[m] += wt * line[m]
            for m in range(w * c):
                dst[i, m] = acc[m]
        return
    for i in range(h):
        for j in range(w):
            for k in range(c):
                a = 0.0
                for t in range(taps):
                    a += weight[j, t] * img[i, index[j, t], k]
                out[i, j, k] = a
