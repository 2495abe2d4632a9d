"""The store encoding kernel (float32 [0, 1] -> uint8 / uint16, round half up); the rule and
its one caller are in degrade/_quantise.py."""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _store_encode_kernel(src, scale, out):
    """out[i] = floor(clip(src[i] * scale + 0.5, 0, scale)), one pass over flat arrays.

    ``src`` is float32, ``scale`` a float32 (255 or 65535), ``out`` uint8 or uint16 of the same
    size. The product and the sum are rounded to float32 one after the other (no fused
    multiply-add), exactly as numpy's ``src * scale + 0.5``; NaN maps to 0.
    """
    half = np.float32(0.5)
    zero = np.float32(0.0)
    for i in range(src.size):
        v = src[i] * scale + half
        v = v if v >= zero else zero        # NaN compares false: 0
        v = v if v <= scale else scale
        out[i] = np.int32(v)                # selects and an int32 cast: the loop vectorises
