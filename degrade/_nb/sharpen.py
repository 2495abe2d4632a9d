"""Per-pixel parts of unsharp masking (the two blurs run in OpenCV)."""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _usm_mask_kernel(img, blur, threshold, mask):
    """``mask = [|img - blur|·255 > threshold]`` as 0/1 float32 (float32 arithmetic, as torch)."""
    a, b, m = img.reshape(-1), blur.reshape(-1), mask.reshape(-1)
    t = np.float32(threshold)
    for i in range(a.size):
        m[i] = np.float32(1.0) if abs(a[i] - b[i]) * np.float32(255.0) > t else np.float32(0.0)


@numba.njit(cache=True, nogil=True)
def _usm_blend_kernel(img, blur, soft, amount, out):
    """``out = soft·clip(img + amount·(img - blur), 0, 1) + (1 - soft)·img`` (float64 inside)."""
    a, b, s, o = img.reshape(-1), blur.reshape(-1), soft.reshape(-1), out.reshape(-1)
    for i in range(a.size):
        x = np.float64(a[i])
        sharp = min(max(x + amount * (x - np.float64(b[i])), 0.0), 1.0)
        o[i] = s[i] * sharp + (1.0 - s[i]) * x
